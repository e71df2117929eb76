// "Go back" links (data-history-back) step back in the history when there is one to go to;
// otherwise they follow their href. A file, not a javascript: link: the CSP allows no inline script.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a[data-history-back]");
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

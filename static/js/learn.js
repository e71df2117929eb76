// The learning page without reloads: ticking a module's box sends it to the JSON API
// (PUT /api/enrollments/:id/modules/:module_id, the session cookie plus X-CSRFToken) and moves
// the bar in place. Without this file each module's form posts and the page comes back.
(function () {
  var root = document.querySelector("[data-learn]");
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (!root || !meta || !window.fetch || !window.Promise) return;
  root.classList.add("learn-js"); // hides the Save buttons: a tick saves itself

  var bar = root.querySelector("[data-learn-bar]");
  var fill = bar && bar.querySelector("span");
  var count = root.querySelector("[data-learn-count]");
  var allDone = root.querySelector("[data-learn-all-done]");

  function showProgress(p) {
    if (bar) {
      bar.setAttribute("aria-valuenow", p.done);
      bar.setAttribute("aria-valuemax", p.total);
    }
    if (fill) fill.style.width = p.percent + "%";
    if (count) count.textContent = p.done + " of " + p.total + " module" + (p.total === 1 ? "" : "s") + " done";
    if (allDone) allDone.hidden = !(p.total > 0 && p.done >= p.total);
  }

  function send(form, wanted) {
    return fetch(form.getAttribute("data-api"), {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": meta.content },
      body: JSON.stringify({ is_complete: wanted }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var message = body && body.error && body.error.message;
          throw new Error(message || "That did not save. Reload the page and try again.");
        }
        return body;
      });
    });
  }

  root.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches('input[type="checkbox"][name="complete"]')) return;
    var form = box.form;
    var item = box.closest(".module");
    var error = item && item.querySelector("[data-learn-error]");
    var wanted = box.checked;
    if (form.saved === undefined) form.saved = !wanted; // what the server had before this change
    form.pending = (form.pending || 0) + 1;
    // One request at a time per module, in order: the last tick is the one that stays.
    form.queue = (form.queue || Promise.resolve())
      .then(function () { return send(form, wanted); })
      .then(function (body) {
        form.saved = body.is_complete;
        if (error) error.hidden = true;
        showProgress(body.progress);
      })
      .catch(function (problem) {
        if (error) {
          error.textContent = problem.message || "That did not save.";
          error.hidden = false;
        }
      })
      .then(function () {
        form.pending -= 1;
        if (form.pending) return; // a later tick is on its way
        box.checked = form.saved;
        if (item) item.classList.toggle("done", form.saved);
      });
  });
})();

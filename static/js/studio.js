// The studio's course builder: move rows with ↑ ↓ in place, add rows, and say when there are unsaved changes.
// Without this script every button still works: ↑ ↓ save the section in the new order, the row marked New adds a row.
(function () {
  "use strict";
  var form = document.querySelector("form.studio-form");
  if (!form) return;
  document.documentElement.classList.add("js");
  var note = form.querySelector(".savebar-note");
  var dirty = false;

  function markDirty() {
    if (dirty || !note) return;
    dirty = true;
    note.textContent = note.getAttribute("data-unsaved-text") || "Unsaved changes";
    note.classList.add("unsaved");
  }

  function renumber(list) {
    form.querySelectorAll('.row-item[data-list="' + list + '"] .js-position').forEach(function (input, index) {
      input.value = String(index);
    });
  }

  form.addEventListener("input", markDirty);
  form.addEventListener("change", markDirty);

  form.addEventListener("click", function (event) {
    var move = event.target.closest(".js-move");
    if (move) {
      var row = move.closest(".row-item");
      var sibling = move.getAttribute("data-dir") === "up" ? row.previousElementSibling : row.nextElementSibling;
      event.preventDefault();
      if (!sibling || sibling.classList.contains("row-new")) return;
      if (move.getAttribute("data-dir") === "up") row.parentNode.insertBefore(row, sibling);
      else row.parentNode.insertBefore(sibling, row);
      renumber(row.getAttribute("data-list"));
      row.classList.remove("just-moved");
      void row.offsetWidth;
      row.classList.add("just-moved");
      move.focus();
      markDirty();
      return;
    }
    var add = event.target.closest(".js-add");
    if (add) {
      var list = add.getAttribute("data-list");
      var rows = form.querySelectorAll('.row-item.row-new[data-list="' + list + '"]');
      var template = rows[rows.length - 1];
      if (!template) return;
      var highest = -1;
      form.querySelectorAll('.row-item[data-list="' + list + '"] .js-position').forEach(function (input) {
        var match = input.name.match(/-(\d+)-position$/);
        if (match) highest = Math.max(highest, parseInt(match[1], 10));
      });
      var old = new RegExp("^" + list + "-\\d+-");
      var fresh = list + "-" + (highest + 1) + "-";
      var copy = template.cloneNode(true);
      copy.querySelectorAll("[name], [id], label[for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(old, fresh));
        });
        if (el.matches("input[type=text], input:not([type]), textarea")) el.value = "";
        if (el.matches(".invalid-feedback")) el.remove();
        el.classList.remove("is-invalid");
      });
      template.parentNode.insertBefore(copy, template.nextSibling);
      renumber(list);
      var first = copy.querySelector("input[type=text], input:not([type]), textarea");
      if (first) first.focus();
      return;
    }
  });

  form.querySelectorAll(".js-add").forEach(function (button) { button.hidden = false; });

  form.addEventListener("submit", function () { dirty = false; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = ""; }
  });
})();

// Default the new account's time zone to the browser's; the server checks it.
// Loaded with defer from templates/accounts/signup.html (the CSP allows no inline scripts).
(function () {
  "use strict";
  var field = document.getElementById("tz-field") || document.querySelector("form [name=timezone]");
  if (!field) return;
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;
  if (field.tagName === "SELECT") {
    // A picker: choose the browser's zone only if it is one of the choices, and only if the
    // person has not chosen yet (a form shown again after an error keeps their choice).
    var known = Array.prototype.some.call(field.options, function (option) {
      return option.value === zone;
    });
    if (known && (!field.value || field.value === "UTC")) field.value = zone;
  } else if (!field.value || field.value === "UTC") {
    field.value = zone;
  }
})();

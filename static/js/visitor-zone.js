// A visitor who is not logged in has no zone on file: show times in the browser's own zone.
// The day view reloads once with ?tz=<the browser's zone> (its days are cut in that zone);
// elsewhere each <… data-utc> time is rewritten in place. Without JavaScript times stay in UTC,
// and the page says so.
(function () {
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || zone === "UTC") return;
  var marker = document.querySelector("[data-visitor-zone]");
  if (!marker) return;
  if (marker.getAttribute("data-visitor-zone") === "reload") {
    var url = new URL(window.location.href);
    if (!url.searchParams.get("tz")) {
      url.searchParams.set("tz", zone);
      window.location.replace(url.toString());
    }
    return;
  }
  var formats = {
    "short": { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
               hourCycle: "h23", timeZone: zone, timeZoneName: "short" },
    "time": { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone }
  };
  document.querySelectorAll("[data-utc]").forEach(function (el) {
    var when = new Date(el.getAttribute("data-utc"));
    var format = formats[el.getAttribute("data-style") || "short"];
    if (!isNaN(when) && format) el.textContent = new Intl.DateTimeFormat("en-GB", format).format(when);
  });
  document.querySelectorAll("[data-zone-label]").forEach(function (el) { el.textContent = zone; });
})();

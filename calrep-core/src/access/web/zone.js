// calrep's web page works without JavaScript: the viewer picks a time zone
// in the form. With it, the browser's own zone is filled in the first time
// (the server then remembers it in a cookie). No other script runs.
(function () {
  "use strict";
  if (document.body.getAttribute("data-zone-chosen") === "1") {
    return;
  }
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) {
    return;
  }
  var url = new URL(window.location.href);
  url.searchParams.set("tz", zone);
  window.location.replace(url.toString());
})();

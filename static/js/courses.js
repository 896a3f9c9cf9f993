// Authoring pages: follow a lesson's media processing (排队中 → 处理中 → 已就绪 / 失败) and show
// a finished upload. Progressive enhancement: without it, reloading the page shows the same.
(function () {
  "use strict";

  var POLL_MS = 3000;

  function poll(tag) {
    var url = tag.getAttribute("data-asset-status");
    var timer = null;
    var check = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state) { return; }
          tag.textContent = state.label + (state.progress && !state.finished ? " " + state.progress + "%" : "");
          tag.className = "tag asset-" + state.status;
          if (state.finished) {
            window.clearInterval(timer);
            window.location.reload();  // the publish button and the duration follow the new state
          }
        })
        .catch(function () { /* offline for a moment: the next tick tries again */ });
    };
    timer = window.setInterval(check, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-asset-status]").forEach(function (tag) {
      if (/asset-(queued|processing|uploading)/.test(tag.className)) { poll(tag); }
    });
    // A finished upload links a new asset to the lesson: show it (and follow its processing).
    document.querySelectorAll(".upload-widget").forEach(function (widget) {
      widget.addEventListener("media:uploaded", function () { window.location.reload(); });
    });
  });
})();

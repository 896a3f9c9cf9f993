// Import progress: polls the batch's status about once a second and reloads the page when
// the check or the import has finished. Without this script the page asks to be refreshed.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-import-status]");
    if (!box || !window.fetch) { return; }
    var url = box.getAttribute("data-import-status");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var label = document.getElementById("import-status-label");
    var failures = 0;

    function show(data) {
      var done = data.progress_done || 0;
      var total = data.progress_total || 0;
      if (bar && total > 0) {
        bar.max = total;
        bar.value = Math.min(done, total);
        bar.textContent = done + " / " + total;
      }
      if (label && data.label) { label.textContent = data.label; }
      if (text) {
        var verb = data.status === "committing" ? "导入" : "检查";
        text.textContent = (total > 0 ? "已" + verb + " " + done + " / " + total + " 行，" : "正在" + verb + "，") +
          "完成后本页会自动更新。";
      }
    }

    // A page showing a generated password waits for the reader to note it down;
    // otherwise it moves on to the result (a GET, never a resubmitted form).
    function finish() {
      var detail = box.getAttribute("data-detail-url");
      if (!box.hasAttribute("data-hold")) { window.location.assign(detail); return; }
      if (bar) { bar.value = bar.max || 1; }
      if (text) {
        text.textContent = "已完成。记下上面的初始密码后，";
        var link = document.createElement("a");
        link.href = detail;
        link.textContent = "查看导入结果";
        text.appendChild(link);
      }
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          if (data.finished) { finish(); return; }
          show(data);
          window.setTimeout(poll, 1000);
        })
        .catch(function () {
          failures += 1;
          if (failures < 10) { window.setTimeout(poll, 3000); }
        });
    }

    if (text) { text.textContent = "正在处理，完成后本页会自动更新。"; }
    window.setTimeout(poll, 1000);
  });
})();

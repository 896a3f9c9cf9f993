// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("site-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    // Forms with data-confirm ask before they submit (deactivate, reset password ...).
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();

// admin pages
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // The grant form asks for a unit only when the role is 单位管理员.
    document.querySelectorAll(".grant-form").forEach(function (form) {
      var role = form.querySelector("select[name=role]");
      var unit = form.querySelector("[data-role-unit]");
      if (!role || !unit) { return; }
      var sync = function () { unit.hidden = role.value !== "unit_admin"; };
      role.addEventListener("change", sync);
      sync();
    });
    // A new unit's parent select offers only kinds allowed above the chosen kind.
    document.querySelectorAll("form[data-allowed-parents]").forEach(function (form) {
      var allowed = JSON.parse(form.getAttribute("data-allowed-parents"));
      var kind = form.querySelector("select[name=kind]");
      var parent = form.querySelector("select[name=parent_id]");
      if (!kind || !parent) { return; }
      var sync = function () {
        var ok = allowed[kind.value] || [];
        Array.prototype.forEach.call(parent.options, function (option) {
          var kindOf = option.getAttribute("data-kind");
          var off = kindOf !== null && ok.indexOf(kindOf) < 0;
          option.disabled = off;
          option.hidden = off;
          if (off && option.selected) { parent.value = ""; }
        });
      };
      kind.addEventListener("change", sync);
      sync();
    });
    // Filters start folded on phones and open on wider screens.
    if (window.matchMedia && window.matchMedia("(min-width: 720px)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (box) { box.open = true; });
    }
    // "复制" next to a password shown once.
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          button.textContent = "已复制";
        }, function () { button.textContent = "复制失败，请手动抄写"; });
      });
    });
  });
})();

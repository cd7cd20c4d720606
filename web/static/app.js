// Rapport — first-party progressive enhancement. Every page works without it.
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var toggle = t.closest("[data-toggle]");
    if (toggle) {
      var target = document.getElementById(toggle.getAttribute("data-toggle"));
      if (target) target.classList.toggle("open");
    }
    var edit = t.closest("[data-edit]");
    if (edit) {
      var row = document.getElementById(edit.getAttribute("data-edit"));
      if (row) {
        row.classList.add("editing");
        var input = row.querySelector("input:not([type=hidden]), select, textarea");
        if (input) input.focus();
      }
    }
  });
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    }
  });
  // Activity forms: show only the fields that apply to the chosen kind.
  function applyKind(form) {
    var select = form.querySelector("[data-activity-kind]");
    if (!select) return;
    var kind = select.value;
    form.querySelectorAll("[data-kinds]").forEach(function (el) {
      var kinds = el.getAttribute("data-kinds").split(" ");
      if (kinds.indexOf(kind) === -1) el.setAttribute("data-hidden-kind", "");
      else el.removeAttribute("data-hidden-kind");
    });
  }
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t instanceof Element && t.hasAttribute("data-activity-kind")) {
      var form = t.closest("[data-activity-form]");
      if (form) applyKind(form);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-activity-form]").forEach(applyKind);
    document.querySelectorAll("input[data-absolute]").forEach(function (i) {
      if (i.value.charAt(0) === "/") i.value = window.location.origin + i.value;
    });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") {
      document.querySelectorAll(".field-row.editing").forEach(function (r) { r.classList.remove("editing"); });
    }
  });
})();

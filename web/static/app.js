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
    if (t.closest("[data-print]")) window.print();
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
  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t instanceof HTMLSelectElement && t.hasAttribute("data-autosubmit") && t.form) t.form.submit();
  });
  // Kanban board: drag a card onto another stage. The drop fills in the card's own "move"
  // form and submits it, so a drag is exactly the same request as using the form.
  var dragged = null;
  document.addEventListener("dragstart", function (ev) {
    var card = ev.target instanceof Element ? ev.target.closest("[data-card]") : null;
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    if (ev.dataTransfer) {
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", card.getAttribute("data-card"));
    }
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  function columnOf(ev) {
    return ev.target instanceof Element ? ev.target.closest("[data-stage]") : null;
  }
  document.addEventListener("dragover", function (ev) {
    var col = columnOf(ev);
    if (!col || !dragged) return;
    ev.preventDefault();
    document.querySelectorAll(".drop-target").forEach(function (c) { if (c !== col) c.classList.remove("drop-target"); });
    col.classList.add("drop-target");
  });
  document.addEventListener("drop", function (ev) {
    var col = columnOf(ev);
    if (!col || !dragged) return;
    ev.preventDefault();
    var card = dragged;
    col.classList.remove("drop-target");
    if (card.closest("[data-stage]") === col) return;
    var form = card.querySelector("[data-move-form]");
    if (!form) return;
    form.querySelector("[data-stage-select]").value = col.getAttribute("data-stage");
    var reason = form.querySelector("[name=lost_reason]");
    if (col.getAttribute("data-kind") === "lost" && reason && !reason.value) {
      // A lost deal needs a reason: show the form with the stage chosen.
      col.querySelector("ol.cards").appendChild(card);
      card.querySelector("details.move").open = true;
      reason.required = true;
      reason.focus();
      return;
    }
    col.querySelector("ol.cards").appendChild(card);
    form.submit();
  });
  // Line items: "add a line" copies the last row, emptied.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-add-line]");
    if (!btn) return;
    var body = document.querySelector("[data-lines='" + btn.getAttribute("data-add-line") + "'] tbody");
    var last = body && body.querySelector("tr.line-row:last-child");
    if (!last) return;
    var row = last.cloneNode(true);
    row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
    row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
    row.querySelectorAll("td.num").forEach(function (c) { c.textContent = ""; });
    body.appendChild(row);
    var first = row.querySelector("select, input");
    if (first) first.focus();
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") {
      document.querySelectorAll(".field-row.editing").forEach(function (r) { r.classList.remove("editing"); });
    }
  });
  // Global search: suggestions grouped by record type while typing; arrows and Enter pick
  // one, Escape closes; Ctrl/Cmd+K goes to the search box from anywhere.
  (function () {
    var input = document.querySelector("input[data-suggest]");
    var box = document.getElementById("search-suggest");
    if (!input || !box) return;
    var timer = null, seq = 0, active = -1;
    function options() { return box.querySelectorAll("[role=option]"); }
    function close() {
      box.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function mark(i) {
      var opts = options();
      if (!opts.length) return;
      active = (i + opts.length) % opts.length;
      opts.forEach(function (o, j) { o.setAttribute("aria-selected", j === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", opts[active].id);
      opts[active].scrollIntoView({ block: "nearest" });
    }
    function show(data) {
      box.textContent = "";
      var n = 0;
      data.groups.forEach(function (g) {
        var head = document.createElement("div");
        head.className = "suggest-group";
        head.setAttribute("role", "presentation");
        head.textContent = g.title;
        box.appendChild(head);
        g.rows.forEach(function (r) {
          var a = document.createElement("a");
          a.href = r.href;
          a.id = "suggest-" + n++;
          a.setAttribute("role", "option");
          a.setAttribute("aria-selected", "false");
          a.textContent = r.label;
          if (r.sub) {
            var sub = document.createElement("span");
            sub.className = "muted small";
            sub.textContent = " " + r.sub;
            a.appendChild(sub);
          }
          box.appendChild(a);
        });
      });
      if (!n) {
        var none = document.createElement("div");
        none.className = "muted small suggest-none";
        none.textContent = box.getAttribute("data-empty") || "—";
        box.appendChild(none);
      }
      active = -1;
      box.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { close(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q), {
          credentials: "same-origin", headers: { accept: "application/json" },
        }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
          if (data && mine === seq && input.value.trim() === q) show(data);
        }).catch(function () {});
      }, 150);
    });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowDown" && !box.hidden) { ev.preventDefault(); mark(active + 1); }
      else if (ev.key === "ArrowUp" && !box.hidden) { ev.preventDefault(); mark(active - 1); }
      else if (ev.key === "Escape") { close(); }
      else if (ev.key === "Enter" && !box.hidden && active >= 0) {
        ev.preventDefault();
        window.location.href = options()[active].href;
      }
    });
    document.addEventListener("keydown", function (ev) {
      if ((ev.ctrlKey || ev.metaKey) && (ev.key === "k" || ev.key === "K")) {
        ev.preventDefault();
        input.focus();
        input.select();
      }
    });
    document.addEventListener("click", function (ev) {
      if (!(ev.target instanceof Element) || !ev.target.closest(".global-search")) close();
    });
  })();
})();

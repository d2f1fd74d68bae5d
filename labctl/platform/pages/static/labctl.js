// labctl pages: a little progressive enhancement; every page works without it.
"use strict";
(function () {
  // <form data-confirm="..."> asks before an irreversible action.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  // <select data-autosubmit> submits its form when changed (sorting, page size).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); }
  });
  // <section data-poll="/url" data-interval="2000">: replaces its content with the HTML the
  // URL answers, every interval, while the page is visible (live run progress).
  function poll(section) {
    var url = section.getAttribute("data-poll");
    var interval = parseInt(section.getAttribute("data-interval") || "2000", 10);
    function tick() {
      if (document.hidden) { window.setTimeout(tick, interval); return; }
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) { section.innerHTML = html; }
          if (!section.hasAttribute("data-final")) { window.setTimeout(tick, interval); }
        })
        .catch(function () { window.setTimeout(tick, interval * 2); });
    }
    window.setTimeout(tick, interval);
  }
  // <select data-shows-fieldset="params">: of the form's <fieldset class="params"
  // data-procedure="...">, only the chosen one is shown (without script, all are).
  function showChosen(select) {
    var kind = select.getAttribute("data-shows-fieldset");
    select.form.querySelectorAll("fieldset." + kind).forEach(function (set) {
      set.hidden = set.getAttribute("data-procedure") !== select.value;
    });
  }
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-shows-fieldset")) { showChosen(el); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("select[data-shows-fieldset]").forEach(showChosen);
  });
})();

/* tracer serve: marks an answer without leaving the page, and keeps the instructor's class table live.
   Without it every form still works (the page comes back with the verdicts). */
(function () {
  "use strict";
  function show(data) {
    (data.marks || []).forEach(function (m) {
      var verdict = document.getElementById("v" + m.question);
      if (!verdict) { return; }
      verdict.className = "verdict verdict-" + m.verdict;
      verdict.querySelector(".badge").textContent = m.badge;
      verdict.querySelector(".message").textContent = m.message;
    });
    var total = document.querySelector("#total .total-value");
    if (total && data.total !== undefined) { total.textContent = data.total; }
  }
  function say(form, text) {
    var question = form.querySelector("input[name=question]");
    var verdict = question && document.getElementById("v" + question.value);
    if (verdict) {
      verdict.className = "verdict verdict-invalid";
      verdict.querySelector(".badge").textContent = "";
      verdict.querySelector(".message").textContent = text;
    }
  }
  document.querySelectorAll("form.answer").forEach(function (form) {
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        if (result.ok) { show(result.data); } else { say(form, result.data.error || "not marked"); }
      }).catch(function () {
        say(form, "The server could not be reached; your answer was not marked. Try again.");
      }).then(function () { busy = false; });
    });
    form.querySelectorAll("input[type=radio]").forEach(function (radio) {
      radio.addEventListener("change", function () { form.requestSubmit(); });
    });
    form.querySelectorAll("input[type=text]").forEach(function (field) {
      field.addEventListener("change", function () { form.requestSubmit(); });
    });
  });
  document.querySelectorAll("form.exam").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var blank = 0;
      form.querySelectorAll("input[type=text]").forEach(function (field) { if (!field.value.trim()) { blank += 1; } });
      var radios = {};
      form.querySelectorAll("input[type=radio]").forEach(function (r) { radios[r.name] = radios[r.name] || r.checked; });
      Object.keys(radios).forEach(function (name) { if (!radios[name]) { blank += 1; } });
      var ask = "Submit your answers? An exam takes one submission." + (blank ? " " + blank + " question(s) have no answer." : "");
      if (!window.confirm(ask)) { event.preventDefault(); }
    });
  });
  var live = document.querySelector("[data-live]");
  if (live) {
    window.setInterval(function () {
      fetch(live.getAttribute("data-live"), { credentials: "same-origin" }).then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) { if (html !== null) { live.innerHTML = html; } }).catch(function () {});
    }, 5000);
  }
})();

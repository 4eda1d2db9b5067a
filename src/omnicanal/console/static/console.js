// omnicanal console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Ask before irreversible actions (no-show, reject): buttons carry data-confirm.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // A form submitted once cannot be sent twice by a double tap.
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    var form = event.target;
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
})();

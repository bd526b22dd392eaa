// Keyturn app: progressive enhancements. Every page works without this file, except
// what only a script can do (the browser as a phone key).
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Keyturn app: progressive enhancements. Every page works without this file, except
// what only a script can do (the browser as a phone key).
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// A "Copy" button copies its data-copy text and says so for a moment.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) {
    return;
  }
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    window.setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// Signing out: the offline copies of the person's pages and their cached keys go too.
document.addEventListener("submit", (event) => {
  if (!event.target.matches('form[action="/app/sign-out"]')) return;
  if ("caches" in window) caches.delete("keyturn-app-v1");
  if ("indexedDB" in window) indexedDB.deleteDatabase("keyturn-phone");
});

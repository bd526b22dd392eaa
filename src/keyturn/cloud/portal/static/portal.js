// Keyturn portal: small progressive enhancements. Every page works without this file.
"use strict";

// Ask before a destructive action: <form data-confirm="Revoke this key?">.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Copy a value to the clipboard: <button data-copy="text">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    button.textContent = "Copied";
  });
});

// Live regions: <div data-live-url="/portal/…" data-live-every="5">. The server answers a
// fragment, or 304 when nothing changed since the ETag it gave last time.
function pollLive(region) {
  const every = Math.max(Number(region.dataset.liveEvery || "5"), 2) * 1000;
  let etag = region.dataset.liveEtag || "";
  const tick = async () => {
    if (document.visibilityState === "visible") {
      try {
        const answer = await fetch(region.dataset.liveUrl, {
          headers: etag ? { "If-None-Match": etag } : {},
          credentials: "same-origin",
        });
        if (answer.status === 200) {
          etag = answer.headers.get("ETag") || "";
          region.innerHTML = await answer.text();
          region.dataset.liveUpdated = String(Date.now());
        }
        region.classList.toggle("offline", false);
      } catch (_error) {
        region.classList.toggle("offline", true);
      }
    }
    window.setTimeout(tick, every);
  };
  window.setTimeout(tick, every);
}
document.querySelectorAll("[data-live-url]").forEach(pollLive);

// Emailed links carry their one-time token after '#', which never reaches the server:
// copy it into the form's token field and hide the field a person would otherwise paste into.
document.querySelectorAll("form[data-token-from-fragment]").forEach((form) => {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  const field = form.querySelector("input[name=token]");
  if (token && field) {
    field.value = token;
    const row = field.closest(".field");
    if (row) row.hidden = true;
  }
});

// A page for an emailed link shows what fits: <section data-fragment-token="present"> only
// when the URL carries a token, "absent" only when it does not. Without JS both show.
{
  const hasToken = new URLSearchParams(window.location.hash.slice(1)).has("token");
  document.querySelectorAll("[data-fragment-token]").forEach((section) => {
    section.hidden = (section.dataset.fragmentToken === "present") !== hasToken;
  });
}

// The app's service worker (scope /app/): the app's pages and files come from the network
// when it answers and from this cache when it does not, so a resident's doors page opens,
// and its doors unlock with the cached mobile keys, while the service is unreachable.
// Only same-origin GETs under /app/ are touched; the API and the locks are never cached.
"use strict";

const CACHE = "keyturn-app-v1";
const SHELL = [
  "/app/static/app.css",
  "/app/static/app.js",
  "/app/static/cose.js",
  "/app/static/phone.js",
  "/app/static/icons/icon-192.png",
  "/app/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith("/app/") || url.pathname === "/app/sw.js") return;
  event.respondWith(networkFirst(request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // A redirect (to sign in) or an error is never kept in place of the page.
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw error;
  }
}


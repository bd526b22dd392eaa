// The browser as the resident's phone key (docs/near-field.md): a non-extractable Ed25519
// key pair made here and kept in IndexedDB, only its public key sent to the cloud; short
// mobile keys fetched and cached with their expiry, refreshed in the background; at a door,
// the lock's challenge signed here and answered with the cached key, online or not.
"use strict";

(() => {
  const root = document.querySelector("[data-phone]");
  if (!root) return;
  const { toBase64url, fromBase64url, signChallenge } = KeyturnCose;
  const propertyId = root.dataset.propertyId;
  const api = root.dataset.api;
  const zone = root.dataset.timeZone;
  const CHECK_EVERY_MS = 30_000;
  const LOCK_TIMEOUT_MS = 8_000;

  const $ = (name) => root.querySelector(`[data-part="${name}"]`);
  const state = { refreshing: false, offline: false, problem: null };

  // -- IndexedDB: "phones" holds this browser's key pair per property, "keys" the mobile keys.
  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("keyturn-phone", 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("phones");
        request.result.createObjectStore("keys");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function stored(store, mode, act) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const request = act(db.transaction(store, mode).objectStore(store));
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    } finally {
      db.close();
    }
  }
  const load = (store) => stored(store, "readonly", (s) => s.get(propertyId));
  const save = (store, value) => stored(store, "readwrite", (s) => s.put(value, propertyId));
  const forget = (store) => stored(store, "readwrite", (s) => s.delete(propertyId));

  // -- the cloud ------------------------------------------------------------------------
  function csrfToken() {
    const found = document.cookie.split("; ").find((c) => c.startsWith("keyturn_csrf="));
    return found ? decodeURIComponent(found.slice("keyturn_csrf=".length)) : "";
  }

  async function cloudPost(path, body) {
    const response = await fetch(api + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.detail || answer.title || `The service answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  async function enrol() {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    const phone = await cloudPost("/phones", { public_key: toBase64url(publicKey) });
    await save("phones", { registrationId: phone.id, keyPair: pair, publicKey });
    await refresh();
  }

  function earliestExpiry(cached) {
    const ends = (cached ? cached.keys : []).map((k) => Date.parse(k.expires));
    return ends.length ? Math.min(...ends) : null;
  }

  function latestExpiry(cached) {
    const ends = (cached ? cached.keys : []).map((k) => Date.parse(k.expires));
    return ends.length ? Math.max(...ends) : null;
  }

  // Fresh keys are fetched once the cached ones are past half their life.
  function due(cached) {
    if (!cached) return true;
    const end = earliestExpiry(cached);
    return end === null || Date.now() >= cached.fetchedAt + (end - cached.fetchedAt) / 2;
  }

  async function refresh() {
    const phone = await load("phones");
    if (!phone || state.refreshing) return;
    state.refreshing = true;
    await render();
    try {
      const answer = await cloudPost(`/phones/${phone.registrationId}/mobile-keys`);
      await save("keys", { fetchedAt: Date.now(), keys: answer.keys, doors: answer.doors });
      state.offline = false;
      state.problem = null;
    } catch (error) {
      if (error.status === undefined) {
        state.offline = true;
      } else if (error.status === 404) {
        // This browser's phone is not the signed-in person's: it enrols again.
        await forget("phones");
        await forget("keys");
      } else {
        state.problem = error.message;
      }
    } finally {
      state.refreshing = false;
    }
    await render();
  }

  // Whether the service answers: keys are fetched only when due, so this says "offline".
  async function probe() {
    try {
      const response = await fetch("/api/v1/health", { cache: "no-store" });
      state.offline = !response.ok;
    } catch (error) {
      state.offline = true;
    }
  }

  async function refreshIfDue() {
    await probe();
    if (!state.offline && due(await load("keys"))) await refresh();
    else await render();
  }

  // -- at the door ------------------------------------------------------------------------
  async function lockPost(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "omit",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(LOCK_TIMEOUT_MS),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `The lock answered ${response.status}.`);
    return answer;
  }

  async function unlock(door, outcome, button) {
    button.disabled = true;
    outcome.className = "outcome";
    outcome.textContent = `Asking ${door.name}…`;
    try {
      const [phone, cached] = [await load("phones"), await load("keys")];
      const now = Date.now();
      const key = (cached ? cached.keys : []).find(
        (k) => k.door_ids.includes(door.id) && Date.parse(k.not_before) <= now && now < Date.parse(k.expires),
      );
      if (!phone || !key) {
        show(outcome, false, "This browser holds no valid key for this door. Connect to fetch fresh keys.");
        return;
      }
      const asked = await lockPost(`${door.near_field_url}/challenge`, {});
      const signature = await signChallenge(
        phone.keyPair.privateKey, phone.publicKey, fromBase64url(asked.challenge), door.id,
      );
      const answer = await lockPost(`${door.near_field_url}/unlock`, {
        token: key.token,
        signature: toBase64url(signature),
      });
      show(outcome, answer.granted, answer.granted ? `${door.name} is unlocked.` : `Refused: ${answer.message}`);
    } catch (error) {
      const words = error.name === "TypeError" || error.name === "TimeoutError"
        ? "The lock did not answer. Stand close to the door and try again."
        : error.message;
      show(outcome, false, words);
    } finally {
      button.disabled = false;
    }
  }

  function show(outcome, granted, words) {
    outcome.className = granted ? "outcome granted" : "outcome refused";
    outcome.textContent = words;
  }

  // -- the page ---------------------------------------------------------------------------
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit",
  });
  const when = (ms) => timeFormat.format(new Date(ms));

  function keyState(cached) {
    if (state.refreshing) return ["refreshing", "Refreshing your keys…"];
    const until = latestExpiry(cached);
    if (until === null || until <= Date.now()) {
      return ["expired", "No valid key on this browser. Connect to the internet to fetch fresh keys."];
    }
    if (state.offline) return ["offline", `Offline, but your keys stay valid until ${when(until)}.`];
    return ["fresh", `Keys fresh, valid until ${when(until)}.`];
  }

  async function render() {
    const [phone, cached] = [await load("phones"), await load("keys")];
    $("enrol").hidden = Boolean(phone);
    $("enrolled").hidden = !phone;
    if (!phone) return;
    const [name, words] = keyState(cached);
    const status = $("status");
    status.dataset.state = name;
    status.textContent = words;
    const problem = $("problem");
    problem.hidden = !state.problem;
    problem.textContent = state.problem || "";
    drawDoors(cached ? cached.doors : []);
  }

  function drawDoors(doors) {
    const list = $("doors");
    const shown = JSON.stringify(doors.map((d) => [d.id, d.name, d.near_field_url]));
    if (list.dataset.shown === shown) return; // keep the outcomes on screen
    list.dataset.shown = shown;
    list.replaceChildren();
    $("no-doors").hidden = doors.length > 0;
    for (const door of doors) {
      const item = document.createElement("li");
      item.className = "door";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "unlock";
      button.textContent = `Unlock ${door.name}`;
      const outcome = document.createElement("p");
      outcome.className = "outcome";
      outcome.setAttribute("role", "status");
      if (door.near_field_url) {
        button.addEventListener("click", () => unlock(door, outcome, button));
      } else {
        button.disabled = true;
        outcome.textContent = "This door's lock has not reported how to reach it yet.";
      }
      item.append(button, outcome);
      list.append(item);
    }
  }

  // No button while the building waits for the person's consent (the page says where to give it).
  $("enrol-button")?.addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const problem = $("enrol-problem");
    problem.hidden = true;
    try {
      await enrol();
    } catch (error) {
      problem.hidden = false;
      problem.textContent = error.name === "NotSupportedError"
        ? "This browser cannot make an Ed25519 key; use a recent browser."
        : error.message;
    } finally {
      button.disabled = false;
    }
  });

  // Keep this page and the app's files for when the network is gone (see /app/sw.js).
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
    if (navigator.onLine) {
      caches.open("keyturn-app-v1").then((cache) => cache.add(location.pathname)).catch(() => {});
    }
  }
  window.addEventListener("online", () => refresh());
  setInterval(refreshIfDue, CHECK_EVERY_MS);
  render().then(refreshIfDue);
})();

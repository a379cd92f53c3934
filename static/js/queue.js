// Cupmark's offline upload queue: a check-in sent without a network waits in IndexedDB and
// uploads by itself, exactly once (its Idempotency-Key makes a repeat harmless on the server).
//
// Loaded by every page (the queue is visible everywhere) and by the service worker, which
// replays it on Background Sync; pages replay it on `online` and on load where there is none.
// - a 2xx answer: the item is gone, the client sees "uploaded".
// - a 4xx refusal (bad photo, no consent any more, over quota, ...): the item is dropped and
//   the server's message is kept as a notice until the client has seen and dismissed it.
//   A refused photo is never retried.
// - a 5xx answer: retried with growing pauses, at most MAX_SERVER_ERRORS times; then it stops
//   and the client chooses "Try again" or "Discard".
// - no network: nothing is counted, it waits for the next chance.
// - logging out clears the queue: photos of one person never wait for the next one.
"use strict";

(function (global) {
  const DB_NAME = "cupmark-queue";
  const SYNC_TAG = "cupmark-upload";
  const LOCK_NAME = "cupmark-upload-queue";
  const MAX_SERVER_ERRORS = 5;
  const FIRST_PAUSE_MS = 15 * 1000;
  const LONGEST_PAUSE_MS = 10 * 60 * 1000;
  const CLEAR_WAIT_MS = 3000;
  const channel = "BroadcastChannel" in global ? new BroadcastChannel(DB_NAME) : null;

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("uploads", { keyPath: "key" });
        request.result.createObjectStore("notices", { keyPath: "id", autoIncrement: true });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function inStore(storeName, mode, work) {
    // one short transaction per call: a queue of a few photos needs no more
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(storeName, mode);
      const request = work(transaction.objectStore(storeName));
      transaction.oncomplete = () => { db.close(); resolve(request.result); };
      transaction.onerror = () => { db.close(); reject(transaction.error); };
      transaction.onabort = () => { db.close(); reject(transaction.error); };
    });
  }

  const all = (storeName) => inStore(storeName, "readonly", (store) => store.getAll());
  const save = (storeName, value) => inStore(storeName, "readwrite", (store) => store.put(value));
  const remove = (storeName, key) => inStore(storeName, "readwrite", (store) => store.delete(key));

  function announce() {
    // other tabs and the service worker hear it on the channel, this page through the event
    if (channel) channel.postMessage("changed");
    if (global.document) global.document.dispatchEvent(new CustomEvent("cupmark:queue"));
  }

  async function clearStores() {
    await inStore("uploads", "readwrite", (store) => store.clear());
    await inStore("notices", "readwrite", (store) => store.clear());
  }

  async function clear() {
    // at once, then again once a replay that is under way has finished (waiting a few
    // seconds at most): its answer must not leave a notice behind for the next person
    await clearStores();
    const locks = global.navigator && global.navigator.locks;
    if (locks) {
      const pause = new Promise((resolve) => setTimeout(resolve, CLEAR_WAIT_MS));
      await Promise.race([locks.request(LOCK_NAME, clearStores), pause]);
    }
    announce();
  }

  function itemFrom(url, formData, key) {
    // the stale CSRF token stays behind: a fresh one is fetched right before sending
    const fields = [];
    let photo = null;
    for (const [name, value] of formData.entries()) {
      if (name === "csrf_token") continue;
      if (typeof value === "string") fields.push([name, value]);
      else if (value.size > 0) photo = { field: name, blob: value, filename: value.name || "photo.jpg" };
    }
    return { key, url, fields, photo, createdAt: Date.now(), serverErrors: 0, nextAt: 0, state: "waiting" };
  }

  async function requestSync() {
    // Background Sync where the browser has it; elsewhere `online` and page loads replay
    if (!global.navigator.serviceWorker) return;
    try {
      const registration = await global.navigator.serviceWorker.getRegistration();
      if (registration && registration.sync) await registration.sync.register(SYNC_TAG);
    } catch (error) {
      // sync refused (e.g. not installed yet): the page-side triggers remain
    }
  }

  async function enqueue(item) {
    await save("uploads", item);
    announce();
    await requestSync();
  }

  async function freshToken() {
    const response = await fetch("/csrf-token", {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
    });
    if (response.status === 401) return null;
    if (!response.ok) return { serverError: response.status };
    return (await response.json()).csrf_token;
  }

  async function send(item) {
    // throws a TypeError when there is no network: the caller keeps the item
    const token = await freshToken();
    if (token === null) return { signedOut: true };
    if (typeof token !== "string") return { status: token.serverError, data: {} };
    const body = new FormData();
    for (const [name, value] of item.fields) body.append(name, value);
    if (item.photo) body.append(item.photo.field, item.photo.blob, item.photo.filename);
    const response = await fetch(item.url, {
      method: "POST", body, credentials: "same-origin", cache: "no-store", redirect: "manual",
      headers: { Accept: "application/json", "Idempotency-Key": item.key, "X-CSRFToken": token },
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    // a redirect instead of an answer means the server sent us elsewhere (e.g. to consent)
    return { status: response.type === "opaqueredirect" ? 409 : response.status, data };
  }

  function pauseAfter(serverErrors) {
    const pause = Math.min(FIRST_PAUSE_MS * 2 ** (serverErrors - 1), LONGEST_PAUSE_MS);
    return pause * (0.75 + Math.random() / 2);
  }

  function isRefusal(status) {
    // 401 and 408 are about the session or the wire, not the photo: those wait
    return status >= 400 && status < 500 && status !== 401 && status !== 408;
  }

  async function settle(item, result) {
    // record what one answer means for the item; returns "done", "kept" or "stop"
    if (result.signedOut || result.status === 401) return "stop";
    const stillQueued = await inStore("uploads", "readonly", (store) => store.count(item.key));
    // cleared meanwhile (a logout): nothing about it may be written back
    if (!stillQueued) return "done";
    if (result.status >= 200 && result.status < 300) {
      await remove("uploads", item.key);
      await save("notices", { kind: "uploaded", url: result.data.url || null, at: Date.now() });
      return "done";
    }
    // a rate limit is about the pace, not the photo: it is sent again after a pause
    if (isRefusal(result.status) && result.data.error !== "rate_limited") {
      await remove("uploads", item.key);
      await save("notices", { kind: "refused", message: result.data.message || null, at: Date.now() });
      return "done";
    }
    item.serverErrors += 1;
    if (item.serverErrors >= MAX_SERVER_ERRORS) item.state = "failed";
    else item.nextAt = Date.now() + pauseAfter(item.serverErrors);
    await save("uploads", item);
    return "kept";
  }

  async function replayUnlocked() {
    const summary = { uploaded: 0, offline: false, signedOut: false, waiting: 0 };
    const items = (await all("uploads")).sort((a, b) => a.createdAt - b.createdAt);
    for (const item of items) {
      if (item.state !== "waiting" || item.nextAt > Date.now()) continue;
      let result;
      try {
        result = await send(item);
      } catch (error) {
        summary.offline = true;
        break;
      }
      const outcome = await settle(item, result);
      if (outcome === "stop") { summary.signedOut = true; break; }
      if (outcome === "done" && result.status < 300) summary.uploaded += 1;
    }
    summary.waiting = (await all("uploads")).length;
    announce();
    return summary;
  }

  function replay() {
    // one replay at a time across tabs and the worker; a busy lock means one is running
    const locks = global.navigator && global.navigator.locks;
    if (!locks) return replayUnlocked();
    return locks.request(LOCK_NAME, { ifAvailable: true },
      (lock) => (lock ? replayUnlocked() : { busy: true }));
  }

  async function retry(key) {
    const items = await all("uploads");
    const item = items.find((candidate) => candidate.key === key);
    if (!item) return;
    Object.assign(item, { state: "waiting", serverErrors: 0, nextAt: 0 });
    await save("uploads", item);
    await replay();
  }

  global.CupmarkQueue = {
    SYNC_TAG, all, clear, enqueue, itemFrom, replay, retry, send,
    save: (item) => save("uploads", item),
    discard: async (key) => { await remove("uploads", key); announce(); },
    dismiss: async (id) => { await remove("notices", id); announce(); },
    channel,
  };
}(self));

// ---- the page side: the visible queue, the check-in form, logout ----
if (self.document) {
  (function () {
    const Q = self.CupmarkQueue;
    let timer = null;

    function strings() {
      // translated texts come from the server-rendered queue region (templates/pages/_queue.html)
      const region = document.getElementById("upload-queue");
      return region ? region.dataset : {};
    }

    function button(label, action) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary outline";
      b.textContent = label;
      b.addEventListener("click", action);
      return b;
    }

    function line(text, role) {
      const p = document.createElement("p");
      if (role) p.setAttribute("role", role);
      p.textContent = text;
      return p;
    }

    async function render() {
      const region = document.getElementById("upload-queue");
      if (!region) return;
      const t = strings();
      const [uploads, notices] = await Promise.all([Q.all("uploads"), Q.all("notices")]);
      const waiting = uploads.filter((item) => item.state === "waiting");
      const failed = uploads.filter((item) => item.state === "failed");
      if (!waiting.length) {
        // "saved on this phone" is over once nothing waits: the banner says what became of it
        document.querySelectorAll("[data-queue-status]").forEach((status) => {
          if (status.textContent === t.queued) status.textContent = "";
        });
      }
      const parts = [];
      if (waiting.length) {
        const text = waiting.length === 1 ? t.waitingOne : t.waitingMany.replace("{n}", waiting.length);
        const p = line(text);
        p.className = "queue-waiting";
        parts.push(p);
      }
      for (const item of failed) {
        const div = document.createElement("div");
        div.className = "queue-failed";
        div.append(line(t.failed, "alert"),
          button(t.retry, () => Q.retry(item.key)), button(t.discard, () => Q.discard(item.key)));
        parts.push(div);
      }
      for (const notice of notices) {
        const div = document.createElement("div");
        div.className = "queue-notice queue-" + notice.kind;
        if (notice.kind === "refused") {
          div.append(line(t.refused + (notice.message ? " " + notice.message : ""), "alert"));
        } else {
          const p = line(t.uploaded + " ");
          if (notice.url) {
            const a = document.createElement("a");
            a.href = notice.url;
            a.textContent = t.see;
            p.append(a);
          }
          div.append(p);
        }
        div.append(button(t.dismiss, () => Q.dismiss(notice.id)));
        parts.push(div);
      }
      region.replaceChildren(...parts);
      region.hidden = parts.length === 0;
      schedule(uploads);
    }

    function schedule(uploads) {
      // a page left open retries a server error once its pause is over
      clearTimeout(timer);
      const next = uploads.filter((item) => item.state === "waiting" && item.nextAt > Date.now())
        .map((item) => item.nextAt);
      if (next.length) timer = setTimeout(Q.replay, Math.min(...next) - Date.now() + 100);
    }

    function status(form, text, role) {
      const target = form.querySelector("[data-queue-status]");
      if (!target) return;
      target.setAttribute("role", role || "status");
      target.textContent = text;
    }

    function navigate(url) {
      // a boosted link: htmx swaps the timeline in and pushes its URL, with no full reload
      if (!self.htmx) { location.assign(url); return; }
      const link = document.createElement("a");
      link.href = url;
      link.hidden = true;
      document.body.appendChild(link);
      htmx.process(link);
      link.click();
    }

    async function submitCheckin(form) {
      const t = strings();
      const submit = form.querySelector("[type=submit]");
      if (submit) submit.setAttribute("aria-busy", "true");
      try {
        if (self.CupmarkCapture) await self.CupmarkCapture.settled(form);
        const data = new FormData(form);
        const key = data.get("idempotency_key") || crypto.randomUUID();
        data.set("idempotency_key", key);
        const item = Q.itemFrom(form.action, data, key);
        let result = null;
        if (navigator.onLine) {
          try { result = await Q.send(item); } catch (error) { result = null; }
        }
        if (result && result.signedOut) {
          // the session is over: the server's own answer (the login page) says what to do
          HTMLFormElement.prototype.submit.call(form);
        } else if (result && result.status >= 200 && result.status < 300) {
          navigate(result.data.url || location.href);
        } else if (result && result.status < 500) {
          // the form stays as it is, with the server's words and those of each field
          const fields = Object.values(result.data.fields || {}).flat();
          status(form, [result.data.message || t.notAccepted, ...fields].join(" "), "alert");
        } else {
          // no network, or the server failed: keep it and say so
          await Q.enqueue(item);
          form.reset();
          if (self.CupmarkCapture) self.CupmarkCapture.reset(form);
          status(form, t.queued);
        }
      } finally {
        if (submit) submit.removeAttribute("aria-busy");
      }
    }

    async function logout(form) {
      // the queue holds health photos: they must not wait on this device for someone else
      try { await Q.clear(); } catch (error) { /* nothing stored, nothing to clear */ }
      HTMLFormElement.prototype.submit.call(form);
    }

    // capture phase on window: runs before htmx's boosted-form handler, which never sees these
    window.addEventListener("submit", (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      const isCheckin = form.matches("[data-offline-queue]");
      const isLogout = new URL(form.action, location.href).pathname === "/auth/logout";
      if (!isCheckin && !isLogout) return;
      event.preventDefault();
      event.stopPropagation();
      if (isCheckin) submitCheckin(form);
      else logout(form);
    }, true);

    document.addEventListener("cupmark:queue", render);
    if (Q.channel) Q.channel.addEventListener("message", render);
    document.addEventListener("htmx:load", (event) => {
      if (event.detail.elt.querySelector && event.detail.elt.querySelector("#upload-queue")) render();
    });
    window.addEventListener("online", () => Q.replay());
    // a boosted link tapped offline would do nothing: load it as a whole page instead, which
    // the service worker answers with the offline page
    document.addEventListener("htmx:sendError", (event) => {
      const detail = event.detail;
      if (detail.boosted && detail.requestConfig.verb === "get") {
        location.assign(detail.pathInfo.finalRequestPath);
      }
    });
    document.addEventListener("DOMContentLoaded", () => {
      render();
      if (navigator.onLine) Q.replay();
    });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
        // without a worker the app still works online; the queue still replays from pages
      });
    }
  }());
}

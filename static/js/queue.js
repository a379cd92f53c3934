// Cupmark's offline upload queue: a check-in is kept in IndexedDB on the phone BEFORE it is
// sent, and uploads by itself, exactly once (its Idempotency-Key makes a repeat harmless on the
// server), so no weak signal, closed app or second account loses a photo.
//
// Loaded by every page (the queue is visible everywhere) and by the service worker, which
// replays it on Background Sync; pages replay it on `online` and on load.
// - every send gives up after SEND_TIMEOUT_MS (a "lie-fi" signal never answers): the photo
//   stays queued and the client reads "Saved on this phone — it will upload by itself".
// - where the browser refuses to store a Blob (Safari has), the photo is kept as an
//   ArrayBuffer; where nothing can be stored, the page says so and keeps the form filled.
// - each item records its owner (the signed-in person's id, which the page shows in
//   #upload-queue[data-owner] and /csrf-token repeats): it is replayed only while that person
//   is signed in, and kept, untouched and unseen, while someone else is.
// - a 2xx answer: the item is gone, the client sees "uploaded".
// - a 4xx refusal (bad photo, no consent any more, over quota, ...): the item is dropped and
//   the server's message is kept as a notice until the client has seen and dismissed it.
//   A refused photo is never retried.
// - a 5xx answer: retried with growing pauses, at most MAX_SERVER_ERRORS times; then it stops
//   and the client chooses "Try again" or "Discard".
// - no network or no answer in time: nothing is counted, it waits for the next chance.
"use strict";

(function (global) {
  const DB_NAME = "cupmark-queue";
  const SYNC_TAG = "cupmark-upload";
  const LOCK_NAME = "cupmark-upload-queue";
  const MAX_SERVER_ERRORS = 5;
  const FIRST_PAUSE_MS = 15 * 1000;
  const LONGEST_PAUSE_MS = 10 * 60 * 1000;
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
      let request;
      try {
        request = work(transaction.objectStore(storeName));
      } catch (error) {
        // put() throws at once for a value it cannot clone (a Blob, in Safari's private modes)
        transaction.abort();
        db.close();
        reject(error);
        return;
      }
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

  function itemFrom(url, formData, key, owner) {
    // the stale CSRF token stays behind: a fresh one is fetched right before sending
    const fields = [];
    let photo = null;
    for (const [name, value] of formData.entries()) {
      if (name === "csrf_token") continue;
      if (typeof value === "string") fields.push([name, value]);
      else if (value.size > 0) photo = { field: name, blob: value, filename: value.name || "photo.jpg" };
    }
    return { key, url, owner, fields, photo, createdAt: Date.now(), serverErrors: 0, nextAt: 0,
      state: "waiting" };
  }

  async function keep(item) {
    // stores the item, its photo as a Blob or, where the browser refuses Blobs in IndexedDB,
    // as an ArrayBuffer; throws when neither can be stored
    try {
      await save("uploads", item);
    } catch (error) {
      if (!item.photo || !item.photo.blob) throw error;
      const { field, blob, filename } = item.photo;
      item.photo = { field, filename, type: blob.type, buffer: await blob.arrayBuffer() };
      await save("uploads", item);
    }
    announce();
  }

  function photoBlob(photo) {
    return photo.blob || new Blob([photo.buffer], { type: photo.type });
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

  async function whoIsSignedIn(signal) {
    // {token, user} of the signed-in person, null when nobody is, {serverError} on a 5xx
    const response = await fetch("/csrf-token", {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" }, signal,
    });
    if (response.status === 401) return null;
    if (!response.ok) return { serverError: response.status };
    const data = await response.json();
    return { token: data.csrf_token, user: String(data.user) };
  }

  async function post(item, token, signal) {
    const body = new FormData();
    for (const [name, value] of item.fields) body.append(name, value);
    if (item.photo) body.append(item.photo.field, photoBlob(item.photo), item.photo.filename);
    // the phone's clock as it sends, not as it queued: the server corrects the photo's time
    // (stamped by this clock) by how far this clock is off now
    if (body.has("phone_now")) body.set("phone_now", String(Date.now()));
    const response = await fetch(item.url, {
      method: "POST", body, credentials: "same-origin", cache: "no-store", redirect: "manual", signal,
      headers: { Accept: "application/json", "Idempotency-Key": item.key, "X-CSRFToken": token },
    });
    let data = {};
    try { data = await response.json(); } catch (error) { data = {}; }
    // a redirect instead of an answer means the server sent us elsewhere (e.g. to consent)
    return { status: response.type === "opaqueredirect" ? 409 : response.status, data };
  }

  async function send(item) {
    // throws when there is no network or no answer within SEND_TIMEOUT_MS: the caller keeps
    // the item. {signedOut} when nobody is signed in, {otherOwner} when someone else is.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), api.sendTimeoutMs);
    try {
      const session = await whoIsSignedIn(controller.signal);
      if (session === null) return { signedOut: true };
      if (session.serverError) return { status: session.serverError, data: {} };
      if (item.owner && item.owner !== session.user) return { otherOwner: true };
      return await post(item, session.token, controller.signal);
    } finally {
      clearTimeout(timer);
    }
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
    // record what one answer means for the item; returns "done", "kept", "skip" or "stop"
    if (result.signedOut || result.status === 401) return "stop";
    if (result.otherOwner) return "skip";
    const stillQueued = await inStore("uploads", "readonly", (store) => store.count(item.key));
    // discarded meanwhile (another tab): nothing about it may be written back
    if (!stillQueued) return "done";
    const notice = { owner: item.owner, at: Date.now() };
    if (result.status >= 200 && result.status < 300) {
      await remove("uploads", item.key);
      await save("notices", { ...notice, kind: "uploaded", url: result.data.url || null });
      return "done";
    }
    // a rate limit is about the pace, not the photo: it is sent again after a pause
    if (isRefusal(result.status) && result.data.error !== "rate_limited") {
      await remove("uploads", item.key);
      await save("notices", { ...notice, kind: "refused", message: result.data.message || null });
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

  function exclusively(work, ifAvailable) {
    // one sender at a time across tabs and the worker (Web Locks where the browser has them)
    const locks = global.navigator && global.navigator.locks;
    if (!locks) return work();
    if (!ifAvailable) return locks.request(LOCK_NAME, work);
    return locks.request(LOCK_NAME, { ifAvailable: true }, (lock) => (lock ? work() : { busy: true }));
  }

  // a busy lock means a replay (or a check-in being sent) is running: it needs no second one
  const replay = () => exclusively(replayUnlocked, true);

  async function retry(key) {
    const items = await all("uploads");
    const item = items.find((candidate) => candidate.key === key);
    if (!item) return;
    Object.assign(item, { state: "waiting", serverErrors: 0, nextAt: 0 });
    await save("uploads", item);
    await replay();
  }

  const api = {
    SYNC_TAG, all, exclusively, itemFrom, keep, replay, requestSync, retry, send, settle,
    // about 20 s: long enough for a photo on one bar of signal, short enough to tell the truth
    sendTimeoutMs: 20 * 1000,
    save: (item) => save("uploads", item),
    discard: async (key) => { await remove("uploads", key); announce(); },
    dismiss: async (id) => { await remove("notices", id); announce(); },
    channel,
  };
  global.CupmarkQueue = api;
}(self));

// ---- the page side: the visible queue and the check-in form ----
if (self.document) {
  (function () {
    const Q = self.CupmarkQueue;
    // after a send that got no answer, the page tries once more on its own (besides sync)
    const RETRY_AFTER_TIMEOUT_MS = 60 * 1000;
    let timer = null;
    let shownOwner = null;

    function region() {
      return document.getElementById("upload-queue");
    }

    function strings() {
      // translated texts come from the server-rendered queue region (templates/pages/_queue.html)
      const element = region();
      return element ? element.dataset : {};
    }

    function mine(items) {
      // only the signed-in person's items are shown; the offline page, which is the same for
      // everyone and names no owner, shows how many wait in all
      const owner = strings().owner;
      return owner === undefined ? items : items.filter((item) => item.owner === owner);
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
      const element = region();
      if (!element) return;
      const t = strings();
      const [everyone, allNotices] = await Promise.all([Q.all("uploads"), Q.all("notices")]);
      const uploads = mine(everyone);
      const notices = mine(allNotices);
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
      element.replaceChildren(...parts);
      element.hidden = parts.length === 0;
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
      // the send button is far below it on a phone: bring the words to where the client looks
      target.scrollIntoView({ block: "center", behavior: "smooth" });
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

    async function sendKept(form, item, kept) {
      // runs holding the queue's lock: no replay sends the item while the page does (one that
      // got in first, between keeping and sending, is harmless: the key makes it one check-in)
      const t = strings();
      let result = null;
      if (navigator.onLine) {
        try { result = await Q.send(item); } catch (error) { result = null; }
      }
      if (result && result.signedOut) {
        // the session is over: the server's own answer (the login page) says what to do; a
        // kept photo uploads once its owner signs in again
        HTMLFormElement.prototype.submit.call(form);
      } else if (result && result.status >= 200 && result.status < 300) {
        if (kept) await Q.discard(item.key);
        navigate(result.data.url || location.href);
      } else if (result && result.status < 500) {
        // the form stays as it is, with the server's words and those of each field
        if (kept) await Q.discard(item.key);
        const fields = Object.values(result.data.fields || {}).flat();
        status(form, [result.data.message || t.notAccepted, ...fields].join(" "), "alert");
      } else if (!kept) {
        // neither sent nor stored: the form keeps everything, and the client knows
        status(form, t.notKept, "alert");
      } else {
        // no network, no answer in time, or the server failed: it is on the phone
        if (result) await Q.settle(item, result);
        form.reset();
        if (self.CupmarkCapture) self.CupmarkCapture.reset(form);
        status(form, t.queued);
        return true;
      }
      return false;
    }

    async function submitCheckin(form) {
      const submit = form.querySelector("[type=submit]");
      if (submit) submit.setAttribute("aria-busy", "true");
      try {
        if (self.CupmarkCapture) await self.CupmarkCapture.settled(form);
        const data = new FormData(form);
        const key = data.get("idempotency_key") || crypto.randomUUID();
        data.set("idempotency_key", key);
        const item = Q.itemFrom(form.action, data, key, strings().owner);
        // on the phone first, before waiting for anything: closing the app now loses nothing
        let kept = true;
        try { await Q.keep(item); } catch (error) { kept = false; }
        const queued = await Q.exclusively(() => sendKept(form, item, kept), false);
        if (queued) {
          await Q.requestSync();
          setTimeout(Q.replay, RETRY_AFTER_TIMEOUT_MS);
        }
      } finally {
        if (submit) submit.removeAttribute("aria-busy");
      }
    }

    function showQueue() {
      // a new person signed in (a boosted login swaps the page in): their photos may go now
      render();
      const owner = strings().owner;
      if (owner && owner !== shownOwner && navigator.onLine) Q.replay();
      shownOwner = owner;
    }

    // capture phase on window: runs before htmx's boosted-form handler, which never sees it
    window.addEventListener("submit", (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.matches("[data-offline-queue]")) return;
      event.preventDefault();
      event.stopPropagation();
      submitCheckin(form);
    }, true);

    document.addEventListener("cupmark:queue", render);
    if (Q.channel) Q.channel.addEventListener("message", render);
    document.addEventListener("htmx:load", (event) => {
      if (event.detail.elt.querySelector && event.detail.elt.querySelector("#upload-queue")) showQueue();
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
    document.addEventListener("DOMContentLoaded", showQueue);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
        // without a worker the app still works online; the queue still replays from pages
      });
    }
  }());
}

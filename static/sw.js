// Cupmark's service worker, served at /sw.js (scope "/") by webapp/views/pages.py, which puts
// `const CUPMARK = {version, shell, queue}` above this file (the URLs are the static files'
// hashed names once `make` built them: webapp/views/delivery.py).
//
// What it caches, and why (see also webapp/services/pwa.py and README "Offline and install"):
// - the app shell only: CSS, JS, htmx, icons, the manifest and the offline page, listed by the
//   server. They hold nothing personal, so they may sit in shared Cache Storage, and they let
//   the app open and say "you are offline" without a network.
// - never a page, a photo (/photos/...) or a JSON answer: pages show a person's health data, so
//   they are always fetched from the network (the offline page is the fallback), and every
//   request outside the shell passes through untouched.
// - the cache name carries the shell's hash: a deploy makes a new cache, and activate deletes
//   every older Cupmark cache.
// It also replays the offline upload queue (static/js/queue.js) on Background Sync, and shows
// the daily reminder that webapp/services/reminders.py sends by Web Push.
"use strict";

const CACHE_PREFIX = "cupmark-shell-";
const CACHE_NAME = CACHE_PREFIX + CUPMARK.version;
const SHELL = new Set(CUPMARK.shell);
// where the language of the last page fetched is kept (a worker's variables go when it
// stops): the offline page is shown in it, the person's chosen language
const LANGUAGE_KEY = "/offline-language";
let lastLanguage = null;

importScripts(CUPMARK.queue);

self.addEventListener("install", (event) => {
  // reload: fill the new cache from the server, never from an older HTTP-cached copy
  event.waitUntil(
    caches.open(CACHE_NAME)
      .then((cache) => cache.addAll(CUPMARK.shell.map((url) => new Request(url, { cache: "reload", credentials: "omit" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names
        .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME)
        .map((name) => caches.delete(name))))
      .then(() => self.clients.claim())
  );
});

function remember(response) {
  const language = response.headers.get("Content-Language");
  if (language && language !== lastLanguage && CUPMARK.offline[language]) {
    lastLanguage = language;
    caches.open(CACHE_NAME).then((cache) => cache.put(LANGUAGE_KEY, new Response(language)));
  }
  return response;
}

async function offlinePage() {
  const cache = await caches.open(CACHE_NAME);
  const stored = await cache.match(LANGUAGE_KEY);
  const language = stored ? await stored.text() : CUPMARK.language;
  return cache.match(CUPMARK.offline[language] || CUPMARK.offline[CUPMARK.language]);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // network first, never stored: a page may show health data
    event.respondWith(fetch(request).then(remember).catch(offlinePage));
    return;
  }
  if (SHELL.has(url.pathname)) {
    // the shell is versioned by the cache name, so the cached copy is the right one
    event.respondWith(
      caches.open(CACHE_NAME)
        .then((cache) => cache.match(url.pathname))
        .then((hit) => hit || fetch(request))
    );
  }
  // everything else (photos, fragments, JSON) goes to the network as if there were no worker
});

self.addEventListener("sync", (event) => {
  if (event.tag === CupmarkQueue.SYNC_TAG) {
    // a rejected promise asks the browser to try the sync again later
    event.waitUntil(CupmarkQueue.replay().then((result) => {
      if (result.waiting > 0 && result.offline) throw new Error("still offline");
    }));
  }
});

self.addEventListener("push", (event) => {
  // {title, body, url} from webapp/services/reminders.py send_push; a push without data still shows
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch (error) { message = {}; }
  const shown = self.registration.showNotification(message.title || "Cupmark", {
    body: message.body || "",
    icon: "/static/icons/icon-192.png",
    // one reminder at a time: a newer one replaces an older one still on the screen
    tag: "cupmark-reminder",
    data: { url: message.url || "/" },
  });
  // the app icon's badge says a photo is due until a page that knows better clears it
  const badge = self.navigator.setAppBadge ? self.navigator.setAppBadge(1).catch(() => {}) : null;
  event.waitUntil(Promise.all([shown, badge]));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data.url || "/", self.location.origin);
  // only our own pages: a tap never opens another site
  const target = url.origin === self.location.origin ? url.href : self.location.origin + "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const open = windows.find((client) => client.url === target);
    return open ? open.focus() : self.clients.openWindow(target);
  }));
});

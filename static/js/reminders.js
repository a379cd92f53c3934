// Reminders in the page (templates/reminders/page.html; webapp/services/reminders.py sends them):
// - "Turn on notifications on this device" asks the browser's permission only after that tap,
//   subscribes with the server's VAPID key and hands the subscription to the server;
// - the app icon's badge (navigator.setAppBadge) shows while today's photo is due, as every
//   client page says in #photo-due; the service worker sets it too when a reminder arrives.
"use strict";

(function () {
  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function keyBytes(base64url) {
    const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  async function tell(url, subscription) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(subscription),
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    if (!response.ok) throw new Error("the server said " + response.status);
  }

  function setup(section) {
    if (section.dataset.pushReady) return;
    section.dataset.pushReady = "1";
    const t = section.dataset;
    const status = section.querySelector("[data-push-status]");
    const on = section.querySelector("[data-push-on]");
    const off = section.querySelector("[data-push-off]");

    function show(subscribed, text) {
      status.textContent = text || (subscribed ? t.on : t.off);
      on.hidden = subscribed;
      off.hidden = !subscribed;
    }

    if (!supported()) { show(false, t.unsupported); on.hidden = true; return; }

    async function registration() {
      return navigator.serviceWorker.ready;
    }

    on.addEventListener("click", async () => {
      on.setAttribute("aria-busy", "true");
      try {
        const permission = await Notification.requestPermission();
        if (permission !== "granted") { show(false, t.denied); return; }
        const reg = await registration();
        const subscription = await reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(t.key),
        });
        await tell(t.subscribeUrl, subscription.toJSON());
        show(true);
      } catch (error) {
        show(false, t.failed);
      } finally {
        on.removeAttribute("aria-busy");
      }
    });

    off.addEventListener("click", async () => {
      const reg = await registration();
      const subscription = await reg.pushManager.getSubscription();
      if (subscription) {
        await tell(t.unsubscribeUrl, { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      show(false);
    });

    registration().then((reg) => reg.pushManager.getSubscription())
      .then((subscription) => show(Boolean(subscription) && Notification.permission === "granted"))
      .catch(() => show(false));
  }

  let badgeShown = null;

  function badge() {
    const due = document.getElementById("photo-due");
    if (!due || !("setAppBadge" in navigator)) return;
    const shown = due.dataset.photoDue === "1";
    if (shown === badgeShown) return;
    badgeShown = shown;
    // an installed app shows it; elsewhere the browser may refuse, which changes nothing
    (shown ? navigator.setAppBadge(1) : navigator.clearAppBadge()).catch(() => {});
  }

  function enhance(root) {
    root.querySelectorAll("[data-push]").forEach(setup);
    badge();
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.detail.elt));
}());

// Cupmark's small progressive enhancements: every page works without this file.
"use strict";

function fillBrowserTimezone(root) {
  // the sign-up form sends the browser's IANA zone so times show in local time from the start
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  root.querySelectorAll("input[data-browser-timezone]").forEach((input) => {
    if (zone) input.value = zone;
  });
  // settings: an account that fell back to UTC is offered the phone's zone (saved on Save)
  root.querySelectorAll("input[data-browser-timezone-default]").forEach((input) => {
    if (zone && input.value === "UTC") input.value = zone;
  });
}

function selectOnFocus(root) {
  // an invite link is copied by tapping it: select the whole text at once
  root.querySelectorAll("input[data-copy]").forEach((input) => {
    input.addEventListener("focus", () => input.select());
  });
}

function wallClock(zone, at) {
  // the moment as a datetime-local value ("2026-10-25T22:40:07") on the wall clock of the
  // zone; to the second, so the server's correction of a phone's clock lands on the second
  const parts = {};
  new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(at).forEach((part) => { parts[part.type] = part.value; });
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

// a time left empty is the moment of sending: stamped into whatever the form's data goes to
// (a plain submit, htmx, or the offline queue's FormData), so a queued photo keeps its time.
// The phone's clock may be off: the form also says the time is the phone's and what the
// phone's clock reads as it sends (the offline queue sets that again when it really sends),
// and the server moves the time by the difference to its own clock
document.addEventListener("formdata", (event) => {
  event.target.querySelectorAll("input[data-now-in]").forEach((input) => {
    if (!input.name || input.value) return;
    const now = new Date();
    event.formData.set(input.name, wallClock(input.dataset.nowIn, now));
    event.formData.set(`${input.name}_by`, "phone");
    event.formData.set("phone_now", String(now.getTime()));
  });
});

function compareSlider(root) {
  // the before/after slider: the range input lies over the photo, so a drag anywhere on it
  // and the arrow keys both move the divider; the divider moves by SVG attributes (the CSP
  // allows no inline style)
  root.querySelectorAll("[data-compare]").forEach((slider) => {
    if (slider.dataset.ready) return;
    slider.dataset.ready = "1";
    const svg = slider.querySelector("[data-compare-svg]");
    const clip = slider.querySelector("[data-compare-clip]");
    const line = slider.querySelector("[data-compare-line]");
    const range = slider.querySelector("[data-compare-range]");
    const zoom = slider.querySelector("[data-compare-zoom]");
    const width = Number(svg.dataset.width);
    const height = Number(svg.dataset.height);
    let scale = 1;
    function place() {
      const x = (width * Number(range.value)) / 100;
      clip.setAttribute("width", x);
      line.setAttribute("x1", x);
      line.setAttribute("x2", x);
      // zoomed in, the view follows the divider: where you look is where the two days meet
      const w = width / scale;
      const h = height / scale;
      const left = Math.min(Math.max(x - w / 2, 0), width - w);
      svg.setAttribute("viewBox", `${left} ${(height - h) / 2} ${w} ${h}`);
      range.setAttribute("aria-valuetext", `${range.value}%`);
    }
    range.addEventListener("input", place);
    zoom.addEventListener("click", () => {
      // 1x, 2x, 4x, and back: the button says what its next tap does
      scale = scale >= 4 ? 1 : scale * 2;
      zoom.textContent = scale >= 4 ? zoom.dataset.zoomOut : zoom.dataset.zoomIn;
      place();
    });
    slider.hidden = false;
    place();
  });
}

function inviteButtons(root) {
  // an invite goes out through the phone's own share sheet where there is one (Web Share
  // API), and is copied to the clipboard everywhere
  root.querySelectorAll("[data-invite-actions]").forEach((actions) => {
    const share = actions.querySelector("[data-share]");
    const copy = actions.querySelector("[data-copy-button]");
    const data = { title: share.dataset.shareTitle, text: share.dataset.shareText,
                   url: share.dataset.shareUrl };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      share.hidden = false;
      share.addEventListener("click", () => navigator.share(data).catch(() => {}));
    }
    copy.addEventListener("click", async () => {
      const input = document.getElementById(copy.dataset.copyButton);
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (error) {
        // no clipboard permission (or plain http): select it, so a long press copies it
        input.focus();
        input.select();
        return;
      }
      copy.textContent = copy.dataset.copied;
    });
    actions.hidden = false;
  });
}

// what someone writes in a message or a note is kept in this tab (sessionStorage: it goes with
// the tab) until the server has it: a session that ended meanwhile sends them to the login page,
// which comes back here, and a send that failed leaves the page; either way nothing is lost
const DRAFT = "cupmark-draft:";

function draftKey(form, field) {
  // per person (a shared phone's next user never sees it) and per form
  return `${DRAFT}${form.dataset.draft}:${form.getAttribute("action")}:${field.name}`;
}

function storage() {
  try {
    return window.sessionStorage;
  } catch (error) {
    return null; // storage switched off: the page works as before, without drafts
  }
}

function keepDrafts(root) {
  const store = storage();
  if (!store) return;
  const forms = root.matches && root.matches("form[data-draft]") ? [root] : [];
  forms.push(...root.querySelectorAll("form[data-draft]"));
  forms.forEach((form) => {
    form.querySelectorAll("textarea[name]").forEach((field) => {
      if (field.dataset.draftReady) return;
      field.dataset.draftReady = "1";
      const key = draftKey(form, field);
      const kept = store.getItem(key);
      if (kept && !field.value) {
        field.value = kept;
        const note = document.createElement("small");
        note.className = "draft-kept";
        note.setAttribute("role", "status");
        note.textContent = form.dataset.draftKept;
        field.after(note);
      }
      field.addEventListener("input", () => {
        if (field.value) store.setItem(key, field.value);
        else store.removeItem(key);
      });
    });
  });
}

// someone else signed in on this tab (the last person's session ended without logging out):
// their drafts go before anything else happens here. Signed out, they stay for their writer
function forgetOthersDrafts(root) {
  const store = storage();
  const marker = root.querySelector && root.querySelector("[data-signed-in]");
  if (!store || !marker || !marker.dataset.signedIn) return;
  const own = `${DRAFT}${marker.dataset.signedIn}:`;
  Object.keys(store)
    .filter((key) => key.startsWith(DRAFT) && !key.startsWith(own))
    .forEach((key) => store.removeItem(key));
}

// the server took the form (2xx: sent, or shown again with its errors and the text): its draft
// has done its work. Anything else (a login redirect, an expired form, no network) keeps it
document.addEventListener("htmx:beforeOnLoad", (event) => {
  const form = event.detail.elt;
  const store = storage();
  const status = event.detail.xhr.status;
  if (!store || !form.matches("form[data-draft]") || status < 200 || status > 299) return;
  // every draft of this form: its boxes' words, and the marks board's points (marks.js)
  const prefix = draftKey(form, { name: "" });
  Object.keys(store).filter((key) => key.startsWith(prefix)).forEach((key) => store.removeItem(key));
});

// logging out (or deleting the account) leaves no one's words behind in the tab
document.addEventListener("submit", (event) => {
  const store = storage();
  if (!store || !event.target.matches("form[data-forget-drafts]")) return;
  Object.keys(store).filter((key) => key.startsWith(DRAFT)).forEach((key) => store.removeItem(key));
});

// a request that did not go through says so, in the server's words where it sent some (its
// error page's message), else in the page's own; the next request clears it
function requestFailed(say) {
  const notice = document.getElementById("request-failed");
  if (!notice) return;
  // shown first, then filled: a screen reader reads a live region's change only while it shows
  notice.hidden = false;
  notice.querySelector("p").textContent = say(notice);
}

document.addEventListener("htmx:responseError", (event) => {
  requestFailed((notice) => {
    const page = new DOMParser().parseFromString(event.detail.xhr.responseText || "", "text/html");
    const message = page.querySelector("#error p");
    return message ? message.textContent.trim() : notice.dataset.failed;
  });
});
document.addEventListener("htmx:sendError", () => requestFailed((notice) => notice.dataset.offline));
document.addEventListener("htmx:beforeRequest", (event) => {
  const notice = document.getElementById("request-failed");
  // a list refreshing itself in the background (every 20 s) leaves the notice standing
  if (notice && !(event.detail.elt.getAttribute("hx-trigger") || "").startsWith("every")) notice.hidden = true;
});
document.addEventListener("click", (event) => {
  if (event.target.matches("#request-failed button")) event.target.parentElement.hidden = true;
});

// a flag answered in place (a therapist's client page): the button pressed went with the swap,
// which leaves the keyboard at the top of the page. It goes on to the note of the next open
// flag, else stays on this one; a refused note keeps it in the note; the result is said aloud
function afterFlag(item) {
  if (!item.matches || !item.matches("li.flag")) return;
  const invalid = item.querySelector('[aria-invalid="true"]');
  if (invalid) {
    invalid.focus();
    return;
  }
  const region = document.querySelector("[data-flags-said]");
  if (region && item.dataset.said) region.textContent = item.dataset.said;
  let next = item.nextElementSibling;
  while (next && !next.querySelector("textarea")) next = next.nextElementSibling;
  (next ? next.querySelector("textarea") : item).focus();
}

document.addEventListener("htmx:load", (event) => afterFlag(event.detail.elt));

function enhance(root) {
  fillBrowserTimezone(root);
  selectOnFocus(root);
  compareSlider(root);
  inviteButtons(root);
  forgetOthersDrafts(root);
  keepDrafts(root);
}

function forgetPageCopies() {
  // htmx keeps no page copies here (historyCacheSize 0), but an older version of the app did:
  // copies of health pages left in this tab's storage go, e.g. on the page after logging out
  try {
    sessionStorage.removeItem("htmx-history-cache");
    localStorage.removeItem("htmx-history-cache");
  } catch (error) {
    // storage switched off: nothing can be kept there either
  }
}

forgetPageCopies();
document.addEventListener("DOMContentLoaded", () => enhance(document));
document.addEventListener("htmx:load", (event) => enhance(event.detail.elt));

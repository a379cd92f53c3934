// Cupmark's small progressive enhancements: every page works without this file.
"use strict";

function fillBrowserTimezone(root) {
  // the sign-up form sends the browser's IANA zone so times show in local time from the start
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  root.querySelectorAll("input[data-browser-timezone]").forEach((input) => {
    if (zone) input.value = zone;
  });
}

function selectOnFocus(root) {
  // an invite link is copied by tapping it: select the whole text at once
  root.querySelectorAll("input[data-copy]").forEach((input) => {
    input.addEventListener("focus", () => input.select());
  });
}

function wallClock(zone, at) {
  // the moment as a datetime-local value ("2026-10-25T22:40") on the wall clock of the zone
  const parts = {};
  new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit",
  }).formatToParts(at).forEach((part) => { parts[part.type] = part.value; });
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

// a time left empty is the moment of sending: stamped into whatever the form's data goes to
// (a plain submit, htmx, or the offline queue's FormData), so a queued photo keeps its time
document.addEventListener("formdata", (event) => {
  event.target.querySelectorAll("input[data-now-in]").forEach((input) => {
    if (input.name && !input.value) event.formData.set(input.name, wallClock(input.dataset.nowIn, new Date()));
  });
});

function enhance(root) {
  fillBrowserTimezone(root);
  selectOnFocus(root);
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

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

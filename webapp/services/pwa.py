"""The installable app's fixed parts: the app shell the service worker keeps, and its version.

What the service worker caches, and why (README "Offline and install" says the same):
- ONLY the app shell listed here: our CSS and JS, Pico, htmx, the icons, the manifest and the
  offline page. These are the same for every person and hold nothing about anyone, so they may
  live in the browser's shared Cache Storage; with them the app opens and shows a clear
  "you are offline" page without a network.
- Never pages (they show a person's treatments, names, flags), never photos (health data under
  /photos/), never JSON answers. Pages are fetched from the network every time and fall back
  to the offline page; anything not in the shell passes straight through the worker.
- The cache name carries a hash of the shell's bytes: a deploy that changes any shell file
  changes the name, the new worker fills a new cache and deletes every older one on activate.
"""
import hashlib
from pathlib import Path

# files under static/ in the shell, served at /static/<path>
SHELL_STATIC = (
    "vendor/pico.min.css",
    "css/app.css",
    "vendor/htmx.min.js",
    "js/app.js",
    "js/queue.js",
    "js/capture.js",
    "js/marks.js",
    "js/reminders.js",
    "icons/icon-32.png",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/icon-maskable-512.png",
)
# templates whose output is in the shell (the offline page) also change its version
SHELL_TEMPLATES = ("pages/offline.html",)
# the service worker's own source: a change to it must also start a fresh cache
WORKER_SOURCE = "sw.js"


def shell_version(static_folder: str, template_folder: str) -> str:
    """Return a short hash of every shell file's bytes: it changes exactly when the shell does."""
    digest = hashlib.sha256()
    paths = ([Path(static_folder) / name for name in (*SHELL_STATIC, WORKER_SOURCE)]
             + [Path(template_folder) / name for name in SHELL_TEMPLATES])
    for path in paths:
        digest.update(str(path.name).encode())
        # a missing file (icons not drawn yet) still yields a version; the worker's install
        # then fails loudly in the browser instead of the page failing here
        digest.update(path.read_bytes() if path.exists() else b"missing")
    return digest.hexdigest()[:12]

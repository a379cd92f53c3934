"""Getting the bytes to a phone: long-cached, precompressed static files and compressed pages.

What a client on a slow phone network waits for is bytes and round trips, not server time
(issue 15; benchmarks/bench_pages_phone.py measures it). So:

- **Static files** are served by WhiteNoise, in two ways at once. `make` builds
  ``build/static`` (``scripts/build_static.py``): a copy of ``static/``, plus beside each
  file a copy whose name carries a hash of its content
  (``css/app.3f2a9b1c4d5e.css``), a ``manifest.json`` from plain to hashed name, and ``.gz`` and
  ``.br`` copies (WhiteNoise's compressor). ``url_for("static", ...)`` then gives the hashed
  name, served ``max-age=315360000, public, immutable``: a browser never asks for it again,
  and a deploy that changes the file changes its name. The plain name still answers (an
  old page, the push icon, a bookmark), with ``max-age=0``: always revalidated. Without a
  build (a fresh checkout) or under ``make dev``'s debugger, ``static/`` is served as it is,
  plain names only, re-read as files change. nginx serves the same build in production
  (deploy/nginx.conf).
- **Pages** (HTML, JSON, the service worker) are compressed with brotli or gzip by
  Flask-Compress, as the browser's Accept-Encoding allows.

BREACH: compressing a page that holds a secret next to text an attacker controls lets an
attacker who watches the encrypted traffic, and makes the victim's browser send many requests,
guess the secret from the compressed lengths. Our pages hold the CSRF token (Flask-WTF: the
session's raw token signed with a timestamp, so its text changes every second but is not masked
per response) and health data. Such requests come from another site's page, so a page is
compressed only for a request the browser marks as made by our own pages or by the person
(``Sec-Fetch-Site: same-origin`` or ``none``: typed, bookmarked, opened from the home screen);
a cross-site request or a browser that sends no such header gets it uncompressed. The session
cookie is ``SameSite=Lax`` as well, so another site's hidden requests are not signed in.
"""
import hashlib
import json
import os
import shutil
from pathlib import Path

from flask import Flask, request
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from webapp.extensions import compress

BUILD = "build/static"
MANIFEST = "manifest.json"
# the hex digits of the content's SHA-256 in a hashed name: Django's manifest storage uses 12
HASH_DIGITS = 12
# ten years, WhiteNoise's "forever": a hashed name's content never changes
IMMUTABLE_MAX_AGE = 315360000
# Sec-Fetch-Site values of requests an attacker's page cannot make (see BREACH above)
COMPRESSIBLE_FETCHES = ("same-origin", "none")


def hashed_name(name: str, data: bytes) -> str:
    """Return a static file's name with a hash of its content before the extension."""
    stem, dot, extension = name.rpartition(".")
    digest = hashlib.sha256(data).hexdigest()[:HASH_DIGITS]
    return f"{stem}.{digest}.{extension}" if dot and "/" not in extension else f"{name}.{digest}"


def build(source: Path, target: Path) -> dict[str, str]:
    """Copy source's files to target with a hashed copy of each, compress them, write the manifest.

    Returns the manifest: plain name -> hashed name, both relative to target, with slashes.
    Hidden files (make's markers) are left out; links to folders (vendor/, icons/ in a
    worktree) are followed. The hashed files of earlier builds are kept (Django's manifest
    storage keeps them too): a server started before this build, and a page a phone loaded from
    it, still find every file their manifest names. The new build is made beside target and
    swapped in whole, so no request finds it half written.
    """
    fresh = target.with_name(f"{target.name}.new")
    shutil.rmtree(fresh, ignore_errors=True)
    manifest = {}
    for folder, folders, files in os.walk(source, followlinks=True):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for file in sorted(f for f in files if not f.startswith(".")):
            path = Path(folder) / file
            name = path.relative_to(source).as_posix()
            data = path.read_bytes()
            manifest[name] = hashed_name(name, data)
            for copy in (name, manifest[name]):
                (fresh / copy).parent.mkdir(parents=True, exist_ok=True)
                (fresh / copy).write_bytes(data)
    # .gz and .br beside each file that compresses (not the PNGs), kept only when smaller
    compressor = Compressor(quiet=True)
    for name in (*manifest, *manifest.values()):
        if compressor.should_compress(name):
            compressor.compress(str(fresh / name))
    (fresh / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    _keep_earlier_hashed(target, fresh)
    stale = target.with_name(f"{target.name}.old")
    shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        target.rename(stale)
    fresh.rename(target)
    shutil.rmtree(stale, ignore_errors=True)
    return manifest


def _keep_earlier_hashed(previous: Path, fresh: Path) -> None:
    """Copy into fresh every file of the previous build that is not a plain name of it (the
    hashed names of it and of the builds before, with their compressed copies) and that fresh
    does not hold."""
    plain = set(read_manifest(previous) or {}) | {MANIFEST}
    for path in previous.rglob("*") if previous.is_dir() else ():
        name = path.relative_to(previous).as_posix()
        if path.is_dir() or (fresh / name).exists() or name.removesuffix(".gz").removesuffix(
                ".br") in plain:
            continue
        (fresh / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, fresh / name)


def read_manifest(folder: Path) -> dict[str, str] | None:
    """Return the build's manifest (plain -> hashed name), or None when there is no build."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return None


def install(app: Flask) -> None:
    """Serve static files through WhiteNoise, hashed when built, and compress same-site pages.

    Called first in the factory: compression must be the last thing done to a response, and
    Flask runs the app's after_request functions last-registered first.
    """
    # where `make` builds the static files (a test may point elsewhere)
    built = Path(app.config.get("STATIC_BUILD_FOLDER") or Path(app.root_path).parent / BUILD)
    manifest = None if app.debug else read_manifest(built)
    immutable = frozenset(f"{app.static_url_path}/{name}" for name in (manifest or {}).values())

    def security_headers(headers, path, url) -> None:
        """Give static files the one security header that matters for them (pages set the rest)."""
        headers["X-Content-Type-Options"] = "nosniff"

    app.wsgi_app = WhiteNoise(
        app.wsgi_app, root=built if manifest is not None else app.static_folder,
        prefix=app.static_url_path,
        # a plain name may change with any deploy: revalidated on every use
        max_age=0,
        immutable_file_test=lambda path, url: url in immutable,
        add_headers_function=security_headers,
        # serving static/ as it is (no build, or the debugger): edits show without a restart
        autorefresh=manifest is None)
    if manifest is not None:
        @app.url_defaults
        def hashed_static(endpoint: str, values: dict) -> None:
            """Point url_for("static", filename=...) at the file's hashed name."""
            if endpoint == "static" and values.get("filename") in manifest:
                values["filename"] = manifest[values["filename"]]

    compress.init_app(app)

    @app.after_request
    def compress_own_pages(response):
        """Compress a response to a request made by our own pages or by the person (BREACH)."""
        response.vary.add("Sec-Fetch-Site")
        if request.headers.get("Sec-Fetch-Site") in COMPRESSIBLE_FETCHES:
            return compress.after_request(response)
        response.vary.add("Accept-Encoding")
        return response

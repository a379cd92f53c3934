"""Benchmark: the key pages as a phone on slow 4G feels them, cold and warm, in real Chromium.

Serves the app with gunicorn (deploy/gunicorn.conf.py, 2 workers) over https, as production is
(Chromium asks for brotli only over https), with a certificate made here by openssl that the
browser is told to trust (by its key's hash: with an ignored certificate error Chromium would
cache nothing), on a loopback port (--port), on a
temporary SQLite database and photo store made here, filled with ``flask demo`` (Ana's pages)
and 200 linked clients for a second therapist (bench_triage.populate, then the flag sweep).
Debian's Chromium, driven by Playwright, then opens each key page on the issue-15 profile:

- slow 4G: 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up (DevTools
  Network.emulateNetworkConditions, which adds the latency to each request);
- a 4x slower CPU (Emulation.setCPUThrottlingRate), a 390x844 viewport.

Each page is first opened a few times unthrottled (`warm_up`), so that both workers have
rendered it once: a running server has, and its first render (Jinja compiling the templates)
is not what a phone meets every day. For each page it then prints, cold (a fresh browser
context: empty cache, signed in by cookie only) and warm (the same page again in that context):

- LCP: the last ``largest-contentful-paint`` entry (PerformanceObserver), in ms after the
  navigation started;
- KB: bytes on the wire, the sum of Network.loadingFinished's encodedDataLength (headers and
  compressed bodies), split into page+fragments, static files and photos;
- requests: every request the page made, and how many static files came over the network
  again (zero when the browser's cache kept them).

Service workers are blocked in these contexts: a worker's own fetches are invisible to the
page's DevTools session, so its bytes would not be counted (the app works without one).
Figures only, no pass/fail: timings on a shared machine are noisy. Run it with::

    .venv/bin/python benchmarks/bench_pages_phone.py [--runs 3] [--clients 200]
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
# issue 15's profile: slow 4G (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up), 4x CPU slowdown
NETWORK = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8,
           "uploadThroughput": 750e3 / 8}
CPU_SLOWDOWN = 4
# loads of each page before it is measured, so that each gunicorn worker has shown it once
WARM_UP_LOADS = 8
# the last LCP entry wins; it is read once the page has loaded and sat still this long
SETTLE_MS = 1000
WATCH_LCP = """
window.__lcp = null;
new PerformanceObserver((list) => {
  const entries = list.getEntries();
  window.__lcp = entries[entries.length - 1].startTime;
}).observe({type: "largest-contentful-paint", buffered: true});
"""


def prepare(env: dict, clients: int) -> dict:
    """Migrate, add the demo data and a therapist with many clients; return the logins and ids."""
    flask = [sys.executable, "-m", "flask", "--app", "webapp"]
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True)
    os.environ.update(env)
    import sqlalchemy as sa

    import bench_triage
    from webapp import create_app
    from webapp.services import demo, flags
    from webapp.extensions import db
    from webapp.models import Treatment, User, utcnow
    app = create_app()
    with app.app_context():
        therapist = bench_triage.populate(clients, utcnow())
        flags.sweep()
        db.session.commit()
        ana = db.session.scalar(sa.select(User).where(User.email == demo.CLIENTS[0].email))
        treatment_id = db.session.scalar(sa.select(Treatment.id)
                                         .where(Treatment.client_id == ana.id))
        logins = {"client": (ana.email, demo.DEMO_PASSWORD),
                  "therapist": (therapist.email, bench_triage.PASSWORD)}
        db.engine.dispose()
    return {"logins": logins, "treatment_id": treatment_id}


def certificate(folder: Path) -> tuple[Path, Path, str]:
    """Make a self-signed certificate for 127.0.0.1; return its files and its key's SPKI hash."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    public = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                            check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public,
                         check=True, capture_output=True).stdout
    return cert, key, base64.b64encode(hashlib.sha256(der).digest()).decode()


def serve(env: dict, port: int, cert: Path, key: Path, log: Path) -> subprocess.Popen:
    """Start gunicorn as `make run` does, with 2 workers and TLS, and wait until it answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
         "--certfile", str(cert), "--keyfile", str(key)], cwd=ROOT,
        env={**env, "CUPMARK_BIND": f"127.0.0.1:{port}", "CUPMARK_WORKERS": "2"},
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    trusted = ssl.create_default_context(cafile=str(cert))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/auth/login", timeout=2,
                                   context=trusted).read()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def signed_in_state(browser, base: str, login: tuple[str, str] | None) -> dict | None:
    """Sign in through the login form in a throwaway context; return its cookies only."""
    if login is None:
        return None
    context = browser.new_context(base_url=base)
    page = context.new_page()
    page.goto("/auth/login")
    page.fill("input[name=email]", login[0])
    page.fill("input[name=password]", login[1])
    with page.expect_navigation():
        page.click("form[action$='/auth/login'] button[type=submit]")
    state = context.storage_state()
    context.close()
    # cookies only: the new context starts with an empty cache and no local storage
    return {"cookies": state["cookies"], "origins": []}


class Visit:
    """What one page load cost on the wire, gathered from the page's DevTools session."""

    def __init__(self, session):
        """Listen to the session's network events."""
        self.urls: dict[str, str] = {}
        self.cached: set[str] = set()
        self.bytes: dict[str, int] = {}
        self.handlers = {"Network.requestWillBeSent": self.sent,
                         "Network.requestServedFromCache": self.from_cache,
                         "Network.responseReceived": self.received,
                         "Network.loadingFinished": self.finished}
        for event, handler in self.handlers.items():
            session.on(event, handler)

    def detach(self, session) -> None:
        """Stop listening: the next visit counts its own requests."""
        for event, handler in self.handlers.items():
            session.remove_listener(event, handler)

    def sent(self, event) -> None:
        """Note a request and its URL."""
        self.urls[event["requestId"]] = event["request"]["url"]

    def from_cache(self, event) -> None:
        """Note a request the memory cache answered."""
        self.cached.add(event["requestId"])

    def received(self, event) -> None:
        """Note a response that came from a cache rather than the network."""
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            self.cached.add(event["requestId"])

    def finished(self, event) -> None:
        """Count the bytes a request took on the wire."""
        self.bytes[event["requestId"]] = int(event["encodedDataLength"])

    def kind(self, url: str) -> str:
        """Name what a URL is: a static file, a photo or a page (and its fragments)."""
        path = url.split("://", 1)[-1].partition("/")[2]
        if path.startswith("static/"):
            return "static"
        return "photo" if path.startswith("photos/") else "page"

    def summary(self) -> dict:
        """Return bytes by kind, the number of requests and of static files sent again."""
        kb = {"page": 0.0, "static": 0.0, "photo": 0.0}
        for request_id, size in self.bytes.items():
            kb[self.kind(self.urls.get(request_id, ""))] += size / 1024
        refetched = sum(1 for request_id, url in self.urls.items()
                        if self.kind(url) == "static" and request_id not in self.cached)
        return {"kb": kb, "total_kb": sum(kb.values()), "requests": len(self.urls),
                "static_refetched": refetched}


def load(context, session, path: str) -> dict:
    """Open a path in the context's page on the phone profile; return LCP and its bytes."""
    page = context.pages[0]
    visit = Visit(session)
    page.goto(path, wait_until="load")
    page.wait_for_timeout(SETTLE_MS)
    lcp = page.evaluate("window.__lcp")
    visit.detach(session)
    return {"lcp_ms": lcp, **visit.summary()}


def warm_up(browser, base: str, path: str, state: dict | None) -> None:
    """Open the page WARM_UP_LOADS times, unthrottled, each on a new connection."""
    # a worker renders a page's templates slowly the first time it shows them (Jinja compiles
    # them): a server that has run a while has, so the measured loads should not pay it. Each
    # new context opens a new connection, which either of the 2 workers may take; after 8, the
    # chance that one of them has not yet shown the page is 2 x 2^-8, under 1%
    for _ in range(WARM_UP_LOADS):
        context = browser.new_context(base_url=base, storage_state=state, service_workers="block")
        context.new_page().goto(path, wait_until="load")
        context.close()


def measure(browser, base: str, path: str, state: dict | None) -> tuple[dict, dict]:
    """Open the page cold in a fresh context, then warm in the same one; return both."""
    context = browser.new_context(base_url=base, viewport=PHONE, storage_state=state,
                                  service_workers="block")
    context.add_init_script(WATCH_LCP)
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    session.send("Network.emulateNetworkConditions", NETWORK)
    session.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    try:
        cold = load(context, session, path)
        warm = load(context, session, path)
    finally:
        context.close()
    return cold, warm


def main() -> None:
    """Build the data, serve it, open every key page cold and warm, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold+warm loads per page (median)")
    parser.add_argument("--clients", type=int, default=200, help="clients on the triage page")
    parser.add_argument("--port", type=int, default=5002, help="loopback port for gunicorn")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="cupmark-phone-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite'}",
           "CUPMARK_SECRET_KEY": "phone benchmark", "CUPMARK_PHOTO_ROOT": str(workdir / "photos"),
           "CUPMARK_VAPID_PRIVATE_KEY_FILE": str(workdir / "vapid_private.pem"),
           "CUPMARK_UPLOADS_PER_DAY": "1000", "CUPMARK_HTTPS": "1"}
    started = time.monotonic()
    data = prepare(env, args.clients)
    print(f"data: demo + {args.clients} triage clients in {time.monotonic() - started:.0f} s "
          f"({workdir})", flush=True)
    port = args.port
    base = f"https://127.0.0.1:{port}"
    cert, key, spki = certificate(workdir)
    server = serve(env, port, cert, key, workdir / "gunicorn.log")
    treatment = data["treatment_id"]
    pages = [("login", "/auth/login", None),
             ("client home", "/client/", "client"),
             ("timeline", f"/treatments/{treatment}", "client"),
             ("check-in", f"/treatments/{treatment}/checkin", "client"),
             (f"triage ({args.clients})", "/therapist/", "therapist")]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki}"])
            states = {who: signed_in_state(browser, base, login)
                      for who, login in (("client", data["logins"]["client"]),
                                         ("therapist", data["logins"]["therapist"]))}
            states[None] = None
            print(f"profile: {NETWORK['latency']} ms RTT, 1.6 Mbit/s down, 750 kbit/s up, "
                  f"{CPU_SLOWDOWN}x CPU, {PHONE['width']}x{PHONE['height']}; median of "
                  f"{args.runs} runs; KB on the wire = page + static + photos")
            print(f"{'page':14s} {'':5s} {'LCP ms':>7s} {'KB':>7s} {'page':>6s} {'static':>7s} "
                  f"{'photos':>7s} {'requests':>8s} {'static again':>12s}")
            for name, path, who in pages:
                warm_up(browser, base, path, states[who])
                runs = [measure(browser, base, path, states[who]) for _ in range(args.runs)]
                for label, index in (("cold", 0), ("warm", 1)):
                    visits = [run[index] for run in runs]
                    median = lambda f: statistics.median(f(v) for v in visits)  # noqa: E731
                    print(f"{name:14s} {label:5s} {median(lambda v: v['lcp_ms'] or 0):7.0f} "
                          f"{median(lambda v: v['total_kb']):7.1f} "
                          f"{median(lambda v: v['kb']['page']):6.1f} "
                          f"{median(lambda v: v['kb']['static']):7.1f} "
                          f"{median(lambda v: v['kb']['photo']):7.1f} "
                          f"{median(lambda v: v['requests']):8.0f} "
                          f"{median(lambda v: v['static_refetched']):12.0f}", flush=True)
            browser.close()
        # other work on the machine slows the 4x-throttled CPU further
        print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

"""The production server: `make run` is gunicorn without a debugger on plain-http loopback, and
deploy/nginx.conf (TLS, buffering, body size, timeouts) in front of it keeps slow clients away
from the app: measured against real gunicorn and nginx processes on free loopback ports."""
import contextlib
import gzip
import http.cookiejar
import os
import re
import runpy
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import brotli
import pytest
import redis

from tests.conftest import free_port
from webapp.views import delivery

ROOT = Path(__file__).resolve().parents[1]
NGINX = "/usr/sbin/nginx"
# deploy/nginx.conf serves the precompressed .br files with it
# (Debian: libnginx-mod-http-brotli-static)
BROTLI_STATIC = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"
OPENSSL = shutil.which("openssl")
# set by .ci/run: a missing service program fails the run instead of skipping its tests
REQUIRED = os.environ.get("CUPMARK_REQUIRE_SERVICES") == "1"
# how long each slow client dribbles its request headers, one line at a time
SLOW_SECONDS = 6.0
# a signed-in page that is not stuck behind the slow clients answers well within this
NOT_BLOCKED_SECONDS = 1.5


def need(path: str | None, what: str, mode: int = os.X_OK) -> None:
    """Skip (with the reason) when a service program (or module: mode R_OK) is absent; fail
    where it is required."""
    if path and os.access(path, mode):
        return
    message = f"{what} not found: install Debian's package to run this test"
    if REQUIRED:
        pytest.fail(f"CUPMARK_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    """Wait until the process accepts connections on the port; fail with its log if it died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"server did not listen on {port} within {seconds}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server we started, and wait for it."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_gunicorn(app, tmp_path, port: int, **env) -> subprocess.Popen:
    """Start gunicorn as `make run` does (deploy/gunicorn.conf.py) on the test's database."""
    log = tmp_path / f"gunicorn-{port}.log"
    environment = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                   "CUPMARK_SECRET_KEY": secrets.token_hex(16),
                   "CUPMARK_PHOTO_ROOT": str(tmp_path / "photos"),
                   "CUPMARK_BIND": f"127.0.0.1:{port}", **env}
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py"],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return process


class Browser:
    """A cookie-keeping HTTP client that signs in through the login form (CSRF and all)."""

    def __init__(self, base: str, context: ssl.SSLContext | None = None, headers=()):
        """Talk to base, trusting the given TLS context; never follow redirects."""
        self.base = base
        self.headers = dict(headers)
        self.cookies = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies),
            urllib.request.HTTPSHandler(context=context), NoRedirect)

    def get(self, path: str, data: dict | None = None):
        """Send a GET (or a form POST when data is given); return status, headers and body."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, body, headers=self.headers)
        if body is not None:
            # as a browser does: over https Flask-WTF checks that a form comes from this site
            request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def sign_in(self, email: str, password: str) -> None:
        """Sign in through the login page's form."""
        _status, _headers, page = self.get("/auth/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, headers, _body = self.get("/auth/login", {
            "csrf_token": token.decode(), "email": email, "password": password})
        assert status == 302, (status, _body[:2000])

    def timed(self, path: str) -> tuple[int, float]:
        """Return a GET's status and how many seconds it took."""
        started = time.monotonic()
        status, _headers, _body = self.get(path)
        return status, time.monotonic() - started


def test_make_run_is_gunicorn_and_make_dev_the_debugger():
    makefile = (ROOT / "Makefile").read_text()
    run = re.search(r"^run:.*?(?=^\S|\Z)", makefile, re.M | re.S).group(0)
    dev = re.search(r"^dev:.*?(?=^\S|\Z)", makefile, re.M | re.S).group(0)
    assert "gunicorn --config deploy/gunicorn.conf.py" in run and "--debug" not in run
    assert "run --debug --host 127.0.0.1" in dev
    config = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    assert '"127.0.0.1:5000"' in config


def test_gunicorn_serves_plain_http_on_loopback_without_a_debugger(app, make_user, tmp_path):
    make_user("c1@example.org")
    port = free_port()
    server = start_gunicorn(app, tmp_path, port, CUPMARK_WORKERS="1")
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.sign_in("c1@example.org", "correct horse battery")
        [cookie] = list(browser.cookies)
        assert not cookie.secure  # plain http on loopback: a Secure cookie would not come back
        status, headers, body = browser.get("/client/")
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in headers
        # Werkzeug's debugger console exists only under `make dev`
        status, _headers, body = browser.get("/console")
        assert status == 404 and b"Werkzeug" not in body
    finally:
        stop(server)


def wrong_passwords_heard(browser: Browser, email: str, tries: int) -> list[int]:
    """Send wrong passwords for one account through the login form; return the statuses."""
    _status, _headers, page = browser.get("/auth/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()
    return [browser.get("/auth/login", {"csrf_token": token, "email": email,
                                        "password": "not the password at all"})[0]
            for _ in range(tries)]


@pytest.mark.parametrize("storage, workers, threads", [
    (None, 1, 4 * (2 * os.cpu_count() + 1)),
    ("memory://", 1, 4 * (2 * os.cpu_count() + 1)),
    ("redis://127.0.0.1:6379/0", 2 * os.cpu_count() + 1, 4)])
def test_gunicorn_runs_one_process_when_the_rate_limits_are_counted_in_memory(
        monkeypatch, storage, workers, threads):
    for name in ("CUPMARK_WORKERS", "CUPMARK_THREADS", "CUPMARK_RATELIMIT_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    if storage:
        monkeypatch.setenv("CUPMARK_RATELIMIT_STORAGE_URL", storage)
    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert (settings["workers"], settings["threads"]) == (workers, threads)


def test_make_run_counts_sign_in_tries_in_one_process_when_they_are_kept_in_memory(
        app, make_user, tmp_path):
    make_user("c1@example.org")
    port = free_port()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("CUPMARK_WORKERS", "CUPMARK_RATELIMIT_STORAGE_URL")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", environment)
        server = start_gunicorn(app, tmp_path, port)
    try:
        statuses = wrong_passwords_heard(Browser(f"http://127.0.0.1:{port}"), "c1@example.org", 12)
        # several processes with their own counts heard 23 of 30 (the limit is 10 a minute)
        assert statuses == [422] * 10 + [429] * 2
    finally:
        stop(server)
    assert "RATE LIMITS NOT SHARED" not in (tmp_path / f"gunicorn-{port}.log").read_text()


def test_several_processes_share_the_sign_in_counts_in_redis(app, make_user, tmp_path,
                                                             redis_url):
    make_user("c1@example.org")
    # no counts left by another test
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    connection.close()
    port = free_port()
    server = start_gunicorn(app, tmp_path, port, CUPMARK_WORKERS="3", CUPMARK_THREADS="1",
                            CUPMARK_RATELIMIT_STORAGE_URL=redis_url)
    try:
        statuses = wrong_passwords_heard(Browser(f"http://127.0.0.1:{port}"), "c1@example.org", 12)
        assert statuses == [422] * 10 + [429] * 2
    finally:
        stop(server)


def test_several_processes_counting_in_memory_are_warned_about_at_start(app, tmp_path):
    port = free_port()
    environment = {key: value for key, value in os.environ.items()
                   if key != "CUPMARK_RATELIMIT_STORAGE_URL"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "environ", environment)
        server = start_gunicorn(app, tmp_path, port, CUPMARK_WORKERS="2", CUPMARK_THREADS="1")
    stop(server)
    assert "RATE LIMITS NOT SHARED: 2 worker processes" in (
        tmp_path / f"gunicorn-{port}.log").read_text()


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for localhost and 127.0.0.1, made by openssl."""
    need(OPENSSL, "openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def nginx_site(app_port: int, http_port: int, https_port: int, cert: Path, key: Path,
               build: Path) -> str:
    """Return deploy/nginx.conf with the test's ports, certificate and static build swapped in."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    swaps = {
        "server 127.0.0.1:5000;": f"server 127.0.0.1:{app_port};",
        "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
        "listen 443 ssl default_server;": f"listen 127.0.0.1:{https_port} ssl default_server;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "/etc/letsencrypt/live/cupmark.example/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/cupmark.example/privkey.pem": str(key),
        "server_name cupmark.example;": "server_name localhost;",
        "root /srv/cupmark/build;": f"root {build};",
    }
    # no IPv6 needed on loopback (a CI machine may have none)
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    for old, new in swaps.items():
        # the file keeps the shape this test expects, or the test says what moved
        assert old in site, f"deploy/nginx.conf: expected {old!r}"
        site = site.replace(old, new)
    return site


@pytest.fixture
def nginx_in_front(app, make_user, tmp_path, certificate):
    """gunicorn (one process, two threads) and nginx with deploy/nginx.conf in front of it."""
    need(NGINX, "nginx (/usr/sbin/nginx)")
    need(BROTLI_STATIC, "nginx's brotli module (libnginx-mod-http-brotli-static)", os.R_OK)
    make_user("c1@example.org")
    # the static files as `make` builds them, here from this checkout's static/
    build = tmp_path / "build"
    manifest = delivery.build(ROOT / "static", build / "static")
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    # a small gunicorn on purpose: two stuck requests would fill it
    server = start_gunicorn(app, tmp_path, app_port, CUPMARK_WORKERS="1", CUPMARK_THREADS="2",
                            CUPMARK_HTTPS="1", CUPMARK_PROXY_HOPS="1")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "cupmark.conf").write_text(nginx_site(app_port, http_port, https_port,
                                                    *certificate, build))
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # as root, nginx's workers would otherwise drop to "nobody", who cannot enter tmp_path
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(f"""
{user}
load_module {BROTLI_STATIC};
worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {prefix / 'access.log'};
{temp}
    include {prefix / 'cupmark.conf'};
}}
""")
    log = prefix / "error.log"
    proxy = subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(log),
                              "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(https_port, proxy, log)
        context = ssl.create_default_context(cafile=str(certificate[0]))
        # by name: TLS needs it (SNI), and nginx serves no other name
        yield {"https": f"https://localhost:{https_port}", "http": f"http://localhost:{http_port}",
               "app": f"http://127.0.0.1:{app_port}", "app_port": app_port,
               "https_port": https_port, "context": context, "manifest": manifest}
    finally:
        stop(proxy)
        stop(server)


def slow_client(port: int, context: ssl.SSLContext | None, until: float) -> None:
    """Send a request's headers one line every 0.3 s until the given time, then finish it."""
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
        if context:
            sock = stack.enter_context(context.wrap_socket(sock, server_hostname="localhost"))
        sock.sendall(b"GET /auth/login HTTP/1.1\r\nHost: localhost\r\n")
        while time.monotonic() < until:
            sock.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.3)
        sock.sendall(b"Connection: close\r\n\r\n")
        while sock.recv(65536):
            pass


def during_two_slow_clients(port: int, context, browser: Browser) -> tuple[int, float]:
    """Start two slow clients on the port; one second later time a signed-in page."""
    until = time.monotonic() + SLOW_SECONDS
    slow = [threading.Thread(target=slow_client, args=(port, context, until)) for _ in range(2)]
    for thread in slow:
        thread.start()
    time.sleep(1.0)
    try:
        return browser.timed("/client/")
    finally:
        for thread in slow:
            thread.join()


def test_two_slow_clients_no_longer_block_a_signed_in_page(nginx_in_front):
    site = nginx_in_front
    through_nginx = Browser(site["https"], site["context"])
    through_nginx.sign_in("c1@example.org", "correct horse battery")
    # the production settings arrive through the proxy: https seen, HSTS, Secure cookie
    [cookie] = list(through_nginx.cookies)
    assert cookie.secure
    status, headers, _body = through_nginx.get("/client/")
    assert status == 200 and headers["Strict-Transport-Security"].startswith("max-age=")
    status, quiet = through_nginx.timed("/client/")

    status, behind_nginx = during_two_slow_clients(site["https_port"], site["context"],
                                                   through_nginx)
    assert status == 200
    # the same gunicorn faced directly, with the same session (as nginx would pass it on):
    # its two threads wait on the slow clients' headers
    direct = Browser(site["app"], headers={"Cookie": f"{cookie.name}={cookie.value}",
                                           "X-Forwarded-Proto": "https"})
    status, bare = during_two_slow_clients(site["app_port"], None, direct)
    assert status == 200
    print(f"signed-in page: {quiet * 1000:.0f} ms alone; {behind_nginx * 1000:.0f} ms through "
          f"nginx with two slow clients; {bare * 1000:.0f} ms from bare gunicorn with them")
    assert behind_nginx < NOT_BLOCKED_SECONDS
    # the measurement means something: without nginx the page waited for the slow clients
    assert bare > SLOW_SECONDS - 1.0 - 1.0


def test_nginx_sends_http_to_https_refuses_huge_bodies_and_serves_static(nginx_in_front):
    site = nginx_in_front
    plain = Browser(site["http"])
    status, headers, _body = plain.get("/client/?x=1")
    assert status == 301 and headers["Location"].startswith("https://")
    browser = Browser(site["https"], site["context"])
    status, headers, _body = browser.get("/static/css/app.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    # a body past client_max_body_size (30 MB > 26m) is refused before gunicorn sees a byte
    with socket.create_connection(("127.0.0.1", site["https_port"]), timeout=10) as raw:
        with site["context"].wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"POST /auth/login HTTP/1.1\r\nHost: localhost\r\n"
                         b"Content-Length: 31457280\r\nConnection: close\r\n\r\n")
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("accept, encoding", [("br, gzip", "br"), ("gzip", "gzip"), ("", None)])
def test_nginx_serves_hashed_static_files_for_ever_and_compressed(nginx_in_front, accept,
                                                                   encoding):
    site = nginx_in_front
    browser = Browser(site["https"], site["context"], headers={"Accept-Encoding": accept})
    plain = (ROOT / "static/css/app.css").read_bytes()
    hashed = site["manifest"]["css/app.css"]
    status, headers, body = browser.get(f"/static/{hashed}")
    assert status == 200 and headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in headers["Vary"] and headers["X-Content-Type-Options"] == "nosniff"
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](body)
    assert decoded == plain and (encoding is None or len(body) < len(plain) / 2)
    # the plain name still answers, the same bytes, revalidated on each use
    status, headers, body = browser.get("/static/css/app.css")
    assert status == 200 and headers["Cache-Control"] == "max-age=0, public"
    assert headers.get("Content-Encoding") == encoding

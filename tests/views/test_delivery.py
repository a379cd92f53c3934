"""Static files under hashed names cached for ever (and plain names still served), and pages
compressed as the browser's Accept-Encoding allows, only for requests from our own pages."""
import gzip
import json
import re
from pathlib import Path

import brotli
import pytest

from tests.conftest import app_on_fresh_database
from webapp.views import delivery

ROOT = Path(__file__).resolve().parents[2]
IMMUTABLE = "max-age=315360000, public, immutable"
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}


@pytest.fixture
def source(tmp_path):
    """A small static folder: a stylesheet, a script in a subfolder, a PNG and a hidden marker."""
    folder = tmp_path / "static"
    (folder / "js").mkdir(parents=True)
    (folder / "css").mkdir()
    (folder / "css/app.css").write_text("body { color: #222; }\n" * 200)
    (folder / "js/app.js").write_text("console.log('cupmark');\n" * 200)
    (folder / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (folder / ".copied").write_text("")
    return folder


def test_build_adds_a_hashed_copy_of_each_file_and_compressed_copies(source, tmp_path):
    target = tmp_path / "build"
    manifest = delivery.build(source, target)
    assert set(manifest) == {"css/app.css", "js/app.js", "icon.png"}
    assert re.fullmatch(r"css/app\.[0-9a-f]{12}\.css", manifest["css/app.css"])
    assert re.fullmatch(r"icon\.[0-9a-f]{12}\.png", manifest["icon.png"])
    for plain, hashed in manifest.items():
        data = (source / plain).read_bytes()
        assert (target / plain).read_bytes() == (target / hashed).read_bytes() == data
    css = (source / "css/app.css").read_bytes()
    for name in ("css/app.css", manifest["css/app.css"]):
        assert brotli.decompress((target / f"{name}.br").read_bytes()) == css
        assert gzip.decompress((target / f"{name}.gz").read_bytes()) == css
    # a PNG is compressed already
    assert not (target / "icon.png.gz").exists() and not (target / ".copied").exists()
    assert json.loads((target / delivery.MANIFEST).read_text()) == manifest


def test_a_changed_file_gets_a_new_hashed_name(source, tmp_path):
    before = delivery.build(source, tmp_path / "one")
    (source / "css/app.css").write_text("body { color: #000; }\n")
    after = delivery.build(source, tmp_path / "two")
    assert after["css/app.css"] != before["css/app.css"]
    assert after["js/app.js"] == before["js/app.js"]


def test_a_rebuild_keeps_the_hashed_files_of_earlier_builds(source, tmp_path):
    target = tmp_path / "build"
    first = delivery.build(source, target)
    old_css = (source / "css/app.css").read_bytes()
    (source / "css/app.css").write_text("body { color: #000; }\n" * 200)
    second = delivery.build(source, target)
    (source / "css/app.css").write_text("body { color: #111; }\n" * 200)
    (source / "js/app.js").unlink()
    third = delivery.build(source, target)
    # a page from either earlier build still finds its stylesheet, compressed copies included
    for manifest in (first, second):
        hashed = manifest["css/app.css"]
        assert (target / hashed).exists()
        assert brotli.decompress((target / f"{hashed}.br").read_bytes()) == (
            target / hashed).read_bytes()
    assert (target / first["css/app.css"]).read_bytes() == old_css
    assert (target / "css/app.css").read_bytes() == (source / "css/app.css").read_bytes()
    # the manifest and the plain names are this build's: a file taken out of static/ is gone
    assert json.loads((target / delivery.MANIFEST).read_text()) == third
    assert not (target / "js/app.js").exists() and (target / first["js/app.js"]).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "static"]


def test_a_server_started_before_a_rebuild_still_serves_its_pages_files(source, tmp_path):
    build = tmp_path / "build"
    manifest = delivery.build(source, build)
    for app in app_on_fresh_database(tmp_path, STATIC_BUILD_FOLDER=str(build)):
        (source / "css/app.css").write_text("body { color: #000; }\n" * 200)
        delivery.build(source, build)
        response = app.test_client().get(f"/static/{manifest['css/app.css']}")
        served = response.get_data()
        response.close()
        assert response.status_code == 200
        assert served == ("body { color: #222; }\n" * 200).encode()


@pytest.fixture
def built_app(tmp_path):
    """The app serving a build of this checkout's static/ (as `make` makes it)."""
    build = tmp_path / "build"
    manifest = delivery.build(ROOT / "static", build)
    for app in app_on_fresh_database(tmp_path, STATIC_BUILD_FOLDER=str(build)):
        app.manifest = manifest
        yield app


def static_urls(html: str) -> list[str]:
    """Return every /static/ URL a page links to."""
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_link_the_hashed_names_served_for_ever(built_app):
    client = built_app.test_client()
    urls = static_urls(client.get("/auth/login").get_data(as_text=True))
    hashed = {f"/static/{name}" for name in built_app.manifest.values()}
    assert urls and set(urls) <= hashed
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()


@pytest.mark.parametrize("accept, encoding", [("br, gzip", "br"), ("gzip, deflate", "gzip"),
                                              ("identity", None)])
def test_static_files_come_precompressed_as_accepted(built_app, accept, encoding):
    client = built_app.test_client()
    plain = (ROOT / "static/css/app.css").read_bytes()
    for url in (f"/static/{built_app.manifest['css/app.css']}", "/static/css/app.css"):
        response = client.get(url, headers={"Accept-Encoding": accept})
        assert response.headers.get("Content-Encoding") == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
        assert DECODE[encoding](response.get_data()) == plain
        response.close()


def test_a_plain_name_still_answers_and_is_revalidated(built_app):
    client = built_app.test_client()
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=0, public"
    assert response.get_data() == (ROOT / "static/css/app.css").read_bytes()
    response.close()
    assert client.get("/static/css/nothing.css").status_code == 404


def test_without_a_build_static_is_served_under_plain_names(tmp_path):
    for app in app_on_fresh_database(tmp_path, STATIC_BUILD_FOLDER=str(tmp_path / "none")):
        client = app.test_client()
        urls = static_urls(client.get("/auth/login").get_data(as_text=True))
        assert "/static/css/app.css" in urls
        response = client.get("/static/css/app.css")
        assert response.status_code == 200 and "immutable" not in response.headers["Cache-Control"]
        response.close()


def test_the_service_worker_caches_the_hashed_names(built_app):
    client = built_app.test_client()
    first_line = client.get("/sw.js").get_data(as_text=True).splitlines()[0]
    config = json.loads(re.fullmatch(r"const CUPMARK = (.*);", first_line).group(1))
    hashed = {f"/static/{name}" for name in built_app.manifest.values()}
    static = [url for url in config["shell"] if url.startswith("/static/")]
    assert static and set(static) <= hashed
    assert f"/static/{built_app.manifest['css/app.css']}" in static
    # the worker imports the queue's script under its hashed name too
    assert config["queue"] == f"/static/{built_app.manifest['js/queue.js']}"
    # the offline page (shown from the cache) asks only for files the worker keeps
    page_urls = set(static_urls(client.get("/offline").get_data(as_text=True)))
    assert page_urls and page_urls <= set(static)


@pytest.mark.parametrize("accept, encoding", [("gzip, deflate, br, zstd", "br"),
                                              ("gzip", "gzip"), ("", None)])
def test_pages_are_compressed_as_the_browser_accepts(client, accept, encoding):
    plain = client.get("/auth/login").get_data()
    response = client.get("/auth/login", headers={"Accept-Encoding": accept,
                                                  "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    assert {"Accept-Encoding", "Sec-Fetch-Site"} <= set(response.vary)
    body = DECODE[encoding](response.get_data())
    # the same page but for its CSRF tokens (signed anew each second)
    token = re.compile(rb'(value|"X-CSRFToken": )"[^"]+"')
    assert token.sub(b"", body) == token.sub(b"", plain)
    if encoding:
        assert len(response.get_data()) < len(plain) / 2


@pytest.mark.parametrize("site", ["cross-site", "same-site", None])
def test_pages_asked_for_by_another_site_are_never_compressed(client, site):
    # BREACH: another site's page must not get compressed lengths of a page holding a secret
    headers = {"Accept-Encoding": "br, gzip"} | ({"Sec-Fetch-Site": site} if site else {})
    response = client.get("/auth/login", headers=headers)
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.get_data().startswith(b"<!doctype html>")


def test_a_typed_address_gets_a_compressed_page(client):
    response = client.get("/auth/login", headers={"Accept-Encoding": "br",
                                                  "Sec-Fetch-Site": "none"})
    assert response.headers["Content-Encoding"] == "br"
    assert b"<html" in brotli.decompress(response.get_data())

"""Installability in Chromium: the manifest, its icons, the service worker and offline pages."""
import datetime as dt

from .conftest import axe_violations, shot

SW_ACTIVE = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const worker = registration.active;
  if (worker.state !== "activated") {
    await new Promise((resolve) => worker.addEventListener("statechange",
      () => worker.state === "activated" && resolve()));
  }
  return {state: registration.active.state, scope: registration.scope,
          script: registration.active.scriptURL};
}"""


def test_manifest_is_valid_and_its_icons_load_at_their_sizes(page, base_url):
    page.goto("/auth/login")
    href = page.get_attribute("link[rel=manifest]", "href")
    manifest = page.evaluate("(href) => fetch(href).then((r) => r.json())", href)
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["name"] and manifest["short_name"]
    assert manifest["theme_color"] == page.get_attribute("meta[name=theme-color]", "content")
    for icon in manifest["icons"]:
        size = page.evaluate("""(src) => new Promise((resolve, reject) => {
            const img = new Image();
            img.onload = () => resolve(`${img.naturalWidth}x${img.naturalHeight}`);
            img.onerror = reject;
            img.src = src;
        })""", icon["src"])
        assert size == icon["sizes"], icon
    assert {icon["purpose"] for icon in manifest["icons"]} == {"any", "maskable"}


def test_service_worker_activates_for_the_whole_site(page, base_url):
    page.goto("/auth/login")
    worker = page.evaluate(SW_ACTIVE)
    assert worker == {"state": "activated", "scope": base_url + "/",
                      "script": base_url + "/sw.js"}
    # the shell alone is cached, under a versioned name
    cached = page.evaluate("""async () => {
        const names = await caches.keys();
        const cache = await caches.open(names[0]);
        return {names, urls: (await cache.keys()).map((r) => new URL(r.url).pathname)};
    }""")
    assert len(cached["names"]) == 1 and cached["names"][0].startswith("cupmark-shell-")
    # the very names the page asks for (hashed once `make` built the static files)
    htmx = page.get_attribute("script[src*='/htmx.min.']", "src")
    stylesheets = page.eval_on_selector_all(
        "link[rel=stylesheet]", "(links) => links.map((link) => link.getAttribute('href'))")
    assert "/offline" in cached["urls"] and htmx in cached["urls"]
    assert stylesheets and set(stylesheets) <= set(cached["urls"])
    assert not [url for url in cached["urls"] if not url.startswith(("/static/", "/offline",
                                                                       "/manifest"))]


def test_activation_deletes_older_caches(page):
    # a page with no worker yet: leave a cache as an older version would have
    page.goto("/manifest.webmanifest")
    page.evaluate("caches.open('cupmark-shell-000000000000').then((c) => c.put('/x', new Response('old')))")
    page.goto("/auth/login")
    page.evaluate(SW_ACTIVE)
    page.wait_for_function("() => caches.keys().then((names) => names.length === 1)")
    names = page.evaluate("caches.keys()")
    assert names != ["cupmark-shell-000000000000"] and len(names) == 1


def test_offline_navigation_shows_the_offline_page(page, context, watch):
    page.goto("/auth/login")
    page.evaluate(SW_ACTIVE)
    page.reload()  # now the worker controls the page
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    context.set_offline(True)
    watch.allow("ERR_INTERNET_DISCONNECTED")
    page.goto("/auth/register")
    assert page.get_by_role("heading", name="You are offline").is_visible()
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
    assert axe_violations(page) == []
    shot(page, "offline-page")
    # a boosted (htmx) link tapped offline ends on the same page, not on nothing
    context.set_offline(False)
    page.goto("/auth/login")
    context.set_offline(True)
    watch.allow("htmx:sendError")  # htmx logs the failed request it hands over
    watch.allow("htmx:afterRequest")
    page.click("main a:has-text('Create an account')")
    page.wait_for_selector("h1:has-text('You are offline')")
    context.set_offline(False)


def test_the_offline_page_is_in_the_language_chosen_in_settings(page, context, watch, live_app):
    """Russian chosen in Settings, an English browser: offline, the page is Russian; the
    worker learnt the language from the pages it fetched, not from the browser."""
    from webapp.extensions import db
    from webapp.models import User

    from .conftest import consenting_client, login
    email, _tid = consenting_client(live_app, "offline-ru", "Olga Offline", dt.timedelta(hours=2))
    with live_app.app_context():
        db.session.scalar(db.select(User).where(User.email == email)).language = "ru"
        db.session.commit()
    page.goto("/auth/login")
    page.evaluate(SW_ACTIVE)
    login(page, email)  # the pages after it come in Russian, through the worker
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    page.wait_for_function("""() => caches.keys().then((names) => caches.open(names[0]))
        .then((cache) => cache.match('/offline-language')).then((r) => r && r.text())
        .then((text) => text === 'ru')""")
    context.set_offline(True)
    watch.allow("ERR_INTERNET_DISCONNECTED")
    page.goto("/client/")
    assert page.get_by_role("heading", name="Нет подключения к сети").is_visible()
    assert page.evaluate("document.documentElement.lang") == "ru"
    context.set_offline(False)

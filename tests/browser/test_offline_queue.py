"""The offline upload queue in Chromium: kept on the phone before it is sent, uploaded once
(offline, on a signal that never answers, where IndexedDB refuses Blobs, across a second
person signing in), refusals shown."""
import datetime as dt

import pytest
import sqlalchemy as sa

from webapp.analysis import synthetic
from webapp.extensions import db
from webapp.models import CheckIn, Consent, User, utcnow

from .conftest import (ARTIFACTS, axe_violations, consenting_client, login, no_horizontal_scroll,
                       shot, worker_registration)

QUEUE_COUNT = "CupmarkQueue.all('uploads').then((items) => items.length)"
SAVED = "Saved on this phone — it will upload by itself."
# Safari has refused to keep a Blob in IndexedDB: put() of a value holding one throws, as there
REFUSE_BLOBS = """
const put = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (value, ...rest) {
  if (value && value.photo && value.photo.blob instanceof Blob) {
    throw new DOMException("Blobs are not supported here", "DataCloneError");
  }
  return put.call(this, value, ...rest);
};
"""
# a phone whose storage takes nothing at all (full, or private browsing)
REFUSE_UPLOADS = """
const put = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (value, ...rest) {
  if (this.name === "uploads") throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  return put.call(this, value, ...rest);
};
"""


def photo_bytes(seed: int = 1, size=(800, 600)) -> bytes:
    """A phone-like JPEG of skin with two fresh marks, made for the test."""
    skin = synthetic.skin_lab_for_ita(35)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 14, "violet"),
                                centre=(0.35, 0.5), radius=0.12),
             synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 12, "violet"),
                                centre=(0.68, 0.5), radius=0.12)]
    return synthetic.save_jpeg(synthetic.render_scene(skin, marks, size=size, seed=seed).image)


@pytest.fixture
def client_with_treatment(live_app):
    """A consenting client with a treatment from yesterday; returns (email, treatment id)."""
    return consenting_client(live_app, "queue", "Quinn Queue", dt.timedelta(days=1))


def checkins(live_app, treatment_id: int) -> int:
    """How many check-ins the server stored for the treatment."""
    with live_app.app_context():
        return db.session.scalar(sa.select(sa.func.count(CheckIn.id))
                                 .where(CheckIn.treatment_id == treatment_id))


def fill_checkin(page, treatment_id: int, seed: int = 1) -> None:
    """Open the check-in form and fill it with a generated photo."""
    page.goto(f"/treatments/{treatment_id}/checkin")
    page.set_input_files("#photo", files=[{"name": "marks.jpg", "mimeType": "image/jpeg",
                                           "buffer": photo_bytes(seed)}])
    page.fill("#pain", "2")
    # the preview shows once the photo was downscaled and put back into the input
    page.wait_for_selector("[data-capture-preview]:not([hidden])")


def dispatch_sync(page, tag: str) -> None:
    """Fire the Background Sync event `tag` at the page's service worker registration."""
    session = page.context.new_cdp_session(page)
    registration = worker_registration(session, page)
    origin = page.evaluate("() => location.origin")
    session.send("ServiceWorker.dispatchSyncEvent", {
        "origin": origin, "registrationId": registration, "tag": tag, "lastChance": False})
    session.detach()


def go_offline_and_send(page, context, watch) -> None:
    """Send the check-in form without a network."""
    watch.allow("ERR_INTERNET_DISCONNECTED")
    context.set_offline(True)
    page.click("#checkin-form button[type=submit]")
    page.wait_for_selector("#upload-queue:not([hidden]) .queue-waiting")


def test_offline_checkin_is_queued_then_uploaded_exactly_once(page, context, watch, live_app,
                                                               client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    fill_checkin(page, treatment_id)
    go_offline_and_send(page, context, watch)
    assert page.inner_text("#upload-queue") == "1 photo waiting to upload"
    assert "Saved on this phone" in page.inner_text("[data-queue-status]")
    assert page.evaluate(QUEUE_COUNT) == 1
    # what was kept: the photo as a downscaled JPEG blob, the fields, the key, no stale token
    kept = page.evaluate("""CupmarkQueue.all('uploads').then(([item]) => ({
        key: item.key, type: item.photo.blob.type, names: item.fields.map(([n]) => n)}))""")
    assert kept["type"] == "image/jpeg" and len(kept["key"]) == 36
    assert "csrf_token" not in kept["names"] and "pain" in kept["names"]
    assert checkins(live_app, treatment_id) == 0
    assert axe_violations(page) == []
    assert no_horizontal_scroll(page)
    shot(page, "checkin-queued-offline")

    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    context.set_offline(False)
    page.wait_for_selector("#upload-queue .queue-uploaded")
    assert checkins(live_app, treatment_id) == 1
    assert page.evaluate(QUEUE_COUNT) == 0
    assert "A photo you took offline is uploaded." in page.inner_text("#upload-queue")
    shot(page, "checkin-uploaded-after-online")

    # more chances to upload (a reload, another replay) change nothing
    page.reload()
    page.evaluate("CupmarkQueue.replay()")
    assert checkins(live_app, treatment_id) == 1
    assert len([url for url in posts if url.endswith("/checkin")]) == 1
    with live_app.app_context():
        stored = db.session.scalar(sa.select(CheckIn).where(CheckIn.treatment_id == treatment_id))
        assert stored.idempotency_key == kept["key"] and stored.pain == 2


def test_sending_the_same_item_twice_stores_one_checkin(page, live_app, client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    fill_checkin(page, treatment_id, seed=2)
    statuses = page.evaluate("""async () => {
        const form = document.getElementById('checkin-form');
        const item = CupmarkQueue.itemFrom(form.action, new FormData(form), crypto.randomUUID());
        const first = await CupmarkQueue.send(item);
        const second = await CupmarkQueue.send(item);
        return [first.status, second.status, first.data.checkin_id === second.data.checkin_id];
    }""")
    assert statuses == [201, 200, True]
    assert checkins(live_app, treatment_id) == 1


def test_a_refused_queued_photo_is_shown_and_dropped_never_retried(page, context, watch, live_app,
                                                                   client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    fill_checkin(page, treatment_id, seed=3)
    go_offline_and_send(page, context, watch)
    # while the phone is offline the client withdraws consent (from another device)
    with live_app.app_context():
        consent = db.session.scalar(sa.select(Consent).join(User).where(User.email == email))
        consent.withdrawn_at = utcnow()
        db.session.commit()
    watch.allow("status of 403")
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    context.set_offline(False)
    alert = page.wait_for_selector("#upload-queue .queue-refused [role=alert]")
    assert "was not accepted" in alert.inner_text()
    assert "consent" in alert.inner_text()
    assert page.evaluate(QUEUE_COUNT) == 0
    # the form no longer claims the photo is saved on the phone
    assert "Saved on this phone" not in page.inner_text("#checkin-form")
    shot(page, "checkin-refused-after-online")
    # the notice stays until read; the photo is never sent again
    page.reload()
    page.evaluate("CupmarkQueue.replay()")
    assert page.is_visible("#upload-queue .queue-refused")
    page.click("#upload-queue .queue-refused button")
    page.wait_for_selector("#upload-queue", state="hidden")
    assert len([url for url in posts if url.endswith("/checkin")]) == 1
    assert checkins(live_app, treatment_id) == 0


def test_server_errors_are_retried_a_bounded_number_of_times(page, context, watch, live_app,
                                                             client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    fill_checkin(page, treatment_id, seed=5)
    watch.allow("status of 503")
    posts = []
    # the server fails every upload (pages and the service worker alike) until it is fixed
    context.route("**/checkin", lambda route: (posts.append(1), route.fulfill(status=503))
                  if route.request.method == "POST" else route.continue_())
    page.click("#checkin-form button[type=submit]")
    page.wait_for_selector("#upload-queue .queue-waiting")
    # each pause is skipped, so the retries come at once; a replay that finds the queue busy
    # (the service worker's sync replaying it) is tried again
    for _ in range(40):
        failed = page.evaluate("""async () => {
            const items = await CupmarkQueue.all('uploads');
            if (items.some((item) => item.state === 'failed')) return true;
            for (const item of items) { item.nextAt = 0; await CupmarkQueue.save(item); }
            const result = await CupmarkQueue.replay();
            if (result.busy) await new Promise((resolve) => setTimeout(resolve, 100));
            return false;
        }""")
        if failed:
            break
    page.wait_for_selector("#upload-queue .queue-failed [role=alert]")
    tries = len(posts)
    assert 5 <= tries <= 7  # the first send, then MAX_SERVER_ERRORS replays (and a sync)
    page.evaluate("CupmarkQueue.replay()")
    assert len(posts) == tries  # a failed item is no longer retried by itself
    shot(page, "checkin-failed-after-server-errors")
    context.unroute("**/checkin")
    page.click("#upload-queue .queue-failed button:has-text('Try again')")
    page.wait_for_selector("#upload-queue .queue-uploaded")
    assert checkins(live_app, treatment_id) == 1


def test_an_online_refusal_is_shown_in_the_form_and_nothing_is_queued(page, watch, live_app,
                                                                      client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    page.goto(f"/treatments/{treatment_id}/checkin")
    page.set_input_files("#photo", files=[{"name": "marks.jpg", "mimeType": "image/jpeg",
                                           "buffer": b"these bytes are not a photo"}])
    page.fill("#pain", "1")
    watch.allow("status of 422")
    page.click("#checkin-form button[type=submit]")
    alert = page.wait_for_selector("[data-queue-status][role=alert]:not(:empty)")
    assert "not a photo we can read" in alert.inner_text()
    assert page.evaluate(QUEUE_COUNT) == 0
    assert checkins(live_app, treatment_id) == 0


def test_background_sync_uploads_with_no_page_left_to_do_it(page, context, watch, live_app,
                                                            client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    fill_checkin(page, treatment_id, seed=6)
    go_offline_and_send(page, context, watch)
    assert page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.sync.getTags())") \
        == ["cupmark-upload"]
    # only a page without our scripts stays open: the upload must come from the worker
    bare = context.new_page()
    bare.goto("/manifest.webmanifest")
    page.close()
    context.set_offline(False)
    # When Chromium fires a registered sync is its own scheduling: on a loaded machine it fired
    # while the worker was still emulated offline and backed off for minutes (a red CI). So
    # the test fires it the way the browser does, through DevTools, once the network is back.
    dispatch_sync(bare, "cupmark-upload")
    for _ in range(50):
        if checkins(live_app, treatment_id):
            break
        bare.wait_for_timeout(200)
    assert checkins(live_app, treatment_id) == 1
    assert bare.evaluate("() => navigator.serviceWorker.ready.then((r) => r.sync.getTags())") \
        == []


def test_the_queue_gives_up_waiting_after_about_twenty_seconds(page, client_with_treatment):
    email, _ = client_with_treatment
    login(page, email)
    assert page.evaluate("CupmarkQueue.sendTimeoutMs") == 20_000


def test_lie_fi_a_post_that_never_answers_is_kept_and_uploaded_exactly_once(
        page, context, watch, live_app, client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    fill_checkin(page, treatment_id, seed=7)
    # lie-fi: the phone is online and the upload reaches the server, but no answer ever comes
    # back (to the page or to the service worker) until the signal recovers
    posts, held = [], []
    lie_fi = [True]

    def upload(route):
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch()
        posts.append(answer.status)
        if lie_fi[0]:
            held.append((route, answer))
        else:
            route.fulfill(response=answer)

    context.route("**/checkin", upload)
    # a phone waits about 20 s (the test above); here 2 s, so the test does not idle
    page.evaluate("CupmarkQueue.sendTimeoutMs = 2000")
    page.click("#checkin-form button[type=submit]")
    page.wait_for_selector(f"[data-queue-status]:has-text('{SAVED}')", timeout=8000)
    assert page.evaluate(QUEUE_COUNT) == 1
    assert page.inner_text("#upload-queue") == "1 photo waiting to upload"
    assert checkins(live_app, treatment_id) == 1  # it did arrive: only the answer was lost
    assert page.get_attribute("#checkin-form button[type=submit]", "aria-busy") is None
    # the words are where the client looks after tapping Send, not off screen above
    page.wait_for_function("""() => {
        const box = document.querySelector('[data-queue-status]').getBoundingClientRect();
        return box.top >= 0 && box.bottom <= innerHeight; }""")
    page.screenshot(path=str(shot(page, "checkin-saved-on-lie-fi").with_name(
        "checkin-saved-on-lie-fi-screen.png")))

    # the app is closed; the signal recovers; answers still on the way arrive at last
    page.close()
    lie_fi[0] = False
    for route, answer in held:
        try:
            route.fulfill(response=answer)
        except Exception:  # the page gave up on it (its timeout aborted the request)
            pass
    watch.allow("net::ERR_ABORTED")
    reopened = context.new_page()
    reopened.goto("/client/")
    reopened.wait_for_selector("#upload-queue .queue-uploaded", timeout=15000)
    assert reopened.evaluate(QUEUE_COUNT) == 0
    reopened.evaluate("CupmarkQueue.replay()")
    assert len(posts) >= 2  # sent again with the same key ...
    assert checkins(live_app, treatment_id) == 1  # ... and stored once


def test_a_blob_that_indexeddb_refuses_is_kept_as_an_array_buffer(page, context, watch, live_app,
                                                                  client_with_treatment):
    email, treatment_id = client_with_treatment
    context.add_init_script(REFUSE_BLOBS)
    login(page, email)
    fill_checkin(page, treatment_id, seed=8)
    go_offline_and_send(page, context, watch)
    assert SAVED in page.inner_text("[data-queue-status]")
    kept = page.evaluate("""CupmarkQueue.all('uploads').then(([item]) => ({
        blob: 'blob' in item.photo, bytes: item.photo.buffer.byteLength, type: item.photo.type}))""")
    assert kept["blob"] is False and kept["bytes"] > 10_000 and kept["type"] == "image/jpeg"
    context.set_offline(False)
    page.wait_for_selector("#upload-queue .queue-uploaded")
    assert checkins(live_app, treatment_id) == 1
    with live_app.app_context():
        stored = db.session.scalar(sa.select(CheckIn).where(CheckIn.treatment_id == treatment_id))
        assert stored.reading is not None and stored.reading.ok


def test_a_photo_the_phone_cannot_keep_is_said_plainly_and_the_form_stays_filled(
        page, context, watch, live_app, client_with_treatment):
    email, treatment_id = client_with_treatment
    context.add_init_script(REFUSE_UPLOADS)
    login(page, email)
    fill_checkin(page, treatment_id, seed=9)
    watch.allow("ERR_INTERNET_DISCONNECTED")
    context.set_offline(True)
    page.click("#checkin-form button[type=submit]")
    alert = page.wait_for_selector("[data-queue-status][role=alert]:not(:empty)")
    assert "could not keep the photo" in alert.inner_text()
    assert page.evaluate("document.getElementById('photo').files.length") == 1
    assert page.input_value("#pain") == "2"
    assert page.evaluate(QUEUE_COUNT) == 0
    page.screenshot(path=str(ARTIFACTS / "checkin-not-kept-screen.png"))
    # back online, the same form goes up as it is
    context.set_offline(False)
    page.click("#checkin-form button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/checkin"), wait_until="commit")
    assert checkins(live_app, treatment_id) == 1


def test_a_second_person_signing_in_leaves_the_first_persons_photo_queued_for_them(
        page, context, watch, live_app, client_with_treatment):
    email, treatment_id = client_with_treatment
    other_email, other_treatment = consenting_client(live_app, "second", "Sam Second",
                                                     dt.timedelta(days=1))
    login(page, email)
    fill_checkin(page, treatment_id, seed=10)
    go_offline_and_send(page, context, watch)
    # the signal comes back for pages but not yet for the upload, and then someone else signs
    # in on the same phone
    watch.allow("net::ERR_FAILED")
    context.route("**/checkin", lambda route: route.abort() if route.request.method == "POST"
                  else route.continue_())
    context.set_offline(False)
    login(page, other_email)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    context.unroute("**/checkin")
    page.goto("/client/")
    page.evaluate("CupmarkQueue.replay()")
    page.reload()
    # the second person sees nothing of it, is told nothing about it, and it is not sent
    assert page.is_hidden("#upload-queue")
    assert page.evaluate(QUEUE_COUNT) == 1
    assert page.evaluate("CupmarkQueue.all('notices').then((n) => n.length)") == 0
    assert [url for url in posts if url.endswith("/checkin")] == []
    assert checkins(live_app, treatment_id) == 0
    # their own check-in goes up as usual, past the first person's waiting photo
    fill_checkin(page, other_treatment, seed=11)
    page.click("#checkin-form button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/checkin"), wait_until="commit")
    assert checkins(live_app, other_treatment) == 1
    assert page.evaluate(QUEUE_COUNT) == 1
    # the second person logs out, keeping the first person's photo on the phone
    page.click("summary:has-text('Account')")
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/auth/login")
    assert page.evaluate(QUEUE_COUNT) == 1
    # the first person signs in again: their photo uploads by itself
    login(page, email)
    page.wait_for_selector("#upload-queue .queue-uploaded")
    assert checkins(live_app, treatment_id) == 1
    assert page.evaluate(QUEUE_COUNT) == 0

"""Reminders in Chromium: the settings page at 390×844, a push reminder shown by the service
worker, and the app badge while today's photo is due.

Headless Chromium here cannot subscribe to a real push service (pushManager.subscribe fails
with "Registration failed - permission denied": it has no push service to register with). So
the server sends the reminder to a stand-in push service (the `push_service` fixture) for a
device whose keys the test holds, the test decrypts it as the browser would, and DevTools'
ServiceWorker.deliverPushMessage hands that payload to the page's real service worker.
"""
import datetime as dt
import json

from tests.push_service import Device
from webapp.extensions import db
from webapp.models import ReminderSetting, Treatment, User, utcnow
from webapp.services import reminders

from .conftest import (axe_violations, consenting_client, login, no_horizontal_scroll, shot,
                       worker_registration)

NOTIFICATIONS = """() => navigator.serviceWorker.ready.then((r) => r.getNotifications())
    .then((shown) => shown.map((n) => ({title: n.title, body: n.body, url: n.data.url})))"""
# records what the page asks of the app badge, then lets the browser do it
RECORD_BADGE = """
window.cupmarkBadge = [];
for (const name of ["setAppBadge", "clearAppBadge"]) {
  const real = navigator[name] ? navigator[name].bind(navigator) : null;
  navigator[name] = (...args) => {
    window.cupmarkBadge.push(name === "setAppBadge" ? args[0] : 0);
    return real ? real(...args) : Promise.resolve();
  };
}
"""


def reminder_client(live_app, prefix: str) -> tuple[str, int]:
    """A consenting client with yesterday's treatment and a reminder due at any minute."""
    email, _ = consenting_client(live_app, prefix, "Rhea Reminder", dt.timedelta(hours=30))
    with live_app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        db.session.add(ReminderSetting(user_id=user.id, remind_at=0, quiet_start=0, quiet_end=0))
        db.session.commit()
        return email, user.id


def test_the_reminder_settings_page_on_a_phone(page, context, watch, live_app):
    email, _ = reminder_client(live_app, "settings")
    # Playwright's contexts are incognito ones, where Chromium has no Push API at all
    watch.allow("does not support the Push API in incognito mode")
    context.grant_permissions(["notifications"])
    login(page, email)
    page.click("summary:has-text('Account')")
    page.click("a:has-text('Reminders')")
    page.wait_for_selector("#reminder-form")
    assert "Home Screen" in page.inner_text(".ios-note")
    page.wait_for_selector("[data-push-on]:not([hidden])")
    assert page.inner_text("[data-push-status]") == "Notifications are off for this device."
    assert no_horizontal_scroll(page)
    shot(page, "reminders-settings")
    # a full-page screenshot leaves style="" on inputs, which a boosted swap would copy over
    page.reload()
    # this Chromium has no push service: the tap ends in a plain message, not a spinner
    page.click("[data-push-on]")
    page.wait_for_selector("[data-push-status]:has-text('could not turn notifications on')")
    # the time is saved in the client's own words
    page.fill("#remind_at", "19:30")
    page.click("#reminder-form button[type=submit]")
    page.wait_for_selector(".flashes:has-text('Reminders saved.')")
    assert page.input_value("#remind_at") == "19:30"
    watch.allow("status of 422")
    page.fill("#remind_at", "23:00")
    page.fill("#quiet_start", "22:00")
    page.fill("#quiet_end", "07:00")
    page.click("#reminder-form button[type=submit]")
    error = page.wait_for_selector("#remind_at-help.error")
    assert "inside your quiet hours" in error.inner_text()
    assert axe_violations(page) == []
    assert no_horizontal_scroll(page)
    shot(page, "reminders-settings-refused")


def test_a_push_reminder_is_shown_by_the_service_worker(page, context, live_app, push_service):
    email, user_id = reminder_client(live_app, "push")
    device = Device(push_service.url + "/push/this-phone")
    device.subscribe(live_app, user_id)
    context.grant_permissions(["notifications"])
    login(page, email)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    with live_app.app_context():
        sent = [(s.user.id, s.channel) for s in reminders.send_due(utcnow())]
    assert (user_id, "push") in sent
    (request,) = [r for r in push_service.received if r.path == "/push/this-phone"]
    payload = device.decrypt(request.body)
    session = context.new_cdp_session(page)
    session.send("ServiceWorker.deliverPushMessage", {
        "origin": page.evaluate("() => location.origin"),
        "registrationId": worker_registration(session, page), "data": json.dumps(payload)})
    for _ in range(50):
        shown = page.evaluate(NOTIFICATIONS)
        if shown:
            break
        page.wait_for_timeout(100)
    assert shown == [{"title": "Time for today's photo",
                      "body": "One photo of your marks, in daylight, about 30 cm away.",
                      "url": "/client/"}]


def test_the_app_badge_shows_while_todays_photo_is_due(page, context, live_app):
    email, _ = reminder_client(live_app, "badge")
    context.add_init_script(RECORD_BADGE)
    login(page, email)
    page.goto("/client/")
    assert page.evaluate("window.cupmarkBadge") == [1]
    # the recovery is over (as if resolved long ago): nothing is due, the badge is cleared
    with live_app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        for treatment in db.session.scalars(db.select(Treatment).where(
                Treatment.client_id == user.id)):
            treatment.treated_at = utcnow() - dt.timedelta(days=400)
        db.session.commit()
    page.goto("/client/")
    assert page.evaluate("window.cupmarkBadge") == [0]


"""Reminders: when one is due (time, quiet hours, today's photo, DST), push to a local push
service or email for clients without push, the idempotent cron command, the settings page and
this device's subscription, the app badge's flag."""
import datetime as dt

import pytest
import sqlalchemy as sa

from tests.push_service import FCM, Device, b64url
from tests.recovery_rows import add_checkin
from webapp.extensions import db
from webapp.models import PushSubscription, ReminderSent, ReminderSetting, Treatment
from webapp.services import push, reminders


def client_with_treatment(app, make_user, treated_at: dt.datetime, timezone="UTC",
                          address="rita@example.org", **setting) -> int:
    """Add a client with one treatment and a reminder setting; return the client's id."""
    user = make_user(address, "client", "Rita Reminder", timezone=timezone)
    with app.app_context():
        db.session.add(Treatment(client_id=user.id, recorded_by_id=user.id, treated_at=treated_at,
                                 body_area="upper_back", technique="static", cup_count=6,
                                 cup_material="glass", suction="medium"))
        db.session.add(ReminderSetting(user_id=user.id, **{
            "remind_at": 18 * 60, "quiet_start": 21 * 60, "quiet_end": 8 * 60, **setting}))
        db.session.commit()
    return user.id


def send_due(app, now: dt.datetime) -> list[tuple[int, str]]:
    """Run the reminders at `now`; return (user id, channel) of each sent."""
    with app.app_context():
        return [(s.user.id, s.channel) for s in reminders.send_due(now)]


def at(text: str) -> dt.datetime:
    """An aware UTC time from ISO text."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


# ---- when a reminder is due ----

@pytest.mark.parametrize("minute, quiet", [(22 * 60, True), (3 * 60, True), (7 * 60 + 59, True),
                                           (8 * 60, False), (20 * 60 + 59, False)])
def test_quiet_hours_across_midnight(minute, quiet):
    assert reminders.in_quiet_hours(minute, 21 * 60, 8 * 60) is quiet


def test_quiet_hours_within_a_day_and_none():
    assert reminders.in_quiet_hours(13 * 60, 12 * 60, 14 * 60)
    assert not reminders.in_quiet_hours(14 * 60, 12 * 60, 14 * 60)
    assert not reminders.in_quiet_hours(3 * 60, 0, 0)


def test_a_reminder_comes_at_its_time_once_a_day_and_never_in_quiet_hours(app, make_user,
                                                                           push_service):
    uid = client_with_treatment(app, make_user, at("2026-11-28T09:00:00"))
    Device(push_service.url + "/push/rita").subscribe(app, uid)
    assert send_due(app, at("2026-11-30T17:59:00")) == []  # before the chosen time
    assert send_due(app, at("2026-11-30T18:05:00")) == [(uid, "push")]
    assert send_due(app, at("2026-11-30T18:15:00")) == []  # once a day
    assert len(push_service.received) == 1
    # cron was down all evening: at 22:00 the quiet hours hold, the next morning is not yet 18:00
    assert send_due(app, at("2026-12-01T21:30:00")) == []
    assert send_due(app, at("2026-12-02T07:00:00")) == []
    assert len(push_service.received) == 1


def test_no_reminder_once_todays_photo_is_taken(app, make_user, push_service):
    uid = client_with_treatment(app, make_user, at("2026-11-29T06:00:00"))
    Device(push_service.url + "/push/rita").subscribe(app, uid)
    with app.app_context():
        tid = db.session.scalar(sa.select(Treatment.id).where(Treatment.client_id == uid))
    add_checkin(app, tid, 1.2, 12.0)  # 10:48 on the 30th
    assert send_due(app, at("2026-11-30T18:30:00")) == []
    assert push_service.received == []


def test_no_reminder_without_a_recovery_under_way_or_when_turned_off(app, make_user):
    old = client_with_treatment(app, make_user, at("2026-08-01T09:00:00"), address="old@example.org")
    off = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"), address="off@example.org",
                                enabled=False)
    assert send_due(app, at("2026-11-30T18:30:00")) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ReminderSent.id)).where(
            ReminderSent.user_id.in_([old, off]))) == 0


def test_the_reminder_time_is_wall_clock_across_the_clocks_going_back(app, make_user, push_service):
    # Europe/Berlin: 18:00 is 16:00 UTC on Saturday 24 October 2026, 17:00 UTC on Sunday the 25th
    uid = client_with_treatment(app, make_user, at("2026-10-23T08:00:00"), timezone="Europe/Berlin")
    Device(push_service.url + "/push/rita").subscribe(app, uid)
    assert send_due(app, at("2026-10-24T15:59:00")) == []
    assert send_due(app, at("2026-10-24T16:00:00")) == [(uid, "push")]
    assert send_due(app, at("2026-10-25T16:30:00")) == []  # 17:30 in Berlin, after the change
    assert send_due(app, at("2026-10-25T17:00:00")) == [(uid, "push")]


def test_a_client_without_push_gets_an_email(app, make_user, outbox):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    assert send_due(app, at("2026-11-30T18:30:00")) == [(uid, "email")]
    (message,) = outbox()
    assert message["To"] == "rita@example.org"
    assert message["Subject"] == "Time for today's photo"
    assert "today's photo" in message.get_body().get_content()


def test_a_device_that_is_gone_falls_back_to_email(app, make_user, push_service, outbox):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    Device(push_service.url + "/push/old-phone").subscribe(app, uid)
    push_service.status = 410
    assert send_due(app, at("2026-11-30T18:30:00")) == [(uid, "email")]
    assert len(outbox()) == 1
    with app.app_context():
        assert push.device_count(uid) == 0


def test_a_device_whose_keys_cannot_encrypt_is_forgotten_and_stops_nobody(app, make_user,
                                                                          push_service, outbox):
    # stored before keys were checked: 65 bytes that are no P-256 point
    first = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    broken = Device(push_service.url + "/push/broken")
    broken.p256dh = b64url(b"a" * 65)
    broken.subscribe(app, first)
    second = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"),
                                   address="sam@example.org")
    Device(push_service.url + "/push/sam").subscribe(app, second)
    assert sorted(send_due(app, at("2026-11-30T18:30:00"))) == [(first, "email"), (second, "push")]
    with app.app_context():
        assert (push.device_count(first), push.device_count(second)) == (0, 1)


def test_a_client_who_wants_no_email_and_has_no_device_is_noted_not_mailed(app, make_user, outbox):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"), email=False)
    assert send_due(app, at("2026-11-30T18:30:00")) == [(uid, "none")]
    assert outbox() == []
    assert send_due(app, at("2026-11-30T18:40:00")) == []


def test_flask_reminders_send_is_idempotent_and_prints_what_it_sent(app, make_user, runner,
                                                                    push_service):
    now = dt.datetime.now(dt.timezone.utc)
    # due at any minute of today: reminder at 00:00, no quiet hours
    uid = client_with_treatment(app, make_user, now - dt.timedelta(hours=30),
                                remind_at=0, quiet_start=0, quiet_end=0)
    Device(push_service.url + "/push/rita").subscribe(app, uid)
    first = runner.invoke(args=["reminders", "send"])
    assert first.exit_code == 0, first.output
    assert "Sent 1 reminder(s)." in first.output
    assert f"user {uid} ({now.date().isoformat()}): push to 1 device(s)" in first.output
    second = runner.invoke(args=["reminders", "send"])
    assert second.output.strip() == "Sent 0 reminder(s)."
    assert len(push_service.received) == 1


def test_two_runs_at_once_remind_once(app, make_user, push_service):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    Device(push_service.url + "/push/rita").subscribe(app, uid)
    with app.app_context():
        # another run claimed the day a moment ago, after this one looked
        db.session.add(ReminderSent(user_id=uid, day=dt.date(2026, 11, 30), channel="push"))
        db.session.commit()
    assert send_due(app, at("2026-11-30T18:30:00")) == []
    assert push_service.received == []


# ---- the settings page and this device's subscription ----

def test_the_settings_page_asks_for_a_time_and_explains_iphone(app, client, make_user, auth):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    with app.app_context():
        db.session.delete(db.session.get(ReminderSetting, uid))
        db.session.commit()
        key = push.application_server_key()
    auth.login("rita@example.org")
    page = client.get("/reminders/").get_data(as_text=True)
    assert "Home Screen" in page and "iPhone" in page
    assert f'data-key="{key}"' in page
    assert 'type="time"' in page
    response = client.post("/reminders/", data={"enabled": "y", "remind_at": "19:30",
                                                "quiet_start": "22:00", "quiet_end": "07:00",
                                                "email": "y"})
    assert response.status_code == 302
    with app.app_context():
        setting = db.session.get(ReminderSetting, uid)
        assert (setting.enabled, setting.remind_at, setting.quiet_start, setting.quiet_end,
                setting.email) == (True, 19 * 60 + 30, 22 * 60, 7 * 60, True)
    refused = client.post("/reminders/", data={"enabled": "y", "remind_at": "23:00",
                                               "quiet_start": "22:00", "quiet_end": "07:00"})
    assert refused.status_code == 422
    assert "inside your quiet hours" in refused.get_data(as_text=True)
    missing = client.post("/reminders/", data={"enabled": "y", "remind_at": "",
                                               "quiet_start": "22:00", "quiet_end": "07:00"})
    assert missing.status_code == 422
    with app.app_context():
        assert db.session.get(ReminderSetting, uid).remind_at == 19 * 60 + 30


def test_the_settings_and_devices_are_for_clients_only(client, people, auth):
    assert client.get("/reminders/").status_code == 302  # to the login page
    auth.login(people["t1"])
    assert client.get("/reminders/").status_code == 404
    assert client.post("/reminders/devices", json=Device(FCM).json()).status_code == 404


def test_a_device_subscribes_and_unsubscribes(app, client, people, auth):
    auth.login(people["c1"])
    device = Device(FCM)
    response = client.post("/reminders/devices", json=device.json())
    assert response.status_code == 200 and response.get_json()["devices"] == 1
    assert response.headers["Cache-Control"] == "no-store"
    # the same browser subscribing again keeps one row
    assert client.post("/reminders/devices", json=device.json()).get_json()["devices"] == 1
    # the phone changes hands: it reminds its new owner only
    auth.logout()
    auth.login(people["c2"])
    assert client.post("/reminders/devices", json=device.json()).get_json()["devices"] == 1
    with app.app_context():
        assert push.device_count(people["c1"].id) == 0
    # the same address with other keys is not that browser: refused, and the device stays its own
    impostor = Device(FCM)
    auth.logout()
    auth.login(people["c1"])
    response = client.post("/reminders/devices", json=impostor.json())
    assert response.status_code == 422
    assert "no subscription we can use" in response.get_json()["message"]
    with app.app_context():
        assert (push.device_count(people["c1"].id), push.device_count(people["c2"].id)) == (0, 1)
        assert db.session.scalar(sa.select(PushSubscription.p256dh)) == device.p256dh
    # a client cannot remove another's device, only their own
    auth.logout()
    auth.login(people["c1"])
    client.post("/reminders/devices/remove", json={"endpoint": FCM})
    with app.app_context():
        assert push.device_count(people["c2"].id) == 1
    auth.logout()
    auth.login(people["c2"])
    for odd in ({"endpoint": {"$ne": 1}}, {"endpoint": None}, ["x"]):
        response = client.post("/reminders/devices/remove", json=odd)
        assert response.status_code == 422 and "no subscription" in response.get_json()["message"]
    assert client.post("/reminders/devices/remove", json={"endpoint": FCM}).get_json()["devices"] == 0


@pytest.mark.parametrize("change, message", [
    ({"endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "not one we can send to"),
    ({"endpoint": "https://169.254.169.254/latest"}, "not one we can send to"),
    ({"endpoint": "https://fcm.googleapis.com.evil.example/x"}, "not one we can send to"),
    ({"endpoint": 7}, "not one we can send to"),
    ({"endpoint": "https://fcm.googleapis.com:99999/x"}, "not one we can send to"),
    ({"endpoint": "https://fcm.googleapis.com/x\x00y"}, "not one we can send to"),
    ({"keys": {"p256dh": "short", "auth": "x"}}, "no subscription we can use"),
    # 65 bytes, but no point on the P-256 curve: every push to it would fail to encrypt
    ({"keys": {"p256dh": b64url(b"a" * 65), "auth": b64url(b"b" * 16)}}, "no subscription we can use"),
    ({"keys": "none"}, "no subscription we can use"),
])
def test_a_bad_subscription_is_refused_with_a_message(client, people, auth, change, message):
    auth.login(people["c1"])
    response = client.post("/reminders/devices", json={**Device(FCM).json(), **change})
    assert response.status_code == 422
    assert message in response.get_json()["message"]
    assert client.post("/reminders/devices", data="not json").status_code == 422


def test_a_test_notification_goes_to_the_clients_devices(app, client, make_user, auth,
                                                         push_service):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    device = Device(push_service.url + "/push/rita")
    device.subscribe(app, uid)
    auth.login("rita@example.org")
    response = client.post("/reminders/test", follow_redirects=True)
    assert "Sent to 1 device(s)" in response.get_data(as_text=True)
    assert device.decrypt(push_service.received[0].body)["url"] == "/reminders/"


def test_pages_say_whether_todays_photo_is_due_for_the_app_badge(app, client, make_user, auth):
    now = dt.datetime.now(dt.timezone.utc)
    uid = client_with_treatment(app, make_user, now - dt.timedelta(hours=30))
    auth.login("rita@example.org")
    assert 'data-photo-due="1"' in client.get("/client/").get_data(as_text=True)
    with app.app_context():
        tid = db.session.scalar(sa.select(Treatment.id).where(Treatment.client_id == uid))
    add_checkin(app, tid, (30 * 60 - 1) / (24 * 60), 12.0)  # a minute ago
    assert 'data-photo-due="0"' in client.get("/client/").get_data(as_text=True)

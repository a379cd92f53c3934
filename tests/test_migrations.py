"""Migrations: an empty database upgrades to head, and the result matches the models."""
import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.recovery_rows import add_checkin, make_treatment
from webapp.extensions import db
from webapp.models import (CheckIn, Flag, Mark, Reading, RecoverySummary, Treatment, User,
                           render_migration_item)
from webapp.services import reasons


@pytest.fixture
def empty_database(app):
    """An app context on an empty database (no tables, no alembic_version) for migrating.

    Afterwards the models' schema is back, which the app fixture's teardown drops again.
    """
    with app.app_context():
        db.drop_all()
        try:
            yield
        finally:
            db.session.remove()
            db.drop_all()
            with db.engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
            db.create_all()


def test_upgrade_from_empty_matches_models(empty_database):
    upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "render_item": render_migration_item})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_followed_marks_migration_downgrades_and_upgrades_again(empty_database):
    upgrade()
    downgrade(revision="0001")
    tables = set(sa.inspect(db.engine).get_table_names())
    assert "mark" not in tables and "mark_reading" not in tables
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("check_in")}
    assert "marks_confirmed_at" not in columns
    upgrade()
    assert {"mark", "mark_reading"} <= set(sa.inspect(db.engine).get_table_names())


def test_device_sessions_migration_downgrades_and_upgrades_again(empty_database):
    upgrade()
    downgrade(revision="0002")
    assert "user_session" not in set(sa.inspect(db.engine).get_table_names())
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("user")}
    assert "session_version" in columns and "email_verified_at" not in columns
    upgrade()
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("user")}
    assert "email_verified_at" in columns and "session_version" not in columns


def test_a_person_stored_with_a_placeholder_zone_gets_utc(empty_database):
    upgrade(revision="0010")
    people = sa.table("user", sa.column("id", sa.Integer), sa.column("email", sa.String),
                      sa.column("password_hash", sa.String), sa.column("role", sa.String),
                      sa.column("name", sa.String), sa.column("timezone", sa.String),
                      sa.column("created_at", sa.DateTime))
    with db.engine.begin() as connection:
        for n, zone in enumerate(("Factory", "localtime", "Europe/Berlin"), start=1):
            connection.execute(people.insert().values(
                id=n, email=f"p{n}@example.com", password_hash="x", role="client",
                name=f"P{n}", timezone=zone, created_at=dt.datetime(2026, 1, 1)))
    upgrade()
    with db.engine.connect() as connection:
        zones = dict(connection.execute(sa.select(people.c.id, people.c.timezone)).all())
    assert zones == {1: "UTC", 2: "UTC", 3: "Europe/Berlin"}


def stored_client(timezone: str) -> User:
    """Store a client living in the zone in the migrated database; return it."""
    client = User(email="c@example.com", role="client", name="C", timezone=timezone,
                  password_hash="x")
    db.session.add(client)
    db.session.commit()
    return client


def test_a_deleted_rows_id_is_never_given_again_and_the_upgrade_keeps_every_row(
        app, empty_database):
    upgrade(revision="0011")
    # a client with a treatment and two check-ins, one with its reading (a child row
    # that ON DELETE CASCADE would take with a rebuilt parent)
    client = stored_client("UTC")
    treatment_id = make_treatment(app, client)
    first = add_checkin(app, treatment_id, 1.0, 12.0)
    latest = add_checkin(app, treatment_id, 2.0, 10.0)
    db.session.remove()
    upgrade()
    assert db.session.scalars(sa.select(CheckIn.id).order_by(CheckIn.id)).all() == [
        first, latest]
    assert db.session.scalar(sa.select(sa.func.count(Reading.id))) == 2
    # the latest check-in is deleted: the next one gets an id of its own
    db.session.delete(db.session.get(CheckIn, latest))
    db.session.commit()
    assert add_checkin(app, treatment_id, 2.5, 9.0) > latest
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_stored_reason_names_the_clients_calendar_day_after_the_upgrade(app, empty_database):
    # a flag raised before 0013 said "on day 5.8" (days elapsed): a treatment at 20:00 in Berlin
    # and a photo 5.8 days later, at 15:12 on the sixth date there
    upgrade(revision="0012")
    client = stored_client("Europe/Berlin")
    treatment_id = make_treatment(app, client)
    treatment = db.session.get(Treatment, treatment_id)
    treatment.treated_at = dt.datetime(2026, 11, 1, 19, 0, tzinfo=dt.timezone.utc)
    figures = {"n": 3, "e_last": 12.0, "ceiling": 4.3}
    old = {"keys": ["above_curve_mark"], "figures": {**figures, "t_last": 5.8}}
    db.session.add(Flag(treatment_id=treatment_id, kind="slow_healing", reason="on day 5.8",
                        reason_data=old))
    db.session.add(RecoverySummary(treatment_id=treatment_id, verdict="slow", reason_data=old))
    db.session.commit()
    db.session.remove()
    upgrade(revision="0013")
    flag = db.session.scalar(sa.select(Flag))
    assert flag.reason_data["figures"] == {**figures, "day_last": 6}
    assert db.session.get(RecoverySummary, treatment_id).reason_data == flag.reason_data
    with app.test_request_context():
        assert "Mark 3 is fading slower than expected: on day 6 its" in reasons.said(
            flag.reason_data)
    db.session.remove()
    downgrade(revision="0012")
    assert db.session.scalar(sa.select(Flag)).reason_data["figures"]["t_last"] == 6.5


def test_a_mark_stopped_before_0014_is_followed_until_the_photo_it_was_stopped_on(
        app, empty_database):
    # before 0014 a stopped mark had only removed_at, and left every day; the audit names the
    # photo it was stopped on. Marks 1-2 were confirmed on the first photo, mark 3 added on
    # the second, mark 2 stopped on the third
    upgrade(revision="0013")
    treatment_id = make_treatment(app, stored_client("UTC"))
    photos = [add_checkin(app, treatment_id, t, 10.0) for t in (1.0, 2.0, 3.0)]
    taken = dict(db.session.execute(sa.select(CheckIn.id, CheckIn.taken_at)).all())
    mark = sa.table("mark", *(sa.column(n) for n in (
        "id", "treatment_id", "number", "x", "y", "created_at", "removed_at")))
    reading = sa.table("mark_reading", *(sa.column(n) for n in (
        "checkin_id", "mark_id", "x", "y", "set_by", "analyzer_version", "data", "measured_at")))
    audit = sa.table("audit_event", *(sa.column(n) for n in (
        "action", "object_type", "object_id", "at", "detail")))
    now = dt.datetime(2026, 12, 1, 12)
    with db.engine.begin() as connection:
        for number in (1, 2, 3):
            connection.execute(mark.insert().values(
                id=number, treatment_id=treatment_id, number=number, x=0.5, y=0.5,
                created_at=now, removed_at=now if number == 2 else None))
        for checkin, marks in ((photos[0], (1, 2)), (photos[1], (1, 2, 3)), (photos[2], (1, 2, 3))):
            for number in marks:
                connection.execute(reading.insert().values(
                    checkin_id=checkin, mark_id=number, x=0.5, y=0.5, set_by="client",
                    analyzer_version="x", data=sa.literal({}, sa.JSON), measured_at=now))
        connection.execute(audit.insert().values(
            action="stop_following_mark", object_type="mark", object_id=2, at=now,
            detail=sa.literal({"checkin_id": photos[2], "mark": 2}, sa.JSON)))
    db.session.remove()
    upgrade()
    spans = {m.number: (m.followed_from, m.followed_until)
             for m in db.session.scalars(sa.select(Mark))}
    assert spans == {1: (None, None), 2: (None, taken[photos[2]]), 3: (taken[photos[1]], None)}
    db.session.remove()
    downgrade(revision="0013")
    assert "followed_until" not in {c["name"] for c in sa.inspect(db.engine).get_columns("mark")}


def test_a_stored_slower_than_expected_reason_names_the_bands_top_after_the_upgrade(
        app, empty_database):
    # before 0015 "above the expected 2.9" named the curve; "where up to" names the band's top
    upgrade(revision="0014")
    treatment_id = make_treatment(app, stored_client("Europe/Berlin"))
    slow = {"keys": ["above_curve_mark"],
            "figures": {"n": 3, "e_last": 3.7, "ceiling": 2.9, "day_last": 7}}
    on_track = {"keys": ["as_expected"], "figures": {"e_last": 3.4, "ceiling": 3.6, "day_last": 7}}
    db.session.add(Flag(treatment_id=treatment_id, kind="slow_healing", reason="", reason_data=slow))
    db.session.add(RecoverySummary(treatment_id=treatment_id, verdict="on_track",
                                   reason_data=on_track))
    db.session.commit()
    db.session.remove()
    upgrade()
    flag = db.session.scalar(sa.select(Flag))
    assert flag.reason_data["figures"] == {**slow["figures"], "ceiling": pytest.approx(3.625)}
    # a reason that named the band's top already is as it was
    assert db.session.get(RecoverySummary, treatment_id).reason_data == on_track
    with app.test_request_context():
        assert "its colour difference is 3.7, where up to 3.6 is expected" in reasons.said(
            flag.reason_data)
    db.session.remove()
    downgrade(revision="0014")
    assert db.session.scalar(sa.select(Flag)).reason_data["figures"] == {
        **slow["figures"], "ceiling": pytest.approx(2.9)}

"""The triage list: ranking by urgency, filters, the since-yesterday panel, constant queries."""
import datetime as dt

import pytest
import sqlalchemy as sa

from tests.recovery_rows import add_checkin, make_treatment, photo_routes  # noqa: F401 (fixture)
from webapp.analysis import PhotoReading
from webapp.extensions import db
from webapp.models import CheckIn, Reading, Treatment, utcnow
from webapp.services import flags, triage

# each constructed state: (days since the treatment, [(t_days, ΔE00, colour), ...])
FADING_4 = [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 11.0, "violet-red"),
            (3.4, 8.5, "green")]
STATES = {
    "Worsening": (3.6, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 8.0, "violet-red"),
                        (3.4, 13.0, "violet")]),
    "Slow far": (5.5, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (3.4, 13.0, "green"),
                       (4.4, 12.5, "green"), (5.4, 12.0, "yellow")]),
    "Slow near": (5.5, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (3.4, 11.0, "green"),
                        (4.4, 9.0, "yellow"), (5.4, 8.5, "yellow")]),
    "Missed long": (30.0, []),
    "Missed": (4.0, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet")]),
    "On track": (3.5, FADING_4),
    "Waiting": (0.5, []),
    "Resolved": (10.0, FADING_4 + [(4.4, 6.5, "yellow"), (5.4, 4.5, "brown"),
                                   (6.4, 2.5, "brown"), (7.4, 2.0, "brown")]),
}
EXPECTED_ORDER = ["Red flag", "Worsening", "Slow far", "Slow near", "Pigment", "Missed long",
                  "Missed", "On track", "Waiting", "Resolved"]


def pigment_data(delta_e: float) -> dict:
    """Return a reading of a brownish patch: redness gone, still darker and yellower."""
    return PhotoReading(ok=True, mark_found=True, marks=1, stage="faint", colour="brown",
                        delta_e=delta_e, delta_lab=[-7.0, 0.3, 3.0], mark_hex="#8c7560",
                        area_fraction=0.02, confidence="high").to_dict()


def build_practice(app, make_user, link, therapist) -> dict[str, int]:
    """Store one client of the therapist in each triage state; return treatment ids by name."""
    ids = {}
    for name, (days_ago, course) in STATES.items():
        person = make_user(f"{name.replace(' ', '').lower()}@example.org", "client", name)
        link(therapist, person)
        ids[name] = make_treatment(app, person, therapist, days_ago=days_ago)
        for t_days, delta_e, colour in course:
            add_checkin(app, ids[name], t_days, delta_e, colour)
    red = make_user("red@example.org", "client", "Red flag")
    link(therapist, red)
    ids["Red flag"] = make_treatment(app, red, therapist, days_ago=3.5)
    for t_days, delta_e, colour in FADING_4:
        add_checkin(app, ids["Red flag"], t_days, delta_e, colour, fever=t_days > 3)
    pigment = make_user("pigment@example.org", "client", "Pigment")
    link(therapist, pigment)
    ids["Pigment"] = make_treatment(app, pigment, therapist, days_ago=8.5)
    for t_days, delta_e in ((0.4, 12.0), (1.4, 14.0), (3.4, 9.0), (5.4, 7.0)):
        add_checkin(app, ids["Pigment"], t_days, delta_e, "violet")
    with app.app_context():
        treatment = db.session.get(Treatment, ids["Pigment"])
        data = pigment_data(6.5)
        db.session.add(CheckIn(
            treatment_id=treatment.id, client_id=treatment.client_id, idempotency_key="pigment",
            upload_sha256="0" * 64, taken_at=treatment.treated_at + dt.timedelta(days=8.4),
            photo_key="p", thumb_key="t",
            reading=Reading(analyzer_version=data["analyzer_version"], ok=True, stage="faint",
                            colour="brown", delta_e=6.5, mark_hex=data["mark_hex"], data=data)))
        # an old recovery that resolved long ago is history, not triage
        old = make_treatment(app, red, therapist, days_ago=30)
        db.session.commit()
        ids["old resolved"] = old
    for t_days, delta_e, colour in STATES["Resolved"][1]:
        add_checkin(app, old, t_days, delta_e, colour, note="old")
    with app.app_context():
        flags.sweep()
        db.session.commit()
    return ids


@pytest.fixture
def practice(app, people, make_user, link):
    """A practice of T1 with a client in every triage state, and T2's client beside it."""
    ids = build_practice(app, make_user, link, people["t1"])
    other = make_treatment(app, people["c2"], people["t2"], days_ago=3.5)
    for t_days, delta_e, colour in FADING_4:
        add_checkin(app, other, t_days, delta_e, colour)
    return ids


def ranked(app, people, **args) -> list[triage.TriageRow]:
    """Return T1's triage rows for the given filters."""
    with app.app_context():
        result = triage.triage(people["t1"].id, utcnow(), triage.Filters(**args))
        return result


def test_ranking_order_puts_each_state_in_its_place(app, people, practice):
    """Red flag, worsening, slow (furthest first), pigmentation, missed, on track, waiting, resolved."""
    result = ranked(app, people)
    assert [row.client.name for row in result.rows] == EXPECTED_ORDER
    assert [row.status for row in result.rows] == [
        "red_flag", "worsening", "slow", "slow", "pigmentation", "missed", "missed", "on_track",
        "waiting", "resolved"]
    slow = [row for row in result.rows if row.status == "slow"]
    assert slow[0].summary.ceiling_ratio > slow[1].summary.ceiling_ratio > 1.25
    assert result.counts == {"red_flag": 1, "worsening": 1, "slow": 2, "pigmentation": 1,
                             "missed": 2, "on_track": 1, "waiting": 1, "resolved": 1}
    assert result.attention == 7


def test_open_red_flag_keeps_a_recovery_on_top_until_acknowledged(app, people, practice):
    """A fever reported yesterday stays first even when today's photo reports none."""
    add_checkin(app, practice["Red flag"], 3.45, 8.0, "green", note="later")
    with app.app_context():
        flags.refresh(db.session.get(Treatment, practice["Red flag"]))
        db.session.commit()
    assert ranked(app, people).rows[0].client.name == "Red flag"
    with app.app_context():
        flag = db.session.scalar(sa.select(flags.Flag).where(
            flags.Flag.treatment_id == practice["Red flag"], flags.Flag.kind == "red_flag_symptom"))
        flag.acknowledged_at = utcnow()
        db.session.commit()
    rows = ranked(app, people).rows
    assert next(r for r in rows if r.client.name == "Red flag").status == "on_track"


def test_an_open_worsening_flag_keeps_the_recovery_near_the_top_until_acknowledged(
        app, people, practice):
    """The client was told their therapist has it at the top of the list: a next photo that
    reads on track again leaves it there (and among those needing attention) until the
    therapist acknowledged the flag."""
    add_checkin(app, practice["Worsening"], 3.5, 6.0, "green", note="better")
    with app.app_context():
        flags.refresh(db.session.get(Treatment, practice["Worsening"]))
        db.session.commit()
        flag = db.session.scalar(sa.select(flags.Flag).where(
            flags.Flag.treatment_id == practice["Worsening"], flags.Flag.kind == "worsening"))
        assert flag is not None and flag.acknowledged_at is None
    result = ranked(app, people)
    row = next(r for r in result.rows if r.client.name == "Worsening")
    assert row.status == "worsening" and row.verdict != "worsening"
    assert "Worsening" in [r.client.name for r in ranked(app, people, status="attention").rows]
    with app.app_context():
        db.session.get(flags.Flag, flag.id).acknowledged_at = utcnow()
        db.session.commit()
    row = next(r for r in ranked(app, people).rows if r.client.name == "Worsening")
    assert row.status != "worsening"


def test_an_acknowledged_red_flag_no_longer_ranks_as_urgent(app, people, practice):
    """Once the therapist acknowledged the fever, its latest check-in alone keeps it not on top."""
    assert ranked(app, people).rows[0].status == "red_flag"
    with app.app_context():
        flag = db.session.scalar(sa.select(flags.Flag).where(
            flags.Flag.treatment_id == practice["Red flag"], flags.Flag.kind == "red_flag_symptom"))
        flag.acknowledged_at = utcnow()
        db.session.commit()
        # the sweep after it neither raises the same flag again nor puts it back on top
        flags.sweep()
        db.session.commit()
    result = ranked(app, people)
    row = next(r for r in result.rows if r.client.name == "Red flag")
    with app.app_context():
        # the latest check-in still reports the fever
        assert db.session.get(flags.RecoverySummary, practice["Red flag"]).red_flag
    assert row.status == "on_track" and result.counts.get("red_flag", 0) == 0
    assert result.rows[0].client.name == "Worsening"


@pytest.mark.parametrize(("args", "names"), [
    ({"query": "slow"}, ["Slow far", "Slow near"]),
    ({"query": "SLOW N"}, ["Slow near"]),
    ({"query": "%"}, []),
    ({"status": "slow"}, ["Slow far", "Slow near"]),
    ({"status": "missed"}, ["Missed long", "Missed"]),
    ({"status": "attention"}, EXPECTED_ORDER[:7]),
    ({"query": "miss", "status": "missed"}, ["Missed long", "Missed"]),
    ({"query": "cleo"}, []),
    ({"query": "cato"}, []),
])
def test_filters_by_name_and_status(app, people, practice, args, names):
    """Search is by name, case-insensitive, literal; status narrows; other practices never show."""
    assert [row.client.name for row in ranked(app, people, **args).rows] == names


def test_filters_from_args_ignore_nonsense():
    """Unknown statuses and silly limits fall back to the defaults."""
    f = triage.Filters.from_args({"q": "  Ann   Lee ", "status": "nope", "limit": "x"})
    assert (f.query, f.status, f.limit) == ("Ann Lee", "", triage.PAGE_SIZE)
    assert triage.Filters.from_args({"limit": "999999"}).limit == triage.MAX_PAGE
    assert triage.Filters.from_args({"limit": "1"}).limit == triage.PAGE_SIZE


def test_treatment_without_summary_shows_as_waiting(app, people):
    """A treatment recorded today, before any check-in or sweep, is listed as waiting."""
    make_treatment(app, people["c1"], people["t1"], days_ago=0.2)
    rows = ranked(app, people).rows
    assert [(r.client.name, r.status, r.verdict) for r in rows] == [
        ("Cleo One", "waiting", "insufficient_data")]


def test_since_yesterday_counts_checkins_flags_and_resolutions(app, people, practice):
    """The panel counts today's check-ins, flags and resolved recoveries of T1's clients only."""
    with app.app_context():
        since = triage.since_yesterday(people["t1"].id, utcnow())
    # check-ins created just now (all of the constructed ones) count; T2's client's do not
    with app.app_context():
        own = db.session.scalar(sa.select(sa.func.count(CheckIn.id)).join(Treatment).where(
            Treatment.therapist_id == people["t1"].id))
    assert since.checkins == own
    assert since.clients_checked_in == 8  # "Missed long" and "Waiting" sent none
    assert since.new_flag_count == 7
    assert {person.name for _, person in since.new_flags} <= set(EXPECTED_ORDER)
    assert since.resolved_count == 2  # the recent one, and the old one first assessed today
    assert not since.empty


def test_triage_page_queries_do_not_grow_with_clients(app, client, auth, make_user, link):
    """The triage page runs the same number of queries with 5 clients as with 50."""
    therapist = make_user("t@example.org", "therapist", "Tess")

    def add_clients(start: int, count: int) -> None:
        for i in range(start, start + count):
            person = make_user(f"c{i}@example.org", "client", f"Client {i:03d}")
            link(therapist, person)
            treatment_id = make_treatment(app, person, therapist, days_ago=3.5)
            for t_days, delta_e, colour in FADING_4:
                add_checkin(app, treatment_id, t_days, delta_e, colour, fever=i % 7 == 0)
        with app.app_context():
            flags.sweep()
            db.session.commit()

    def count_queries() -> int:
        statements = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            response = client.get("/therapist/")
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        return len(statements)

    auth.login(therapist)
    add_clients(0, 5)
    with_5 = count_queries()
    add_clients(5, 45)
    with_50 = count_queries()
    assert with_5 == with_50
    assert with_50 <= 10

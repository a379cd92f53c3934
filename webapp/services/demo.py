"""Demo data: a therapist and two clients whose marks heal day by day, for a first look.

``flask --app webapp demo`` creates them; ``--if-empty`` does nothing once anyone has an
account (``make run`` calls it that way). Photos are painted by webapp.analysis.synthetic
and go through the same check-in service as a real upload, so every number is measured. The
three marks of each photo are the treatment's followed marks, confirmed as a client would;
Ben's third mark lags while his other two fade on the curve.

The photos are stored now but dated days back, so each check-in is then dated as having
arrived when it was taken, and the flags are worked out afresh as of the latest photo and
then as of now: the therapist's first view shows what a real morning would, not flags raised
and closed while the history was being written.
"""
import datetime as dt
import functools
from dataclasses import dataclass

import sqlalchemy as sa

from webapp.analysis import colour, synthetic
from webapp.extensions import db
from webapp.models import CareLink, Flag, Treatment, User, utcnow
from webapp.services import chart, consent, flags, marks
from webapp.services.checkins import record_checkin
from webapp.services.recovery import expected_days_for

# shown on the terminal: a demo account is only as secret as this source file
DEMO_PASSWORD = "cupmark-demo"
THERAPIST_EMAIL = "therapist@demo.cupmark.example"
# where the marks sit in every photo (fractions of width and height) and their sizes
MARK_LAYOUT = (((0.30, 0.35), 0.10, 1.0), ((0.62, 0.33), 0.09, 0.85),
               ((0.46, 0.62), 0.08, 0.7))


@dataclass(frozen=True)
class DemoClient:
    """One demo client: who they are, how their marks heal, and what they report each day."""

    email: str
    name: str
    kind: str  # a synthetic.recovery_series kind
    ita: float  # skin tone as an ITA angle
    days_ago: float  # how long ago the session was
    photo_days: tuple[float, ...]  # when the photos were taken, days after the session
    pain: tuple[int, ...]
    notes: dict[int, str]
    technique: str
    suction: str
    # how each of the three marks heals (a synthetic.recovery_series kind per mark)
    mark_kinds: tuple[str, str, str] = ("normal", "normal", "normal")


CLIENTS = (
    DemoClient("ana@demo.cupmark.example", "Ana Demo", "normal", ita=45.0, days_ago=5.6,
               photo_days=(0.3, 1.4, 2.4, 3.5, 4.4), pain=(3, 2, 1, 1, 0),
               notes={0: "A bit sore, kept it warm.", 3: "Turning yellow at the edges."},
               technique="static", suction="medium"),
    DemoClient("ben@demo.cupmark.example", "Ben Demo", "slow", ita=20.0, days_ago=8.6,
               photo_days=(0.3, 1.4, 2.4, 3.4, 4.5, 5.4, 6.4, 7.4, 8.4),
               pain=(4, 4, 3, 3, 2, 2, 2, 1, 1),
               notes={2: "Still quite dark.", 6: "Slowly going greenish."},
               technique="dynamic", suction="strong", mark_kinds=("normal", "normal", "slow")),
)


@functools.cache
def sample_course() -> tuple[chart.ChartInput, ...]:
    """Return Ana's course as painted: the true ΔE00 of her largest mark, by day."""
    # the welcome page's example chart: the demo's own numbers, with no database or photo;
    # kept: painting them took 12 ms on every view, seven times the rest of the welcome page
    spec = CLIENTS[0]
    skin = synthetic.skin_lab_for_ita(spec.ita)
    course = []
    for day in synthetic.recovery_series(spec.mark_kinds[0], skin_lab=skin, days=spec.photo_days):
        delta_e, _theta, _name, stage = synthetic.truth_for(skin, day.delta_lab)
        mark_hex = colour.lab_to_hex(tuple(s + d for s, d in zip(skin, day.delta_lab)))
        course.append(chart.ChartInput(day.t_days, round(delta_e, 1), stage, mark_hex))
    return tuple(course)


def photo_of(skin_lab, days: list[synthetic.SeriesDay], seed: int) -> bytes:
    """Paint one day's photo of the marks (each at its own stage) and return it as JPEG bytes."""
    marks = [synthetic.MarkSpec(delta_lab=tuple(v * scale for v in day.delta_lab), centre=centre,
                                radius=radius * day.radius_scale)
             for (centre, radius, scale), day in zip(MARK_LAYOUT, days)]
    photo = synthetic.render_scene(skin_lab, marks, size=(800, 600), edge="towel", seed=seed,
                                   lighting=synthetic.Lighting(red_gain=1.03, shading=0.05))
    return synthetic.save_jpeg(photo.image, quality=90)


def add_user(email: str, name: str, role: str, password_hash: str, **fields) -> User:
    """Add a demo account to the session."""
    # the demo's addresses have no mailbox: they count as confirmed, so the therapist can invite
    user = User(email=email, name=name, role=role, password_hash=password_hash,
                timezone="Europe/Berlin", email_verified_at=utcnow(), **fields)
    db.session.add(user)
    return user


def create_demo(now: dt.datetime) -> list[tuple[str, str]]:
    """Create the demo therapist, clients, treatments and check-ins; return (role, email) pairs."""
    therapist = add_user(THERAPIST_EMAIL, "Mira Demo", "therapist", "",
                         practice_name="Demo Cupping Studio")
    therapist.set_password(DEMO_PASSWORD)
    db.session.flush()
    logins = [("therapist", THERAPIST_EMAIL)]
    treatments = []
    for spec in CLIENTS:
        # one hash for every demo account: the same password, and scrypt is slow on purpose
        client = add_user(spec.email, spec.name, "client", therapist.password_hash)
        db.session.flush()
        db.session.add(CareLink(therapist_id=therapist.id, client_id=client.id))
        consent.give(client)
        treatment = Treatment(
            client_id=client.id, therapist_id=therapist.id, recorded_by_id=therapist.id,
            treated_at=now - dt.timedelta(days=spec.days_ago), body_area="upper_back",
            technique=spec.technique, cup_count=6, cup_material="glass", suction=spec.suction,
            risk_factors=[], expected_days=expected_days_for([], spec.suction),
            notes="Demo session.")
        db.session.add(treatment)
        db.session.commit()
        skin = synthetic.skin_lab_for_ita(spec.ita)
        series = [synthetic.recovery_series(kind, skin_lab=skin, days=spec.photo_days,
                                            expected_days=treatment.expected_days)
                  for kind in spec.mark_kinds]
        for i, days in enumerate(zip(*series)):
            # one seed per client: the same skin (its painted texture) every day, which is what
            # registration matches a later photo to the last one by; a new texture each day
            # would be another body, not matched (marks.unmatched), and never counted
            checkin = record_checkin(
                client, treatment, photo_of(skin, list(days), seed=client.id * 100),
                idempotency_key=f"demo-{client.id}-{i:02d}",
                taken_at=treatment.treated_at + dt.timedelta(days=days[0].t_days),
                pain=spec.pain[i], note=spec.notes.get(i, ""))
            # the client taps each mark on the first photo, then confirms the carried marks
            board = marks.board_for(checkin)
            if board.first:
                board.spots = [marks.Spot(x, y, radius, "tapped")
                               for (x, y), radius, _scale in MARK_LAYOUT]
            marks.save(board, client)
            # it arrived when it was taken: "since yesterday" counts it then, not today
            checkin.created_at = checkin.taken_at
        treatments.append((treatment, checkin.taken_at))
        logins.append(("client", spec.email))
    replay_flags(treatments, now)
    db.session.commit()
    return logins


def replay_flags(treatments: list[tuple[Treatment, dt.datetime]], now: dt.datetime) -> None:
    """Raise the demo's flags as of each treatment's latest photo, then as of now."""
    # each upload above raised and closed flags against the real clock (a photo dated days
    # back looks like a long silence); none of that happened in the story the demo tells
    ids = [treatment.id for treatment, _latest in treatments]
    db.session.execute(sa.delete(Flag).where(Flag.treatment_id.in_(ids)))
    for treatment, latest in treatments:
        flags.refresh(treatment, latest)
    flags.sweep(now)

"""Flags for therapists: slow healing, worsening, worrying symptoms, missed check-ins.

A flag is raised when a treatment's state calls for it and no flag of that kind is open. Once a
therapist has acknowledged a flag, the same kind is raised again only on new evidence (a later
check-in, or a new silence), so a cron sweep never undoes an acknowledgement. Every raise also
keeps the treatment's :class:`RecoverySummary` current, which is what the triage list reads.
"""
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_babel import force_locale, gettext as _

from webapp import clock
from webapp.extensions import db
from webapp.models import Flag, RecoverySummary, Treatment, utcnow
from webapp.services import reasons
from webapp.services.recovery import MAX_AGE_DAYS, Recovery, recoveries

# issue 6: a recovery with no check-in for 36 hours has missed one
MISSED_AFTER = dt.timedelta(hours=36)
# issue 6: a treatment from the last 21 days is followed whatever its verdict
ACTIVE_DAYS = 21
# verdicts of the course assessment that raise a flag of their own kind
VERDICT_FLAGS = {"slow": "slow_healing", "worsening": "worsening", "pigmentation": "pigmentation"}
# how many treatments the sweep assesses per query: bounds memory, not correctness
SWEEP_CHUNK = 200


def is_followed(treatment: Treatment, verdict: str, now: dt.datetime) -> bool:
    """Tell whether a recovery is active: recent, or not yet resolved (and not ancient)."""
    age = now - treatment.treated_at
    if age > dt.timedelta(days=MAX_AGE_DAYS):
        return False
    return age <= dt.timedelta(days=ACTIVE_DAYS) or verdict != "resolved"


def last_activity(recovery: Recovery) -> dt.datetime:
    """Return when the client last showed the marks: the latest photo, or the treatment."""
    latest = recovery.latest
    return latest.taken_at if latest is not None else recovery.treatment.treated_at


def symptom_reason(recovery: Recovery) -> reasons.Reason:
    """Return which worrying symptoms the latest check-in reported, and on which day."""
    latest = recovery.latest
    return reasons.of_symptoms(latest.blisters, latest.fever, clock.day_number(
        recovery.treatment.treated_at, latest.taken_at, recovery.timezone))


def silence_reason(treated_at: dt.datetime, last_photo_at: dt.datetime | None,
                   now: dt.datetime, timezone: str) -> reasons.Reason:
    """Return how long a client has not checked in since the treatment or a photo.

    The last photo's day is its calendar date in the client's ``timezone`` (clock.day_number).
    """
    return reasons.of_silence(now - (last_photo_at or treated_at), None if last_photo_at is None
                              else clock.day_number(treated_at, last_photo_at, timezone))


def current_reasons(flags: Sequence[Flag], now: dt.datetime) -> dict[int, str]:
    """Return, per open flag, its reason as things stand now (one query for them all).

    A verdict flag reads its treatment's current assessment, a missed check-in the silence so
    far; a flag keeps the reason it was raised with as history. A red-flag symptom names the
    day it was reported, which does not change.
    """
    live = [flag for flag in flags
            if flag.acknowledged_at is None and flag.kind != "red_flag_symptom"]
    if not live:
        return {}
    summaries = {s.treatment_id: s for s in db.session.scalars(sa.select(RecoverySummary).where(
        RecoverySummary.treatment_id.in_({flag.treatment_id for flag in live})))}
    current = {}
    for flag in live:
        summary = summaries.get(flag.treatment_id)
        if summary is None:
            continue
        if flag.kind == "missed_checkins":
            current[flag.id] = reasons.said(silence_reason(
                flag.treatment.treated_at, summary.last_checkin_at, now,
                flag.treatment.client.timezone))
        elif summary.reason:
            current[flag.id] = reasons.said(summary.reason_data, summary.reason)
    return current


def awaits_confirmation(recovery: Recovery) -> bool:
    """Tell whether the latest photo's followed marks are the server's guess, not yet confirmed.

    Its readings were measured at points carried over from the last confirmed photo, which the
    client has not yet looked at: a circle left beside the mark, or on another one, reads what
    it is on. DESIGN.md "Followed marks": a wrong automatic guess costs the client a tap, never
    a wrong curve, so such readings raise no flag of the course (worsening, slow, pigmentation)
    until confirmed; confirming the marks refreshes the flags (marks.save). Symptoms the client
    reported raise theirs at once.
    """
    latest = recovery.latest
    return (latest is not None and latest.marks_confirmed_at is None
            and bool(recovery.mark_points.get(latest.id)))


def wanted(recovery: Recovery, now: dt.datetime
           ) -> dict[str, tuple[reasons.Reason, dt.datetime]]:
    """Return the flags the recovery calls for now: kind -> (reason, when its evidence came)."""
    assessment, latest = recovery.assessment, recovery.latest
    found: dict[str, tuple[reasons.Reason, dt.datetime]] = {}
    if latest is not None and latest.has_red_flag_symptom:
        found["red_flag_symptom"] = (symptom_reason(recovery), latest.created_at)
    kind = VERDICT_FLAGS.get(assessment.verdict)
    if kind and latest is not None and not awaits_confirmation(recovery):
        # evidence from when the client confirmed its marks: an acknowledgement given between
        # the photo and its confirmation did not see what the confirmed readings say
        found[kind] = (reasons.of_assessment(assessment),
                       max(latest.created_at, latest.marks_confirmed_at or latest.created_at))
    silent_since = last_activity(recovery)
    if (is_followed(recovery.treatment, assessment.verdict, now)
            and assessment.verdict != "resolved" and now - silent_since >= MISSED_AFTER):
        found["missed_checkins"] = (silence_reason(
            recovery.treatment.treated_at, latest.taken_at if latest is not None else None, now,
            recovery.timezone), silent_since + MISSED_AFTER)
    return found


def summarise(recovery: Recovery, summary: RecoverySummary | None, now: dt.datetime
              ) -> RecoverySummary:
    """Write the recovery's assessment into its summary row (created when missing)."""
    if summary is None:
        summary = RecoverySummary(treatment_id=recovery.treatment.id)
        db.session.add(summary)
    latest, assessment = recovery.latest, recovery.assessment
    if assessment.verdict != "resolved":
        summary.resolved_at = None
    elif summary.verdict != "resolved" or summary.resolved_at is None:
        # resolved when the photo that showed it arrived: the "since yesterday" panel counts it
        summary.resolved_at = latest.created_at if latest is not None else now
    summary.verdict = assessment.verdict
    summary.reason_data = reasons.of_assessment(assessment)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        summary.reason = reasons.said(summary.reason_data, assessment.reason)
    summary.ceiling_ratio = assessment.ceiling_ratio
    # the check-in whose stage the triage row shows: not a photo with the cups still on
    summary.checkin_id = latest.id if latest is not None and recovery.counts(latest) else None
    summary.last_checkin_at = latest.taken_at if latest is not None else None
    summary.red_flag = bool(latest is not None and latest.has_red_flag_symptom)
    summary.assessed_at = now
    return summary


def add_once(flag: Flag) -> bool:
    """Insert a flag unless a concurrent writer just opened one of its kind; tell which."""
    try:
        with db.session.begin_nested():
            db.session.add(flag)
    except sa.exc.IntegrityError:
        # the partial unique index kept the other writer's flag: the same flag is open, enough
        return False
    return True


def apply(recovery: Recovery, flags: Sequence[Flag], summary: RecoverySummary | None,
          now: dt.datetime) -> tuple[list[Flag], list[Flag]]:
    """Bring one treatment's summary and flags up to date; return (raised, closed) flags."""
    summarise(recovery, summary, now)
    open_flags = {f.kind: f for f in flags if f.acknowledged_at is None}
    seen_at: dict[str, dt.datetime] = {}
    for flag in flags:
        if flag.acknowledged_at is not None:
            seen_at[flag.kind] = max(seen_at.get(flag.kind, flag.acknowledged_at),
                                     flag.acknowledged_at)
    calls_for = wanted(recovery, now)
    # the words stored beside a reason's keys, and the note, are in the practice's language
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        words = {kind: reasons.said(reason) for kind, (reason, _when) in calls_for.items()}
        closing_note = _("Closed automatically: the client checked in again, "
                         "or the recovery is no longer followed.")
    raised = []
    for kind, (reason, evidence_at) in calls_for.items():
        if kind in open_flags or (kind in seen_at and seen_at[kind] >= evidence_at):
            continue
        flag = Flag(treatment_id=recovery.treatment.id, kind=kind, reason=words[kind],
                    reason_data=reason, raised_at=now)
        if add_once(flag):
            raised.append(flag)
    closed = []
    missed = open_flags.get("missed_checkins")
    if missed is not None and "missed_checkins" not in calls_for:
        # a silence ends by itself; the other kinds wait for a therapist to look
        missed.acknowledged_at = now
        missed.note = closing_note
        closed.append(missed)
    return raised, closed


def refresh(treatment: Treatment, now: dt.datetime | None = None) -> list[Flag]:
    """Raise the flags a treatment's latest check-in calls for (in the caller's transaction)."""
    now = now or utcnow()
    recovery = recoveries([treatment])[0]
    flags = db.session.scalars(sa.select(Flag).where(Flag.treatment_id == treatment.id)).all()
    raised, _closed = apply(recovery, flags, db.session.get(RecoverySummary, treatment.id), now)
    return raised


def sweep(now: dt.datetime | None = None) -> tuple[list[Flag], list[Flag]]:
    """Re-assess every recent treatment, raise missing flags and close ended silences."""
    now = now or utcnow()
    ids = db.session.scalars(sa.select(Treatment.id).where(
        Treatment.treated_at >= now - dt.timedelta(days=MAX_AGE_DAYS)).order_by(Treatment.id)).all()
    raised: list[Flag] = []
    closed: list[Flag] = []
    for start in range(0, len(ids), SWEEP_CHUNK):
        chunk = ids[start:start + SWEEP_CHUNK]
        # the clients come along: each recovery counts days in its client's zone
        treatments = db.session.scalars(sa.select(Treatment).where(Treatment.id.in_(chunk))
                                        .options(so.selectinload(Treatment.client))).all()
        flags: dict[int, list[Flag]] = defaultdict(list)
        for flag in db.session.scalars(sa.select(Flag).where(Flag.treatment_id.in_(chunk))):
            flags[flag.treatment_id].append(flag)
        summaries = {s.treatment_id: s for s in db.session.scalars(
            sa.select(RecoverySummary).where(RecoverySummary.treatment_id.in_(chunk)))}
        for recovery in recoveries(treatments):
            tid = recovery.treatment.id
            new, ended = apply(recovery, flags[tid], summaries.get(tid), now)
            raised += new
            closed += ended
    return raised, closed

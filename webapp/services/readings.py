"""Stored readings kept current: ``flask readings recompute`` re-measures those of an older analyzer.

A check-in with followed marks is measured again at its marks' points (its reading is that of
its most visible mark); one without is analysed again as a whole photo (the proposals). Only
readings whose analyzer version is older than ``ANALYZER_VERSION`` are touched, so running
the command twice does nothing the second time.
"""
import sqlalchemy as sa

from webapp.analysis import ANALYZER_VERSION, analyze_image
from webapp.extensions import db
from webapp.models import CheckIn, MarkReading, Reading, Treatment
from webapp.services import flags, marks
from webapp.services.storage import PhotoMissing


def version_key(version: str) -> tuple:
    """Return a version string as a tuple that compares in release order ("2.10" > "2.9")."""
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else -1)
    return tuple(parts)


def is_older(version: str | None) -> bool:
    """Tell whether a stored reading was made by an analyzer older than this one."""
    return version is None or version_key(version) < version_key(ANALYZER_VERSION)


def outdated_checkin_ids() -> list[int]:
    """Return the check-ins whose reading, or any of whose mark readings, is out of date."""
    versions = sa.union(
        sa.select(Reading.checkin_id, Reading.analyzer_version),
        sa.select(MarkReading.checkin_id, MarkReading.analyzer_version))
    ids = {checkin_id for checkin_id, version in db.session.execute(versions)
           if is_older(version)}
    # a check-in whose reading is missing altogether is out of date too
    ids |= set(db.session.scalars(sa.select(CheckIn.id).outerjoin(Reading).where(
        Reading.id.is_(None))))
    return sorted(ids)


def recompute_checkin(checkin: CheckIn) -> None:
    """Measure one check-in's stored photo again (at its marks' points if it has them)."""
    rows = marks.mark_readings(checkin.id)
    image = marks.display_image(checkin)
    if rows:
        followed = [row.mark for row in rows]
        marks.measure(checkin, followed, [(row.x, row.y) for row in rows],
                      [row.set_by for row in rows], image)
    else:
        marks.store_reading(checkin, analyze_image(image))


def recompute(echo=lambda line: None) -> tuple[int, int]:
    """Re-measure every out-of-date reading, committing each; return (done, missing photos)."""
    ids = outdated_checkin_ids()
    total, done, missing, treatments = len(ids), 0, 0, set()
    for n, checkin_id in enumerate(ids, 1):
        checkin = db.session.get(CheckIn, checkin_id)
        try:
            recompute_checkin(checkin)
        except PhotoMissing:
            db.session.rollback()
            missing += 1
            echo(f"{n} of {total}: check-in {checkin_id} has no stored photo, skipped")
            continue
        treatments.add(checkin.treatment_id)
        db.session.commit()
        done += 1
        echo(f"{n} of {total}: check-in {checkin_id}")
    # the courses change with the readings: verdicts, summaries and flags follow
    for treatment_id in sorted(treatments):
        flags.refresh(db.session.get(Treatment, treatment_id))
        db.session.commit()
    return done, missing

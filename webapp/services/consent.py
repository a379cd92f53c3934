"""Consent to storing photos of one's skin: the current consent of a client, and giving it."""

import sqlalchemy as sa
from flask import current_app

from webapp.extensions import db
from webapp.models import Consent, User
from webapp.services import audit

# what withdrawing consent does with the photos already stored
PHOTO_CHOICES = ("keep", "delete")


def current_consent(user: User | int) -> Consent | None:
    """Return the user's (or user id's) standing consent to the current consent text, if any."""
    return db.session.scalar(sa.select(Consent).where(
        Consent.user_id == getattr(user, "id", user), Consent.withdrawn_at.is_(None),
        Consent.version == current_app.config["CONSENT_VERSION"]))


def give(user: User) -> Consent:
    """Record the user's consent to the current consent text (audited; the caller commits)."""
    consent = Consent(user_id=user.id, version=current_app.config["CONSENT_VERSION"])
    db.session.add(consent)
    db.session.flush()
    audit.record("consent_given", user, subject=user, obj=consent)
    return consent

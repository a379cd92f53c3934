"""Photo bytes, served only through an access check, never from static/; and ``flask photos
cleanup``.
"""
from __future__ import annotations

import datetime as dt

import click
from flask import Blueprint, Response, abort, current_app
from flask_login import current_user

from webapp.extensions import db
from webapp.models import CheckIn
from webapp.services import audit
from webapp.services.access import can_see_photos
from webapp.services.photos import KEY_COLUMNS, cleanup
from webapp.services.storage import PhotoMissing, get_store

bp = Blueprint("photos", __name__, url_prefix="/photos")

# health data: no cache keeps a copy, so a removed care link, withdrawn consent or a deleted
# check-in takes effect at once and nothing is left on a shared phone after logout
CACHE_CONTROL = "no-store"
# a photo opened on its own is shown by the browser's image viewer, whose page styles itself
# inline: it may, and nothing else may run (the pages' policy would blank it with an error)
PHOTO_POLICY = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@bp.route("/<int:checkin_id>/<size>.jpg")
def show(checkin_id: int, size: str):
    """Send a check-in's photo or thumbnail to its owner or a linked therapist; 404 otherwise."""
    # not login_required: a photo is embedded in a page, a redirect to the login form helps no one
    if size not in KEY_COLUMNS or not current_user.is_authenticated:
        abort(404)
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None or not can_see_photos(current_user, checkin.client_id):
        abort(404)
    if current_user.id != checkin.client_id:
        audit.record("view_photo", current_user, subject=checkin.client_id, obj=checkin)
        db.session.commit()
    key = getattr(checkin, KEY_COLUMNS[size].key)
    try:
        data = get_store().get(key)
    except PhotoMissing:
        # never expected (rows are committed after their bytes), but say so in the log
        current_app.logger.error("check-in %s has no bytes under %s", checkin.id, key)
        abort(404)
    # inline: shown, never offered as a download; the name is made of numbers only
    return Response(data, mimetype="image/jpeg", headers={
        "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PHOTO_POLICY,
        "Content-Disposition": f'inline; filename="cupmark-{checkin.id}-{size}.jpg"'})


@bp.cli.command("cleanup")
@click.option("--grace", type=int, default=None,
              help="Spare bytes younger than this many seconds "
                   "(default: PHOTO_CLEANUP_GRACE_SECONDS).")
def cleanup_command(grace: int | None) -> None:
    """Remove photo bytes that no check-in names (left by a crash or a failed delete)."""
    seconds = current_app.config["PHOTO_CLEANUP_GRACE_SECONDS"] if grace is None else grace
    removed = cleanup(get_store(), dt.timedelta(seconds=seconds))
    click.echo(f"removed {len(removed)} orphaned photo file(s)")

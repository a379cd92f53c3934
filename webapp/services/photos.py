"""Photo bytes no check-in names any more: found and removed (``flask photos cleanup``)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CheckIn
from webapp.services.storage import PhotoStore

# which stored copy each URL size names
KEY_COLUMNS = {"full": CheckIn.photo_key, "thumb": CheckIn.thumb_key}
# keys are looked up in the database in batches of this many
LOOKUP_BATCH = 500


def cleanup(store: PhotoStore, grace: dt.timedelta) -> list[str]:
    """Delete stored bytes that no check-in names and that are older than grace; return keys."""
    # the bytes' times are the file system's, so they are compared with the machine's clock
    # (not the app's, which tests may set to another moment)
    cutoff = dt.datetime.now(dt.timezone.utc) - grace
    # younger bytes may belong to an upload whose row is not committed yet
    candidates = [obj.key for obj in store.list() if obj.modified_at <= cutoff]
    named = set()
    for start in range(0, len(candidates), LOOKUP_BATCH):
        batch = candidates[start:start + LOOKUP_BATCH]
        for column in KEY_COLUMNS.values():
            named.update(db.session.scalars(sa.select(column).where(column.in_(batch))))
    orphans = [key for key in candidates if key not in named]
    for key in orphans:
        store.delete(key)
    return orphans

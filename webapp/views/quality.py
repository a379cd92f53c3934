"""A reading's quality problems as the client reads them, in the client's language.

The analysis core (webapp.analysis, free of Flask) names each problem by a code and an English
message marked ``translatable`` for the catalogue; the pages say it from here, in the page's
language. Cups still on the skin and blood spoil the reading altogether, so for those the
client is asked to take the photo again.
"""
from __future__ import annotations

import json

from flask_babel import gettext

from webapp.analysis.reading import QUALITY_MESSAGES, RETAKE_QUALITY


def quality_notes(reading, retake_only: bool = False) -> list[tuple[str, str]]:
    """Return a stored reading's problems as (code, text) in the page's language, in the
    analysis's order; ``retake_only`` keeps those that ask for a new photo.

    ``reading``: a webapp.models.Reading (its ``data``), a timeline's
    webapp.services.recovery.ReadingRow (its ``stored`` JSON text) or None. A code this version
    does not know is left out rather than shown in English. A template global (webapp.views.marks
    adds it to the app).
    """
    if reading is None:
        return []
    data = getattr(reading, "data", None)
    if data is None:
        stored = getattr(reading, "stored", None) or ""
        # a timeline shows many days: most readings hold no such code and are not parsed
        if retake_only and not any(f'"{code}"' in stored for code in RETAKE_QUALITY):
            return []
        data = json.loads(stored) if stored else {}
    codes = [item.get("code") for item in data.get("quality") or [] if isinstance(item, dict)]
    # the message of this version (the catalogue holds its translation), not the stored one
    return [(code, gettext(QUALITY_MESSAGES[code])) for code in codes
            if code in QUALITY_MESSAGES and (not retake_only or code in RETAKE_QUALITY)]

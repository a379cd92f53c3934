"""A reading's quality problems as the client reads them, in the client's language.

The analysis core (webapp.analysis, free of Flask) names each problem by a code and an English
message; the pages say it from here, in the page's language. Cups still on the skin and blood
spoil the reading altogether, so for those the client is asked to take the photo again.
"""
from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l

# every code of webapp.analysis.reading.QUALITY_MESSAGES, said for the client
QUALITY_TEXT = {
    "too_dark": _l("The photo is too dark to read the colour well. Take it in brighter light."),
    "overexposed": _l("Part of the photo is washed out by light or glare. Avoid direct flash or a lamp shining on the skin."),
    "glare": _l("There is some glare on the skin; shiny spots were left out of the measurement."),
    "blurred": _l("The photo looks blurred. Hold the phone still and let it focus before taking the picture."),
    "no_skin": _l("We could not find skin in this photo. Take the photo closer to the marks."),
    "little_skin_around_marks": _l("There is too little clear skin around the marks to compare with. Include more skin around them."),
    "marks_uncertain": _l("We are not sure these are your marks. Please check them: remove a wrong one, or tap a mark we missed."),
    "dark_skin_low_confidence": _l("On darker skin, photos show colour changes less clearly, so this reading relies mostly on lightness and is less certain."),
    "cups_on_skin": _l("The cups still seem to be on the skin. Take the photo after the cups are off."),
    "blood": _l("There seems to be blood on the skin or in a cup. Take the photo after the skin is cleaned."),
}
# problems that make the reading useless: the photo is to be taken again
RETAKE_CODES = ("cups_on_skin", "blood")


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
        if retake_only and not any(f'"{code}"' in stored for code in RETAKE_CODES):
            return []
        data = json.loads(stored) if stored else {}
    codes = [item.get("code") for item in data.get("quality") or [] if isinstance(item, dict)]
    return [(code, str(QUALITY_TEXT[code])) for code in codes
            if code in QUALITY_TEXT and (not retake_only or code in RETAKE_CODES)]

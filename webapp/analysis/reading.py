"""The result of analysing one photo: a JSON-safe dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

ANALYZER_VERSION = "2.17.0"


def translatable(message: str) -> str:
    """Return ``message`` unchanged: it marks an English text for the translation catalogue
    (babel.cfg extracts it), which the pages then say in the client's language. The analysis
    itself stays free of Flask and of the client's language."""
    return message


# plain-language messages for every quality code a reading can carry
QUALITY_MESSAGES = {
    "too_dark": translatable("The photo is too dark to read the colour well. Take it in brighter light."),
    "overexposed": translatable("Part of the photo is washed out by light or glare. Avoid direct flash or a lamp shining on the skin."),
    "glare": translatable("There is some glare on the skin; shiny spots were left out of the measurement."),
    "blurred": translatable("The photo looks blurred. Hold the phone still and let it focus before taking the picture."),
    "no_skin": translatable("We could not find skin in this photo: a wall, wood, a mat or cloth is not skin. Photograph the marked skin itself, close up, with the marks in the middle."),
    "little_skin_around_marks": translatable("There is too little clear skin around the marks to compare with. Include more skin around them."),
    "marks_uncertain": translatable("We are not sure these are your marks. Please check them: remove a wrong one, or tap a mark we missed."),
    "dark_skin_low_confidence": translatable("On darker skin, photos show colour changes less clearly, so this reading relies mostly on lightness and is less certain."),
    "cups_on_skin": translatable("The cups still seem to be on the skin. Take the photo after the cups are off."),
    "blood": translatable("There seems to be blood on the skin or in a cup. Take the photo after the skin is cleaned."),
    "underexposed": translatable("The photo is too dark: there is too little light on the skin to read the marks' colour. Please take it again in brighter light. This photo is not counted in the recovery."),
    "darker_than_last": translatable("The photo is too dark: much darker than your last one, so the marks' colour cannot be compared. Please take it again in brighter light. This photo is not counted in the recovery."),
    "light_unlike_last": translatable("The light in this photo is very different from your last one, so the marks' colour may not compare well with it. When you can, take the photos in the same place and light."),
    "not_matched": translatable("This photo does not look like the last one: we could not find the marks where they were. If it shows the same marks, move each circle onto its mark; if not, take the photo again. Until then it is not counted in the recovery."),
}


# problems that spoil a reading altogether (the measured colour is the cup's dome or the blood's,
# not the healing mark's): the photo is to be taken again, and the course leaves it out
RETAKE_QUALITY = frozenset({"cups_on_skin", "blood"})
# a later photo that registration could not match to the last confirmed one (registration.py):
# the followed marks' points were not carried, only copied, so what they read may be clear skin
# or another body part; it stays off the course until a person places the marks on it
NOT_MATCHED = "not_matched"
# a later photo taken much darker than the last one of the same skin (quality.darker_than): its
# colours are not comparable, and its skin must not be read as dark skin
DARKER_THAN_LAST = "darker_than_last"
# a photo whose skin is too dark and grey to have been lit well (quality.underexposed), from
# the photo alone: not comparable either, and its skin must not be read as dark skin
UNDEREXPOSED = "underexposed"
# a later photo whose light differs from the last one's beyond what the course puts right
# (analyze.in_light_of): its colours are left as taken, and it is less certain
LIGHT_UNLIKE_LAST = "light_unlike_last"


def quality_item(code: str) -> dict:
    """Return one quality problem as {code, message}."""
    return {"code": code, "message": QUALITY_MESSAGES[code]}


@dataclass
class MarkDetail:
    """One mark in a photo, measured against the ring of skin around it (DESIGN.md's mark_details entry)."""

    delta_e: float
    delta_lab: list[float]
    hue_deg: float
    colour: str
    stage: str
    area_fraction: float
    centre: list[float]  # [x, y] as fractions of the image width and height
    radius: float  # equivalent-circle radius as a fraction of the image's short side
    mark_lab: list[float]
    skin_lab: list[float]
    erythema_index: float
    ring_skin_fraction: float
    point: list[float] | None = None  # [x, y] the mark was measured at (a tap or a proposal's seed)
    mixed: bool = False  # named by its breakdown-coloured part (colour.mark_colour)
    score: float | None = None  # how mark-like a proposal looks, 0–1 (proposals.score); None at points
    # ΔE00 judged on the body's lit skin (the reading's body_skin_lab), the ring being that skin
    # in shade (measure._result), not on the ring's own colour
    on_body_skin: bool = False
    # at a point: whether it lies on the body found (analyze.on_body), None when no body was
    # found; a tap on a towel or the floor is False (the marks board asks about it)
    on_body: bool | None = None

    def to_dict(self) -> dict:
        """Return the mark as a JSON-safe dict."""
        return asdict(self)


# frozen: a stored reading is rebuilt once and then shared by every view that judges it
@dataclass(frozen=True)
class PhotoReading:
    """What one photo says: the most visible mark against the client's own skin.

    ``delta_e`` is CIEDE2000 between the mark's core and a ring of skin around it. When no mark
    is found, ``delta_e`` is the ΔE00 of the strongest candidate below the resolved threshold (0.0
    when there was none), so a fading course stays continuous. When no skin is found the reading
    is ok but carries the ``no_skin`` quality code, stage/colour/delta_e are None, and it is not
    used for a course. ``erythema_index`` is mark minus skin of 100·(log10 R − log10 G) in linear
    sRGB (Dawson et al. 1980).
    """

    ok: bool
    mark_found: bool = False
    marks: int = 0
    stage: str | None = None
    colour: str | None = None
    delta_e: float | None = None
    delta_lab: list[float] | None = None
    hue_deg: float | None = None
    mark_lab: list[float] | None = None
    skin_lab: list[float] | None = None
    mark_hex: str | None = None
    skin_hex: str | None = None
    # the body's skin (its median, body.find_body), what the photo's light is judged by
    body_skin_lab: list[float] | None = None
    ita_deg: float | None = None
    erythema_index: float | None = None
    area_fraction: float = 0.0
    total_area_fraction: float = 0.0
    # how much larger the body looks in this photo than in the treatment's first confirmed one,
    # as a ratio of area fractions (registration's Registration.area_ratio, chained day to day);
    # None when not known. Only the app knows the other photos, so it sets this (on a followed
    # mark's detail, "area_scale"); the course compares a mark's area across days only on this
    # scale (course.comparable_area)
    area_scale: float | None = None
    # the von Kries gains on Bradford's cone responses (colour.adaptation_gains) that put this
    # photo into the light of the last confirmed photo of the same skin, so its colours compare
    # day to day; None when the reading is as the photo was taken. Only the app knows the other
    # photo, so it sets this (analyze.in_light_of); every colour of the reading is then in that
    # light, and each mark's own gains and its ΔE00 as taken are in its mark_details entry
    light_gains: list[float] | None = None
    confidence: str = "low"
    quality: list[dict] = field(default_factory=list)
    mark_details: list[dict] = field(default_factory=list)
    analyzer_version: str = ANALYZER_VERSION
    error: str | None = None
    message: str | None = None

    @property
    def quality_codes(self) -> set[str]:
        """Return the set of quality codes on this reading."""
        return {item["code"] for item in self.quality}

    @property
    def to_retake(self) -> bool:
        """Tell whether the photo is to be taken again (a code in ``RETAKE_QUALITY``)."""
        return not RETAKE_QUALITY.isdisjoint(self.quality_codes)

    def to_dict(self) -> dict:
        """Return the reading as a JSON-safe dict (error/message only when not ok)."""
        d = asdict(self)
        if self.ok:
            d.pop("error")
            d.pop("message")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PhotoReading":
        """Rebuild a reading from its stored dict, ignoring keys this version does not know."""
        # the field names are worked out once: a timeline rebuilds a reading per day
        return cls(**{k: v for k, v in d.items() if k in FIELD_NAMES})

    @classmethod
    def refused(cls, code: str, message: str) -> "PhotoReading":
        """Build the reading of a photo that could not be opened."""
        return cls(ok=False, error=code, message=message, confidence="low")


# the keys from_dict keeps: those of this version's reading
FIELD_NAMES = frozenset(f.name for f in fields(PhotoReading))

"""Aftercare tips and red flags for a day and a stage, read once from the tips.toml content file.

The words live in tips.toml as English source text. Templates render every one of them through
``_()`` (e.g. ``{{ _(tip.title) }}``), so they are translated like any other message; babel.cfg
hands tips.toml to :func:`extract_messages` so the catalogue has their msgids.
"""
import functools
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from webapp.models import CheckIn

CONTENT_FILE = Path(__file__).with_name("tips.toml")
# seed texts: marks "still dark after 10 days" should be seen by someone
STILL_DARK_DAY = 10
# the stages in which a mark still looks dark (faint and resolved do not)
DARK_STAGES = ("fresh", "turning")
# the stage key of a day without a measured photo
NO_STAGE = "none"


@dataclass(frozen=True)
class Tip:
    """One block of aftercare advice and when it applies."""

    key: str
    title: str
    items: tuple[str, ...]
    min_day: int = 0
    max_day: int | None = None
    stages: tuple[str, ...] | None = None
    verdicts: tuple[str, ...] | None = None

    def applies(self, day: int, stage: str, verdict: str | None = None) -> bool:
        """Tell whether the tip is meant for this day, stage and course verdict."""
        if day < self.min_day or (self.max_day is not None and day > self.max_day):
            return False
        if self.verdicts is not None and verdict not in self.verdicts:
            return False
        return self.stages is None or stage in self.stages


@dataclass(frozen=True)
class RedFlag:
    """A sign to contact the therapist or a doctor; active when the client's data shows it."""

    key: str
    text: str
    active: bool = False


@dataclass(frozen=True)
class Aftercare:
    """What to do today and when to worry, with the words that frame them."""

    tips: list[Tip]
    red_flags: list[RedFlag]
    disclaimer: str
    red_flags_title: str
    red_flags_intro: str

    @property
    def alarm(self) -> bool:
        """Tell whether any red flag is shown by the client's own data."""
        return any(flag.active for flag in self.red_flags)


@functools.cache
def content() -> dict:
    """Read the content file once per process."""
    # kept: reading and parsing it took 0.3 ms on every page that shows tips, and it changes
    # only with a deploy
    with CONTENT_FILE.open("rb") as fh:
        raw = tomllib.load(fh)
    tips = [Tip(key=t["key"], title=t["title"], items=tuple(t["items"]),
                min_day=t.get("min_day", 0), max_day=t.get("max_day"),
                stages=tuple(t["stages"]) if "stages" in t else None,
                verdicts=tuple(t["verdicts"]) if "verdicts" in t else None) for t in raw["tips"]]
    return {"tips": tips, "red_flags": [(f["key"], f["text"]) for f in raw["red_flags"]],
            "disclaimer": raw["disclaimer"], "red_flags_title": raw["red_flags_title"],
            "red_flags_intro": raw["red_flags_intro"]}


def messages(raw: dict) -> list[str]:
    """Return every user-facing string of the content, in file order."""
    found = [raw["disclaimer"], raw["red_flags_title"], raw["red_flags_intro"]]
    for tip in raw["tips"]:
        found += [tip["title"], *tip["items"]]
    return found + [flag["text"] for flag in raw["red_flags"]]


def extract_messages(fileobj, keywords, comment_tags, options):
    """Babel extractor for tips.toml: yield (line, function, message, comments) per string."""
    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    for message in messages(tomllib.loads(text)):
        line = next((n for n, row in enumerate(lines, 1) if f'"{message}"' in row), 0)
        yield line, "_", message, []


def tips_for(day: int, stage: str | None, verdict: str | None = None) -> list[Tip]:
    """Return the tips for this day since the treatment, the latest stage and the verdict."""
    return [tip for tip in content()["tips"] if tip.applies(day, stage or NO_STAGE, verdict)]


def signs_shown(days: Sequence[CheckIn], verdict: str, day: int,
                same_day: Sequence[CheckIn] = ()) -> set[str]:
    """Return the red-flag keys the client's latest check-ins and the course verdict show.

    ``days`` holds the latest check-in of each day; ``same_day`` the latest day's earlier
    ones, whose reported blisters or fever still count that day.
    """
    signs: set[str] = set()
    if verdict == "worsening":
        signs.add("worsening")
    if not days:
        return signs
    latest = days[-1]
    if latest.blisters or any(c.blisters for c in same_day):
        signs.add("blisters")
    if latest.fever or any(c.fever for c in same_day):
        signs.add("fever")
    if len(days) > 1 and latest.pain > days[-2].pain:
        signs.add("pain_worse")
    stage = latest.reading.stage if latest.reading is not None else None
    if day >= STILL_DARK_DAY and stage in DARK_STAGES:
        signs.add("still_dark")
    return signs


def aftercare(day: int, stage: str | None, signs: set[str],
              verdict: str | None = None) -> Aftercare:
    """Gather the tips for the day, stage and verdict and the red flags, the shown ones marked."""
    data = content()
    flags = [RedFlag(key, text, key in signs) for key, text in data["red_flags"]]
    return Aftercare(tips=tips_for(day, stage, verdict), red_flags=flags, disclaimer=data["disclaimer"],
                     red_flags_title=data["red_flags_title"],
                     red_flags_intro=data["red_flags_intro"])

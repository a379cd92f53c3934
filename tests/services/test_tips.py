"""Aftercare tips and red flags: chosen by day and stage from the content file."""
import pytest

from tests.recovery_rows import add_checkin, make_treatment
from webapp.extensions import db
from webapp.models import Treatment
from webapp.services import tips
from webapp.services.recovery import checkins_by_treatment, latest_per_day


@pytest.mark.parametrize(("day", "stage", "expected"), [
    (0, None, ["first_day"]),
    (0, "fresh", ["first_day"]),
    (0, "turning", ["first_day", "turning"]),
    (1, "fresh", ["after_first_day"]),
    (1, None, ["after_first_day"]),
    (3, "turning", ["after_first_day", "turning"]),
    (5, "faint", ["faint_or_resolved"]),
    (9, "resolved", ["faint_or_resolved"]),
])
def test_tips_follow_day_and_stage(day, stage, expected):
    assert [tip.key for tip in tips.tips_for(day, stage)] == expected


def test_tip_content_is_the_seed_advice_and_no_claim_of_fact():
    words = {tip.key: " ".join(tip.items) for tip in tips.content()["tips"]}
    for phrase in ("warm", "sauna", "hot baths", "steam", "water", "scrub", "shave"):
        assert phrase in words["first_day"]
    for phrase in ("2–3 times a day", "heating pad", "around the marks, not on them",
                   "arnica or heparin", "pharmacist"):
        assert phrase in words["after_first_day"]
    assert "yellow-green" in words["turning"] and "normal" in words["turning"]
    assert "fade completely before your next session" in words["faint_or_resolved"]
    assert "not medical advice" in tips.content()["disclaimer"]
    everything = " ".join(words.values()).lower()
    for claim in ("cures", "will heal", "guarantee", "proven"):
        assert claim not in everything


def test_every_red_flag_is_listed_once():
    keys = [key for key, _text in tips.content()["red_flags"]]
    assert keys == ["blisters", "fever", "spreading", "pain_worse", "worsening", "still_dark"]


def days_of(app, treatment_id):
    """Return the latest check-in per day of a treatment, loaded."""
    treatment = db.session.get(Treatment, treatment_id)
    return latest_per_day(treatment, checkins_by_treatment([treatment_id])[treatment_id])


@pytest.mark.parametrize(("checkins", "verdict", "day", "signs"), [
    ([{}], "on_track", 1, set()),
    ([{"blisters": True}], "on_track", 1, {"blisters"}),
    ([{"fever": True}], "on_track", 1, {"fever"}),
    ([{"blisters": True}, {}], "on_track", 2, set()),  # the latest check-in counts
    ([{"pain": 2}, {"pain": 5}], "on_track", 2, {"pain_worse"}),
    ([{"pain": 5}, {"pain": 2}], "on_track", 2, set()),
    ([{}, {}], "worsening", 3, {"worsening"}),
    ([{}, {}], "slow", 10, {"still_dark"}),
    ([{}, {}], "slow", 9, set()),
])
def test_signs_shown_by_the_clients_data(app, people, checkins, verdict, day, signs):
    treatment_id = make_treatment(app, people["c1"], days_ago=day + 0.5)
    for i, fields in enumerate(checkins):
        add_checkin(app, treatment_id, day - len(checkins) + 1 + i + 0.1, 9.0, "green",
                    **fields)
    with app.app_context():
        assert tips.signs_shown(days_of(app, treatment_id), verdict, day) == signs


def test_faded_marks_are_not_still_dark(app, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=11.5)
    add_checkin(app, treatment_id, 11.1, 4.0, "brown")
    with app.app_context():
        assert tips.signs_shown(days_of(app, treatment_id), "slow", 11) == set()


def test_aftercare_marks_the_shown_flags():
    care = tips.aftercare(2, "fresh", {"fever"})
    assert care.alarm
    assert [flag.key for flag in care.red_flags if flag.active] == ["fever"]
    assert not tips.aftercare(2, "fresh", set()).alarm


def test_every_content_string_reaches_the_translation_catalogue():
    with tips.CONTENT_FILE.open("rb") as fh:
        extracted = list(tips.extract_messages(fh, ["_"], [], {}))
    found = {message for _line, _func, message, _comments in extracted}
    assert "Drink plenty of water." in found and "A fever." in found
    assert tips.content()["disclaimer"] in found
    assert all(line > 0 for line, *_ in extracted)


@pytest.mark.parametrize(("verdict", "shown"), [
    ("slow", True), ("on_track", False), ("insufficient_data", False), ("worsening", False),
    ("pigmentation", False), ("resolved", False), (None, False),
])
def test_slow_healing_advice_shows_only_for_a_slow_course(verdict, shown):
    for day, stage in ((4, "fresh"), (8, "turning"), (12, "faint")):
        keys = [tip.key for tip in tips.tips_for(day, stage, verdict)]
        assert ("slow" in keys) == shown
        # it comes first: it is the advice the verdict asks for
        assert not shown or keys[0] == "slow"


def test_slow_healing_advice_covers_warmth_movement_causes_and_when_to_ask():
    slow = next(tip for tip in tips.content()["tips"] if tip.key == "slow")
    words = " ".join(slow.items)
    for phrase in ("warm", "Move gently", "Blood thinners", "strong suction",
                   "Ask your therapist or a doctor", "after 10 days"):
        assert phrase in words
    for claim in ("cures", "will heal", "guarantee", "proven"):
        assert claim not in words.lower()

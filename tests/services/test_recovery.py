"""The treatment's headline verdict and the followed marks it stands on."""
from webapp.analysis import CourseAssessment
from webapp.services.recovery import MarkCourse, furthest_behind


def assessment(verdict: str, ratio: float, key: str) -> CourseAssessment:
    """A course assessment with a verdict, its E/U ratio and a reason's key."""
    return CourseAssessment(verdict=verdict, reason="", reason_key=key,
                            reason_figures={"e_last": 3.0, "day_last": 7, "ceiling": 3.6},
                            ceiling_ratio=ratio)


def test_the_headline_is_the_furthest_behind_of_the_followed_marks_never_the_photos_own():
    """The photo's course (each day's most visible mark, on the first photo's light) read slow
    while every followed mark faded as expected: the headline agrees with the marks."""
    photo = assessment("slow", 1.28, "above_curve")
    marks = [MarkCourse(n, [], assessment(verdict, ratio, key)) for n, verdict, ratio, key in (
        (1, "on_track", 1.0, "as_expected"), (2, "resolved", 0.7, "faded"),
        (3, "on_track", 1.17, "as_expected"), (4, "resolved", 0.43, "faded"))]
    headline = furthest_behind(photo, marks)
    assert headline.verdict == "on_track" and headline.reason_figures["n"] == 3
    # and says how it was found
    assert headline.reason == ("The marks are fading as expected: mark 3, the furthest behind, "
                               "has a colour difference of 3.0 on day 7, where up to 3.6 is "
                               "expected.")
    # a mark that is behind is the headline, named
    marks[0] = MarkCourse(1, [], assessment("slow", 1.4, "above_curve"))
    headline = furthest_behind(photo, marks)
    assert headline.verdict == "slow" and headline.reason_figures["n"] == 1
    # without followed marks, the photo's course is all there is
    assert furthest_behind(photo, []) is photo

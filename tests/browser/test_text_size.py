"""Large text: the recovery page of a client who reads Russian, at twice the browser's text size,
on a 390 px phone, never scrolls sideways (WCAG 1.4.4 and 1.4.10), and a therapist's headings
wrap between words, not inside one."""
import datetime as dt

import pytest

from tests.recovery_rows import FADING, add_course
from webapp.analysis import ANALYZER_VERSION
from webapp.extensions import db
from webapp.models import CareLink, CheckIn, Mark, MarkReading, Treatment, User
from webapp.services import flags

from .conftest import (
    PASSWORD,
    consenting_client,
    login,
    no_horizontal_scroll,
    shot,
    unique_email,
)


def test_each_marks_line_fits_at_twice_the_text_size_in_russian(page, live_app):
    email, tid = consenting_client(live_app, "bigtext", "Vera Velikova", dt.timedelta(days=4.6))
    add_course(live_app, tid, FADING, count=4)
    with live_app.app_context():
        db.session.get(Treatment, tid).client.language = "ru"
        for number in (1, 2):
            mark = Mark(treatment_id=tid, number=number, x=0.3 * number, y=0.5)
            db.session.add(mark)
            db.session.flush()
            for checkin in db.session.query(CheckIn).filter_by(treatment_id=tid):
                db.session.add(MarkReading(
                    checkin_id=checkin.id, mark_id=mark.id, x=mark.x, y=0.5, set_by="client",
                    analyzer_version=ANALYZER_VERSION, delta_e=checkin.reading.delta_e,
                    stage="fresh", data={"radius": 0.1, "delta_e": checkin.reading.delta_e}))
        db.session.commit()
    login(page, email)
    page.goto(f"/treatments/{tid}")
    # what a browser's text size setting of 200% does: the root font size doubles
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    details = page.locator(".mark-course .mark-detail")
    assert details.count() == 2 and "Заметность" in details.first.text_content()
    assert no_horizontal_scroll(page), page.evaluate("document.documentElement.scrollWidth")
    shot(page, "marks-each-200-percent-ru")


def test_the_sections_wrap_into_rows_of_whole_targets_in_russian(page, live_app):
    email, _ = consenting_client(live_app, "navrows", "Nadia Navrow", dt.timedelta(days=1))
    with live_app.app_context():
        db.session.scalar(db.select(User).where(User.email == email)).language = "ru"
        db.session.commit()
    login(page, email)
    boxes = [page.locator("nav.sections a").nth(i).bounding_box()
             for i in range(page.locator("nav.sections a").count())]
    # four sections need two rows at 390 px; no target overlaps another or is under 44 px
    assert len({box["y"] for box in boxes}) == 2
    assert all(box["height"] >= 44 and box["x"] + box["width"] <= 390 for box in boxes)
    for one, other in ((a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]):
        assert (one["y"] + one["height"] <= other["y"] or other["y"] + other["height"] <= one["y"]
                or one["x"] + one["width"] <= other["x"] or other["x"] + other["width"] <= one["x"])


def test_the_keyboard_focus_is_an_opaque_ring_seen_at_once(page, live_app):
    email, _ = consenting_client(live_app, "focusring", "Fay Focus", dt.timedelta(days=1))
    login(page, email)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }""")
    # #0b4f8c: 8.4:1 against the white page (WCAG 1.4.11 asks 3:1), no transparency to fade
    assert ring == ["solid", "3px", "rgb(11, 79, 140)"]


def linked_therapist(live_app, client_email: str, language: str = "en") -> str:
    """Add a therapist linked to the client; return the therapist's email."""
    therapist_email = unique_email("big-therapist")
    with live_app.app_context():
        therapist = User(email=therapist_email, role="therapist", name="Tess Therapist",
                         practice_name="Cups", timezone="UTC", language=language)
        therapist.set_password(PASSWORD)
        db.session.add(therapist)
        db.session.flush()
        client = db.session.scalar(db.select(User).where(User.email == client_email))
        db.session.add(CareLink(therapist_id=therapist.id, client_id=client.id))
        db.session.commit()
    return therapist_email


def words_cut_in_headings(page) -> list[str]:
    """The visible h1-h3 whose longest word is wider than the heading: with the browser's
    break-anywhere turned off for the check, such a word sticks out of its box."""
    return page.evaluate("""() => [...document.querySelectorAll('h1, h2, h3')]
        .filter(h => h.offsetParent !== null)
        .filter(h => { h.style.overflowWrap = 'normal'; h.style.hyphens = 'manual';
                       return h.scrollWidth > h.clientWidth + 1; })
        .map(h => h.textContent.trim())""")


def test_the_therapists_headings_wrap_between_words_in_russian(page, live_app):
    client_email, tid = consenting_client(live_app, "slowru", "Sasha Slow", dt.timedelta(days=8.5))
    add_course(live_app, tid, [(t, 14.0, "violet") for t in (0.4, 2.4, 4.4, 6.4, 8.4)])
    login(page, linked_therapist(live_app, client_email, "ru"))
    page.goto("/therapist/")
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    # "Текущие восстановления": the 14-letter word was cut after its ninth letter
    assert "восстановления" in page.locator("main").text_content()
    assert words_cut_in_headings(page) == []
    assert no_horizontal_scroll(page), page.evaluate("document.documentElement.scrollWidth")
    shot(page, "therapist-triage-200-percent-ru")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_therapists_client_page_with_flags_fits_at_twice_the_text_size(page, live_app,
                                                                           language):
    """The flag cards of a client who reported a fever and fades slowly, one of them answered
    with a note, stay inside a 390 px phone at 200% text (they were 402 px wide)."""
    client_email, tid = consenting_client(live_app, "bigflags", "Kate Flagged",
                                          dt.timedelta(days=8.5))
    add_course(live_app, tid, [(t, 14.0, "violet") for t in (0.4, 2.4, 4.4, 6.4, 8.4)])
    with live_app.app_context():
        last = db.session.scalars(db.select(CheckIn).where(CheckIn.treatment_id == tid)
                                  .order_by(CheckIn.taken_at.desc())).first()
        last.fever, last.blisters, last.pain = True, True, 7
        treatment = db.session.get(Treatment, tid)
        raised = flags.refresh(treatment)
        db.session.commit()
        client_id = treatment.client_id
    assert len(raised) >= 2
    login(page, linked_therapist(live_app, client_email, language))
    page.goto(f"/therapist/clients/{client_id}")
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    assert page.locator("#flags .flag").count() == len(raised)
    widest = page.evaluate("Math.max(...[...document.querySelectorAll('#flags .flag')]"
                           ".map(e => e.getBoundingClientRect().right))")
    assert widest <= 390
    # and nothing in a card sticks out of it: the words wrap, between words
    assert page.evaluate("""[...document.querySelectorAll('#flags .flag *')]
        .filter(e => e.getBoundingClientRect().right > e.closest('.flag').getBoundingClientRect().right)
        .map(e => e.textContent)""") == []
    assert no_horizontal_scroll(page), page.evaluate("document.documentElement.scrollWidth")
    shot(page, f"therapist-client-flags-200-percent-{language}")

"""Large text: the recovery page of a client who reads Russian, at twice the browser's text size,
on a 390 px phone, never scrolls sideways (WCAG 1.4.4 and 1.4.10)."""
import datetime as dt

from tests.recovery_rows import FADING, add_course
from webapp.analysis import ANALYZER_VERSION
from webapp.extensions import db
from webapp.models import CheckIn, Mark, MarkReading, Treatment, User

from .conftest import consenting_client, login, no_horizontal_scroll, shot


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

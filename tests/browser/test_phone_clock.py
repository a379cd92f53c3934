"""A phone whose clock runs fast: a check-in with the time left empty is accepted at the
server's time, sent at once or from the offline queue (which tells the server its clock as it
really sends, not as it queued)."""
import datetime as dt
import re

import sqlalchemy as sa

from webapp import clock
from webapp.extensions import db
from webapp.models import CheckIn, utcnow

from .conftest import consenting_client, login, no_horizontal_scroll, shot
from .test_offline_queue import QUEUE_COUNT, fill_checkin, go_offline_and_send

# the page's Date runs `window.phoneClockOffset` ms ahead of the machine's (the server's), as
# a phone whose clock is off; a test moves it to let the phone's time pass
FAST_CLOCK = """
(() => {
  const RealDate = Date;
  globalThis.phoneClockOffset = %d;
  class PhoneDate extends RealDate {
    constructor(...args) {
      if (args.length) super(...args); else super(RealDate.now() + globalThis.phoneClockOffset);
    }
    static now() { return RealDate.now() + globalThis.phoneClockOffset; }
  }
  globalThis.Date = PhoneDate;
})();
"""
FIVE_MINUTES_MS = 5 * 60 * 1000


def taken_at(live_app, treatment_id: int) -> dt.datetime:
    """The time of the treatment's one stored check-in."""
    with live_app.app_context():
        return db.session.scalar(sa.select(CheckIn.taken_at)
                                 .where(CheckIn.treatment_id == treatment_id))


def test_a_phone_5_minutes_fast_sends_with_the_time_empty_and_is_accepted(page, context,
                                                                          live_app):
    email, treatment_id = consenting_client(live_app, "fast", "Kate Fast", dt.timedelta(days=1))
    context.add_init_script(FAST_CLOCK % FIVE_MINUTES_MS)
    login(page, email)
    fill_checkin(page, treatment_id)
    # the phone really is 5 minutes ahead of the server
    ahead = page.evaluate("Date.now()") / 1000 - utcnow().timestamp()
    assert 290 < ahead < 310
    shot(page, "checkin-phone-clock-fast")
    assert page.input_value("#taken_at") == ""
    before = utcnow()
    page.click("#checkin-form button[type=submit]")
    page.wait_for_url(re.compile(r"/checkins/\d+/marks$"))
    # the phone's time (to the second) moved back by its 5 minutes: between sending and now
    taken = taken_at(live_app, treatment_id)
    assert before - dt.timedelta(seconds=1) <= taken <= utcnow()
    assert no_horizontal_scroll(page)


def test_a_queued_photo_is_corrected_by_the_phones_clock_when_it_is_really_sent(
        page, context, watch, live_app):
    """Queued offline on a phone 5 minutes fast; 30 minutes later (on both clocks) it goes:
    the photo's time is the server's moment of queueing, not 30 minutes later nor 5 ahead."""
    email, treatment_id = consenting_client(live_app, "fastq", "Kate Queue", dt.timedelta(days=1))
    context.add_init_script(FAST_CLOCK % FIVE_MINUTES_MS)
    login(page, email)
    fill_checkin(page, treatment_id)
    queued = utcnow()
    go_offline_and_send(page, context, watch)
    assert page.evaluate(QUEUE_COUNT) == 1
    # half an hour later: the server's clock and the phone's (still 5 minutes fast) moved on
    later = dt.timedelta(minutes=30)
    page.evaluate(f"globalThis.phoneClockOffset = {FIVE_MINUTES_MS + later.total_seconds() * 1000}")
    with clock.travel(utcnow() + later):
        context.set_offline(False)
        page.wait_for_selector("#upload-queue .queue-uploaded")
    assert page.evaluate(QUEUE_COUNT) == 0
    taken = taken_at(live_app, treatment_id)
    assert queued - dt.timedelta(seconds=1) <= taken <= queued + dt.timedelta(minutes=1)

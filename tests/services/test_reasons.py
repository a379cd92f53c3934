"""Reasons said in the reader's language: a silence in whole days, as long as it really was."""
import datetime as dt

import pytest
from flask_babel import force_locale

from webapp.services import reasons


@pytest.mark.parametrize("silence, english, russian", [
    # babel's own rounding said "2 weeks" here
    (dt.timedelta(days=11, hours=14), "No check-in for 11 days", "11 дней"),
    (dt.timedelta(days=14), "No check-in for 14 days", "14 дней"),
    (dt.timedelta(days=1, hours=23), "No check-in for 1 day", "1 день"),
    (dt.timedelta(hours=20, minutes=59), "No check-in for 20 hours", "20 часов"),
])
def test_a_silence_is_said_in_whole_days_cut_down(app, silence, english, russian):
    reason = reasons.of_silence(silence, last_photo_day=1)
    with app.test_request_context():
        with force_locale("en"):
            assert reasons.said(reason) == f"{english}: the last photo was on day 1."
        with force_locale("ru"):
            assert russian in reasons.said(reason)

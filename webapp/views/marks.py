"""The marks page: the photo with its numbered marks, tapped, dragged or ticked, then saved.

Without JavaScript the photo is an ``<input type="image">`` shown at a fixed width: a tap
submits its coordinates in that width's pixels, and the page comes back with the change.
static/js/marks.js makes the same changes in the page, lets a point be dragged or moved with
the arrow keys, and posts the final list.
"""
from __future__ import annotations

import math

import sqlalchemy as sa
from flask import Blueprint, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp import clock
from webapp.extensions import db, htmx
from webapp.models import CheckIn, utcnow
from webapp.services import audit
from webapp.services.dates import show_times_of
from webapp.services.access import can_see_photos
from webapp.services.marks import (BADGE_GAP_PX, BADGE_R, BADGE_REACH, BADGE_SIDES, HIT_PX,
                                   MAX_POINTS, RING_GAP_PX, SUGGESTED_LETTERS, TAPPED_RADIUS,
                                   Board, MarksRefused, Spot, board_for, questioned, save)
from webapp.views.pages import redirect_to, render
from webapp.views.quality import quality_notes

bp = Blueprint("marks", __name__)
# the confirm page and the timeline say a reading's problems (the page right after a photo first)
bp.add_app_template_global(quality_notes)


def parse_point(text: str) -> tuple[float, float]:
    """Read "x,y" fractions of the photo; raise MarksRefused when they are not inside it."""
    try:
        x_text, y_text = text.split(",")
        x, y = float(x_text), float(y_text)
    except (ValueError, AttributeError):
        raise MarksRefused(_("A point on the photo could not be read. Please reload the page."))
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1):
        raise MarksRefused(_("A point must lie on the photo. Please reload the page."))
    return x, y


def board_from_form(checkin: CheckIn, form) -> Board:
    """Rebuild the page's points from a posted form, refusing anything that is not ours."""
    # the new marks seen are needed only when a tap (without javascript) may land on one
    stored = board_for(checkin, seen="tap.x" in form or "tap.y" in form)
    if form.get("board") == "first" and not stored.first:
        # a page from before the marks were saved (another tab, Back, a retried send): its
        # points would be followed twice
        raise MarksRefused(_("These marks were already saved. Here they are as saved: confirm them, or move one."))
    # the board refuses the point past MAX_POINTS (too_many), so a page never sends twice as
    # many: such a form is not ours, and is not worth drawing
    if len(form.getlist("keep")) + len(form.getlist("point")) + len(form.getlist("mark")) > 2 * MAX_POINTS:
        raise MarksRefused(too_many())
    spots = []
    if stored.first:
        # a proposal is named by its point, as the page wrote it
        kept = {f"{x:.4f},{y:.4f}" for x, y in map(parse_point, form.getlist("keep"))}
        for spot in stored.spots:
            spot.kept = spot.value in kept
            spots.append(spot)
    else:
        by_number = {str(s.number): s for s in stored.spots}
        for value in form.getlist("mark"):
            number, _sep, point = value.partition(":")
            if number not in by_number:
                raise MarksRefused(_("There is no mark %(n)s on this photo.", n=number[:8]))
            by_number[number].x, by_number[number].y = parse_point(point)
        for number in form.getlist("stop"):
            if number not in by_number:
                raise MarksRefused(_("There is no mark %(n)s on this photo.", n=number[:8]))
            # no longer followed: never a mark, or the same mark counted twice
            by_number[number].kept = False
        spots = stored.spots
    for value in form.getlist("point"):
        # an added point carries its number ("3:x,y"), a new mark ticked on a later photo not
        number, _sep, point = value.rpartition(":")
        x, y = parse_point(point)
        spots.append(Spot(x, y, TAPPED_RADIUS, "tapped",
                          number=int(number) if number.isascii() and number.isdigit()
                          and 0 < int(number) <= 10 * MAX_POINTS else None))
        # a new mark the photo showed, now ticked, is offered no more
        spots = [s for s in spots if not (s.kind == "suggested" and math.hypot(s.x - x, s.y - y) < 1e-3)]
    moving = form.get("move", "")
    if moving and moving != "new" and moving not in {str(s.number) for s in spots
                                                   if s.kind == "mark"}:
        raise MarksRefused(_("There is no mark %(n)s on this photo.", n=moving[:8]))
    # numbers of marks not on this photo (stopped before it, added after it) are never given
    return Board(checkin, first=stored.first, spots=spots, moving=moving, retired=stored.retired)


def too_many() -> str:
    """Say that no more points can be followed (static/js/marks.js says it from the page)."""
    return _("That is more marks than we can follow (at most %(n)d).", n=MAX_POINTS)


def followed(board: Board) -> int:
    """Count the points that saving the board would follow."""
    return sum(1 for s in board.spots if s.kept and s.kind != "suggested")


def tap_from_form(board: Board, form) -> tuple[float, float] | None:
    """Return the tap on the photo as fractions (None when the form was not sent by a tap)."""
    if "tap.x" not in form and "tap.y" not in form:
        return None
    try:
        x, y = int(form.get("tap.x", "")), int(form.get("tap.y", ""))
    except ValueError:
        raise MarksRefused(_("The tap on the photo could not be read. Please try again."))
    if not (0 <= x <= board.width and 0 <= y <= board.height):
        raise MarksRefused(_("Please tap on the photo itself."))
    return x / board.width, y / board.height


def get_checkin_or_404(checkin_id: int) -> CheckIn:
    """Return a check-in whose photo the signed-in user may see (its client, or a linked
    therapist while the client consents), or 404: its marks are shown and placed on the photo."""
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None or not can_see_photos(current_user, checkin.client_id):
        abort(404)
    return checkin


def show_board(board: Board, status: int = 200):
    """Render the confirm page (or the board alone when htmx aims at it)."""
    partial = "marks/_board.html" if htmx.target == f"board-{board.checkin.id}" else None
    treatment = board.checkin.treatment
    zone = treatment.client.timezone
    show_times_of(treatment.client)
    # a photo queued offline may arrive days later: its page names its own day
    day = clock.day_number(treatment.treated_at, board.checkin.taken_at, zone)
    return render("marks/confirm.html", partial, status=status, board=board, day=day,
                  today=clock.day_number(treatment.treated_at, utcnow(), zone),
                  drawn=board.drawn(), treatment=treatment,
                  tapped_radius=TAPPED_RADIUS, hit_px=HIT_PX, ring_gap=RING_GAP_PX,
                  badge_r=BADGE_R, badge_gap=BADGE_GAP_PX, badge_sides=BADGE_SIDES,
                  badge_reach=BADGE_REACH, letters=SUGGESTED_LETTERS, max_points=MAX_POINTS,
                  too_many=too_many())


@bp.route("/checkins/<int:checkin_id>/marks", methods=("GET", "POST"))
# a page like the others: whoever is signed out (a session that ended while the page was open)
# is sent to sign in, before anything is looked up, so nobody learns whether the check-in exists
@login_required
def confirm(checkin_id: int):
    """Show a photo's marks to confirm; a tap changes them, "Looks right" saves them."""
    checkin = get_checkin_or_404(checkin_id)
    if request.method == "GET":
        if current_user.id != checkin.client_id:
            audit.record("view_marks", current_user, subject=checkin.client_id, obj=checkin)
            db.session.commit()
        return show_board(board_for(checkin, seen=True))
    if quality_notes(checkin.reading, retake_only=True):
        # the page offers no board for it; a form sent from an older page is refused
        board = board_for(checkin)
        board.message, board.error = _("Marks are checked on a photo without the cups or blood. Please take the photo again."), True
        return show_board(board, 422)
    try:
        board = board_from_form(checkin, request.form)
        tap = tap_from_form(board, request.form)
        if request.form.get("remove"):
            # a point's own remove button: the deliberate way to remove it (a tap only chooses)
            board.remove(request.form["remove"])
            return show_board(board)
    except MarksRefused as refused:
        board = board_for(checkin)
        board.message, board.error = refused.message, True
        return show_board(board, 422)
    if tap is not None:
        board.tap(*tap)
        if followed(board) > MAX_POINTS:
            # refused, and the board stays as it was before this tap, every point kept
            board = board_from_form(checkin, request.form)
            board.message, board.error = too_many(), True
            return show_board(board, 422)
        return show_board(board)
    if followed(board) > MAX_POINTS:
        # a page without the script's count: the client's points stay, to remove some
        board.message, board.error = too_many(), True
        return show_board(board, 422)
    board.questions = questioned(board, request.form.get("insist", "")[:4000])
    if board.questions:
        # nothing is followed yet: each circle asked about is moved, removed, or kept as it is
        # with the "save anyway" button
        board.message, board.error = _("Please check these circles before they are saved."), True
        return show_board(board, 422)
    try:
        moved = save(board, current_user)
    except MarksRefused as refused:
        board.message, board.error = refused.message, True
        return show_board(board, 422)
    except sa.exc.IntegrityError:
        # the same first photo's marks saved at the same moment from another page
        db.session.rollback()
        board = board_for(checkin)
        board.message, board.error = _("These marks were already saved. Here they are as saved: confirm them, or move one."), True
        return show_board(board, 409)
    if current_user.is_therapist:
        flash(_("Points saved and the marks measured again.") if moved
              else _("Points saved."))
    else:
        flash(_("Thank you: your marks are saved and measured."))
    return redirect_to(url_for("treatments.show", treatment_id=checkin.treatment_id),
                       status=303, in_place=True)

"""Message pages: a treatment's thread (updated in place by htmx, whole without JavaScript) and
the inbox.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from flask import Blueprint, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from webapp.extensions import db, htmx
from webapp.models import CareLink, Message, Treatment, User
from webapp.services import audit
from webapp.services.dates import show_times_of
from webapp.services.access import linked_therapist_ids
from webapp.services.messages import (BODY_MAX, FLAG_TOPICS, announce, client_recipient,
                                      inbox_rows, mark_read, send, unread_count, visible)
from webapp.views.access import get_treatment_or_404
from webapp.views.pages import plain_text, redirect_to, render, wants_fragment

bp = Blueprint("messages", __name__)


@bp.app_template_global()
def message_topic(kind: str, for_client: bool) -> str:
    """Say what a therapist's note on a flag is about, in its reader's form."""
    return str(FLAG_TOPICS[kind]) if for_client else _("Sent as your note on this flag")


class MessageForm(FlaskForm):
    """One message to the other person of a thread."""

    body = TextAreaField(_l("Your message"), filters=[plain_text], validators=[
        DataRequired(_l("Write your message first.")), Length(max=BODY_MAX)])


def form_for(treatment: Treatment, **kwargs) -> MessageForm:
    """Return the message form of a treatment's thread (its own field names: a page shows many)."""
    return MessageForm(prefix=f"message-{treatment.id}", **kwargs)


@dataclass
class Thread:
    """One treatment's messages as the signed-in person sees them, and whether they may write."""

    treatment: Treatment
    messages: list[Message]
    # the therapist a new message goes to (for the client), or the therapist writing
    therapist_id: int | None
    form: MessageForm

    @property
    def can_write(self) -> bool:
        """Tell whether the viewer has someone to write to."""
        return self.therapist_id is not None

    @property
    def recipient(self) -> User | None:
        """Return the therapist a client's new message goes to (None for a therapist's thread)."""
        if current_user.id != self.treatment.client_id or self.therapist_id is None:
            return None
        return db.session.get(User, self.therapist_id)

    @property
    def others_linked(self) -> bool:
        """Tell whether the client has another linked therapist, who will not read this thread."""
        return self.recipient is not None and db.session.scalar(sa.select(sa.exists(
            linked_therapist_ids(self.treatment.client_id)
            .where(CareLink.therapist_id != self.therapist_id)))) or False


def thread(treatment: Treatment, viewer: User, form: MessageForm | None = None) -> Thread:
    """Load the viewer's thread on a treatment, and whom they may write to."""
    own = viewer.id == treatment.client_id
    messages = db.session.scalars(visible(treatment, viewer)).all()
    return Thread(treatment=treatment, messages=messages,
                  therapist_id=client_recipient(treatment) if own else viewer.id,
                  form=form or form_for(treatment, formdata=None))


@bp.app_template_global()
def unread_messages() -> int:
    """Return the signed-in person's unread message count, for the navigation."""
    return unread_count(current_user) if current_user.is_authenticated else 0


def back_url(treatment: Treatment) -> str:
    """Return the page a thread sits on for the signed-in person, at the thread."""
    anchor = f"thread-{treatment.id}"
    if current_user.id == treatment.client_id:
        return url_for("treatments.show", treatment_id=treatment.id, _anchor=anchor)
    return url_for("therapist.client", client_id=treatment.client_id, _anchor=anchor)


def partial_for(treatment: Treatment) -> str | None:
    """Return the slice an htmx request aims at: the whole thread or its list of messages."""
    return {f"thread-{treatment.id}": "messages/_thread.html",
            f"thread-list-{treatment.id}": "messages/_list.html"}.get(htmx.target or "")


# one rule for both methods: werkzeug answers 405, not 404, for an id no rule converts when
# another rule has the same path with another method
@bp.route("/treatments/<int:treatment_id>/messages", methods=("GET", "POST"))
@login_required
def show(treatment_id: int):
    """Show a treatment's thread (htmx asks for the thread or, polling, its list); POST sends."""
    if request.method == "POST":
        return create(treatment_id)
    treatment = get_treatment_or_404(treatment_id)
    show_times_of(treatment.client)
    partial = partial_for(treatment)
    if current_user.id != treatment.client_id and partial is None:
        audit.record("view_messages", current_user, subject=treatment.client_id, obj=treatment)
    mark_read(current_user, treatment.client_id, [treatment.id])
    db.session.commit()
    return render("messages/show.html", partial, thread=thread(treatment, current_user))


def create(treatment_id: int):
    """Send a message on a treatment's thread; htmx gets the thread back, a form the page."""
    treatment = get_treatment_or_404(treatment_id)
    show_times_of(treatment.client)
    form = form_for(treatment)
    found = thread(treatment, current_user, form)
    # with no therapist linked the thread says so in place of the form: nothing to validate
    if found.can_write and form.validate():
        message = send(treatment, current_user, form.body.data, found.therapist_id)
        # writing answers what the other person wrote: it counts as seen
        mark_read(current_user, treatment.client_id, [treatment.id])
        db.session.commit()
        announce(message)
        if not wants_fragment():
            return redirect_to(back_url(treatment))
        return render("messages/show.html", "messages/_thread.html",
                      thread=thread(treatment, current_user))
    return render("messages/show.html", "messages/_thread.html", status=422, thread=found)


@bp.route("/messages")
@login_required
def inbox():
    """List the signed-in person's threads, the ones with unread messages marked."""
    return render("messages/inbox.html", rows=inbox_rows(current_user))

"""Email: send a message over SMTP, or into the instance outbox in development and tests."""
import email
import email.policy
import os
import smtplib
from email.message import EmailMessage
from pathlib import Path

from flask import Flask, current_app
from flask_babel import force_locale
from flask_mailman import EmailMultiAlternatives

from webapp.extensions import mailer

# flask-mailman's file backend ends each message with this line (django's file backend format)
OUTBOX_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def init_app(app: Flask) -> None:
    """Bind the mailer and, when mail goes to the outbox, make the folder only its owner reads."""
    mailer.init_app(app)
    if app.config.get("MAIL_BACKEND") == "file":
        outbox = app.config["MAIL_FILE_PATH"]
        # messages hold sign-in links: other accounts on the machine must not list or read them
        os.makedirs(outbox, mode=0o700, exist_ok=True)
        os.chmod(outbox, 0o700)


def in_language_of(user):
    """Say what follows in the language the user chose, else the practice's (a `with` block).

    For words sent to someone who is not the one asking (a reminder, news of a message): the
    request's own language is the sender's, or none at all from cron.
    """
    return force_locale(user.language or current_app.config["BABEL_DEFAULT_LOCALE"])


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> bool:
    """Send one message to one address, as plain text with an optional HTML version.

    Returns whether it went out; a mail server that fails is logged, and the request that
    wanted the message still gets its answer (never a 500 for an unreachable server).
    """
    message = EmailMultiAlternatives(subject, text, current_app.config["MAIL_DEFAULT_SENDER"],
                                     [to])
    if html is not None:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("could not send mail %r", subject)
        return False
    return True


def read_outbox(folder: str | os.PathLike) -> list[EmailMessage]:
    """Return the messages written to an outbox folder, oldest first (for tests and development)."""
    paths = sorted(Path(folder).glob("*.log"), key=lambda path: path.stat().st_mtime_ns)
    messages = []
    for path in paths:
        for raw in path.read_bytes().split(OUTBOX_SEPARATOR):
            if raw.strip():
                messages.append(email.message_from_bytes(raw, policy=email.policy.default))
    return messages

"""Email: the outbox in tests and development, and SMTP set by CUPMARK_SMTP_URL."""
import os
import stat

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from webapp import config, create_app
from webapp.services.mail import send_mail


def test_outbox_keeps_each_message_readable_by_its_owner_only(app, outbox):
    with app.app_context():
        send_mail("ada@example.org", "First", "Plain words.")
        send_mail("bob@example.org", "Second", "Plain too.", html="<p>Rich <b>words</b>.</p>")
    first, second = outbox()
    assert (first["To"], first["Subject"]) == ("ada@example.org", "First")
    assert first.get_content().strip() == "Plain words."
    assert second["From"] == "Cupmark <no-reply@localhost>"
    assert second.get_body(("plain",)).get_content().strip() == "Plain too."
    assert "<b>words</b>" in second.get_body(("html",)).get_content()
    assert stat.S_IMODE(os.stat(app.config["MAIL_FILE_PATH"]).st_mode) == 0o700


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1:2525", {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 2525,
                               "MAIL_USE_TLS": False, "MAIL_USE_SSL": False}),
    ("smtp+starttls://me%40x.org:p%2Fw@mail.example.org",
     {"MAIL_PORT": 587, "MAIL_USE_TLS": True, "MAIL_USERNAME": "me@x.org",
      "MAIL_PASSWORD": "p/w"}),
    ("smtps://mail.example.org?timeout=3", {"MAIL_PORT": 465, "MAIL_USE_SSL": True,
                                            "MAIL_TIMEOUT": 3.0}),
])
def test_smtp_url_gives_the_mailer_settings(url, expected, tmp_path):
    settings = config.mail_settings(url, str(tmp_path))
    assert settings["MAIL_BACKEND"] == "smtp"
    assert expected.items() <= settings.items()


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://"])
def test_smtp_url_that_is_not_one_is_refused(url, tmp_path):
    with pytest.raises(ValueError, match="CUPMARK_SMTP_URL"):
        config.mail_settings(url, str(tmp_path))


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        """Keep the message and accept it."""
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def test_send_mail_goes_through_a_real_smtp_server(monkeypatch, tmp_path):
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        monkeypatch.setenv("CUPMARK_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
        app = create_app({"TESTING": True, "SECRET_KEY": "test secret",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mail.sqlite'}"})
        with app.app_context():
            assert send_mail("ada@example.org", "Your link", "Open this link.",
                             html="<p>Open</p>")
    finally:
        server.stop()
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["ada@example.org"]
    assert envelope.mail_from == "no-reply@localhost"
    assert b"Subject: Your link" in envelope.content
    assert b"Open this link." in envelope.content


def test_an_unreachable_smtp_server_is_logged_not_raised(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("CUPMARK_SMTP_URL", f"smtp://127.0.0.1:{free_port()}?timeout=2")
    app = create_app({"TESTING": True, "SECRET_KEY": "test secret",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mail.sqlite'}"})
    with app.app_context():
        assert send_mail("ada@example.org", "Your link", "Open this link.") is False
    assert "could not send mail 'Your link'" in caplog.text

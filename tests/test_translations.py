"""Russian: a complete catalogue, every page in Russian, the language setting, plural forms."""
import datetime as dt
import io
import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale, ngettext
from pypdf import PdfReader

from tests.conftest import app_on_fresh_database, signed_in
from tests.recovery_rows import make_treatment
from tests.views.test_reminders import at, client_with_treatment, send_due
from webapp import config
from webapp.extensions import babel, db
from webapp.models import CheckIn, Treatment, User
from webapp.services.demo import CLIENTS, THERAPIST_EMAIL

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "webapp" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
COMPILED = CATALOGUE.with_suffix(".mo")

# a value a string is formatted with: %(name)s, %(num)d, or the {n} scripts fill in
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{[a-z]+\}")
# two or more Latin words in a row: an English sentence, label or button left untranslated
ENGLISH = re.compile(r"[A-Za-z][A-Za-z'’]*(?:[ \u00a0]+[A-Za-z][A-Za-z'’]*)+")
# Latin text a Russian page rightly shows: addresses, the codes of standards and the device
# names browsers report (a user agent's words are not ours to translate)
ALLOWED_LATIN = re.compile(
    r"[\w.+-]+@[\w.-]+"                      # email addresses
    r"|https?://\S+"                         # addresses shown to copy
    r"|certutil -hashfile FILE SHA256"       # a command to type, quoted in the record check
    r"|Werkzeug|python-requests")


def extracted_msgids() -> set:
    """Extract every msgid from the code as `pybabel extract -F babel.cfg` does."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else tuple(message[:2]))
    return found


def test_the_russian_catalogue_holds_every_msgid_translated_and_none_fuzzy():
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f, locale="ru")
    entries = {m.id: m for m in catalogue if m.id}
    missing = sorted(map(str, extracted_msgids() - set(entries)))
    assert not missing, f"{len(missing)} msgids are not in {CATALOGUE.name}: {missing[:10]}"
    fuzzy = [m.id for m in entries.values() if m.fuzzy]
    untranslated = [m.id for m in entries.values()
                    if not all(m.string if isinstance(m.string, tuple) else (m.string,))]
    assert not fuzzy, f"fuzzy entries: {fuzzy[:10]}"
    assert not untranslated, f"untranslated entries: {untranslated[:10]}"
    # babel's own checks: the same %(name)s placeholders as the English, all plural forms
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert not problems, problems[:10]
    # stricter: no placeholder dropped either, in any form (Russian's first form serves 21 too)
    dropped = [m.id for m in entries.values() for form in (
        m.string if isinstance(m.string, tuple) else (m.string,))
        if set(PLACEHOLDER.findall(form)) != set(PLACEHOLDER.findall(
            m.id[-1] if isinstance(m.id, tuple) else m.id))]
    assert not dropped, dropped[:10]
    assert catalogue.num_plurals == 3
    # every plural entry has Russian's three forms
    assert all(len(m.string) == 3 for m in entries.values() if isinstance(m.id, tuple))


def test_the_compiled_catalogue_is_the_current_one():
    assert COMPILED.exists(), f"{COMPILED} is missing: `make setup` compiles it"
    def entries(catalogue):
        """Map each msgid to its translation, plural ones as tuples (.mo reads them as lists)."""
        tupled = lambda value: tuple(value) if isinstance(value, (list, tuple)) else value
        return {tupled(m.id): tupled(m.string) for m in catalogue if m.id}
    with open(CATALOGUE, "rb") as f:
        source = entries(read_po(f, locale="ru"))
    with open(COMPILED, "rb") as f:
        compiled = entries(read_mo(f))
    assert compiled == source, "the .mo is older than the .po: run `make setup`"


@pytest.fixture
def demo(tmp_path, request):
    """An app whose practice speaks Russian, with the demo's people, photos and flags.

    The demo's own words (names, the practice, notes) are replaced with Russian ones: they are
    what people typed, not the interface, and the flags' reasons are stored in the practice's
    language.
    """
    apps = app_on_fresh_database(tmp_path, BABEL_DEFAULT_LOCALE="ru")
    app = next(apps)
    with app.app_context():
        babel.domain_instance.cache.clear()
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
        for user, name in zip(db.session.scalars(sa.select(User).order_by(User.id)),
                              ("Мира Демова", "Анна Демова", "Борис Демов")):
            user.name = name
            user.language = "ru"
            if user.practice_name:
                user.practice_name = "Кабинет баночного массажа"
        db.session.execute(sa.update(Treatment).values(notes="Демонстрационный сеанс."))
        db.session.execute(sa.update(CheckIn).where(CheckIn.note != "")
                           .values(note="Немного болит, держу в тепле."))
        db.session.commit()
    yield app
    with app.app_context():
        babel.domain_instance.cache.clear()
    next(apps, None)


class VisibleText(HTMLParser):
    """Collect the text a person sees or hears on a page: text, labels, titles, alt text."""

    SPOKEN = {"alt", "title", "aria-label", "placeholder", "content", "aria-description"}

    def __init__(self):
        super().__init__()
        self.texts, self.links, self.hidden = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style", "template") and not attrs.get("type") == "text/html":
            self.hidden += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "meta" and attrs.get("name") not in ("description", "apple-mobile-web-app-title",
                                                       "application-name"):
            return
        for name, value in attrs.items():
            # data-* attributes hold the words scripts show (queue states, confirmations)
            if value and (name in self.SPOKEN or (name.startswith("data-")
                                                  and not value.startswith(("/", "{", "[")))):
                self.texts.append(value)
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.texts.append(data)


def english_in(texts) -> list[str]:
    """Return the runs of English words found in the texts, after the allowed Latin."""
    found = []
    for text in texts:
        text = ALLOWED_LATIN.sub(" ", text)
        found += [m.group(0) for m in ENGLISH.finditer(text)
                  if not set(m.group(0).split()) <= {"Cupmark", "PDF", "ZIP", "QR", "SHA-256"}]
    return found


def crawl(client, start: list[str], limit: int = 400) -> dict[str, list[str]]:
    """Follow a person's links from the start pages; return each page's English runs.

    Pages of one shape (ids aside) are visited three times at most. PDFs are read as text.
    """
    seen, shapes, english = set(), {}, {}
    queue = deque(start)
    while queue and len(seen) < limit:
        url = urldefrag(queue.popleft())[0]
        parts = urlsplit(url)
        if parts.netloc or not parts.path.startswith("/") or url in seen:
            continue
        if parts.path.startswith(("/static/", "/auth/logout")) or "/photos/" in parts.path:
            continue
        shape = re.sub(r"\d+", "N", parts.path) + "?" + ",".join(
            sorted(p.split("=")[0] for p in parts.query.split("&") if p))
        if shapes.get(shape, 0) >= 3:
            continue
        shapes[shape] = shapes.get(shape, 0) + 1
        seen.add(url)
        response = client.get(url)
        kind = response.mimetype
        if response.status_code in (301, 302, 303):
            queue.append(response.location)  # werkzeug's own redirect page is never read
        elif kind == "application/pdf":
            reader = PdfReader(io.BytesIO(response.data))
            english[url] = english_in(page.extract_text() for page in reader.pages)
        elif kind == "text/html":
            page = VisibleText()
            page.feed(response.get_data(as_text=True))
            english[url] = english_in(page.texts)
            queue.extend(page.links)
        elif kind in ("application/manifest+json", "application/json", "text/plain"):
            english[url] = english_in([response.get_data(as_text=True)])
    return english


def assert_russian(pages: dict[str, list[str]]) -> None:
    """Fail with every page that still shows English, and what it shows."""
    left = {url: runs for url, runs in pages.items() if runs}
    assert not left, "English on Russian pages:\n" + "\n".join(
        f"{url}: {sorted(set(runs))[:8]}" for url, runs in left.items())


@pytest.mark.parametrize("email", [THERAPIST_EMAIL] + [spec.email for spec in CLIENTS])
def test_every_page_of_a_person_who_chose_russian_is_in_russian(demo, email):
    with demo.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
    # the browser asks for English: the person's own choice wins
    client = signed_in(demo, user)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    pages = crawl(client, ["/", "/account", "/auth/confirm", "/manifest.webmanifest",
                           "/offline", "/no-such-page", "/treatments/999999"])
    assert len(pages) > (20 if user.is_therapist else 15), sorted(pages)
    assert_russian(pages)


def test_every_page_of_a_visitor_whose_browser_asks_for_russian_is_in_russian(demo):
    client = demo.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "ru-RU,ru;q=0.9,en;q=0.5"
    pages = crawl(client, ["/", "/auth/login", "/auth/register", "/auth/forgot", "/privacy",
                           "/normal", "/auth/reset", "/auth/reset/not-a-token",
                           "/auth/verify/not-a-token", "/join", "/join/NOSUCHCODE", "/verify",
                           "/verify/NOSUCHCODE", "/manifest.webmanifest", "/offline",
                           "/no-such-page"])
    assert len(pages) > 10, sorted(pages)
    assert_russian(pages)


@pytest.mark.parametrize("choice, browser, expected", [
    ("ru", "en-GB,en;q=0.9", "ru"),
    ("en", "ru-RU,ru;q=0.9", "en"),
    ("", "ru-RU,ru;q=0.9", "ru"),  # browser default: the browser's language
    ("", "en-GB,en;q=0.9", "en"),
])
def test_the_language_chosen_in_settings_overrides_the_browsers(app, client, auth, make_user,
                                                                choice, browser, expected):
    user = make_user("lena@example.org", name="Лена")
    auth.login(user)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = browser
    response = client.post("/auth/settings", data={"name": "Лена", "timezone": "Europe/Moscow",
                                                   "language": choice}, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<html lang="{expected}">' in html
    # the confirmation is said in the language just chosen
    assert ("Настройки сохранены." if expected == "ru" else "Settings saved.") in html
    with app.app_context():
        assert db.session.get(User, user.id).language == (choice or None)
    # and it stays chosen on the next page
    home = client.get("/client/").get_data(as_text=True)
    assert f'<html lang="{expected}">' in home


def test_the_language_choice_offers_browser_default_english_and_russian(client, auth, make_user):
    auth.login(make_user("lena@example.org"))
    html = client.get("/auth/settings", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    options = re.findall(r'<option (selected )?value="([^"]*)">([^<]+)</option>', html)
    assert ("selected ", "", "Как в браузере") in options  # nothing chosen yet
    assert ("", "en", "English") in options and ("", "ru", "Русский") in options


def test_a_language_we_do_not_ship_is_refused_with_a_message(app, client, auth, make_user):
    user = make_user("lena@example.org")
    auth.login(user)
    response = client.post("/auth/settings", data={"name": "Lena", "timezone": "UTC",
                                                   "language": "de"})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user.id).language is None


@pytest.mark.parametrize("n, words", [(1, "1 день с фотографией."), (2, "2 дня с фотографией."),
                                      (5, "5 дней с фотографией."), (11, "11 дней с фотографией."),
                                      (21, "21 день с фотографией."),
                                      (22, "22 дня с фотографией.")])
def test_russian_plurals_pick_the_form_the_number_needs(app, n, words):
    with app.test_request_context(), force_locale("ru"):
        assert ngettext("%(num)d day with a photo.", "%(num)d days with a photo.", n) == words
        # the templates' own ngettext the same
        rendered = app.jinja_env.from_string(
            '{{ ngettext("%(num)d day with a photo.", "%(num)d days with a photo.", n) }}')
        assert rendered.render(n=n) == words


def test_the_practice_language_comes_from_the_environment_and_must_be_shipped(monkeypatch):
    monkeypatch.setenv("CUPMARK_LANGUAGE", "ru")
    assert config.defaults("/tmp")["BABEL_DEFAULT_LOCALE"] == "ru"
    monkeypatch.setenv("CUPMARK_LANGUAGE", "de")
    with pytest.raises(ValueError, match="CUPMARK_LANGUAGE must be one of en, ru"):
        config.defaults("/tmp")


@pytest.mark.parametrize("path, form", [
    ("/auth/login", {"email": "nobody@example.org", "password": "wrong"}),
    ("/auth/register", {"email": "not-an-address", "password": "short", "role": "therapist"}),
    ("/auth/reset", {"email": ""}),
    ("/auth/register", {"name": "", "email": "", "password": ""}),
])
def test_a_refused_form_says_why_in_russian(client, path, form):
    # wtforms' own messages ("This field is required.") come from its Russian catalogue
    response = client.post(path, data=form, headers={"Accept-Language": "ru"})
    assert response.status_code in (200, 422)
    page = VisibleText()
    page.feed(response.get_data(as_text=True))
    assert not english_in(page.texts)
    assert 'class="error"' in response.get_data(as_text=True)


def set_language(app, user_id: int, language: str | None, **fields) -> None:
    """Store a person's language choice (and other fields)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        user.language = language
        for name, value in fields.items():
            setattr(user, name, value)
        db.session.commit()


def mail_is_russian(message) -> None:
    """Fail when a sent message's subject or text shows English."""
    assert not english_in([message["Subject"], message.get_body().get_content()]), message


def test_a_reminder_is_sent_in_the_language_its_reader_chose(app, make_user, outbox):
    uid = client_with_treatment(app, make_user, at("2026-11-29T09:00:00"))
    set_language(app, uid, "ru", name="Рита")
    # cron has no request and no browser: the reader's own choice decides
    assert send_due(app, at("2026-11-30T18:30:00")) == [(uid, "email")]
    (message,) = outbox()
    assert message["Subject"].strip() == "Пора сделать фото за сегодня"
    mail_is_russian(message)


def test_news_of_a_message_is_in_the_recipients_language_not_the_senders(app, client, auth,
                                                                        people, outbox):
    treatment = make_treatment(app, people["c1"], people["t1"], days_ago=3.5)
    set_language(app, people["c1"].id, "ru")
    set_language(app, people["t1"].id, None, name="Тереза Первая")
    auth.login(people["t1"])  # the therapist writes from an English browser
    client.post(f"/treatments/{treatment}/messages", data={f"message-{treatment}-body": "Hi"},
                headers={"Accept-Language": "en"})
    (message,) = outbox()
    assert message["To"] == people["c1"].email
    assert message["Subject"].strip() == "Новое сообщение: Тереза Первая"
    mail_is_russian(message)


def test_mail_asked_for_from_a_russian_browser_is_in_russian(client, make_user, outbox):
    make_user("lena@example.org")
    client.post("/auth/reset", data={"email": "lena@example.org"},
                headers={"Accept-Language": "ru"})
    client.post("/auth/register", data={"name": "Лена", "email": "new@example.org",
                                        "password": "correct horse battery staple",
                                        "role": "client"}, headers={"Accept-Language": "ru"})
    messages = outbox()
    assert len(messages) == 2
    for message in messages:
        mail_is_russian(message)


def test_dates_and_times_are_written_in_the_readers_language(app):
    moment = dt.datetime(2026, 11, 25, 4, 41, tzinfo=dt.timezone.utc)
    template = app.jinja_env.from_string("{{ moment|when }} · {{ moment|day }}")
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert template.render(moment=moment) == "ср 25 нояб., 04:41 · ср 25 нояб."
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert template.render(moment=moment) == "Wed 25 Nov, 04:41 · Wed 25 Nov"

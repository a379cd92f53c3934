"""Pages that belong to no one area: what's normal while marks fade; the shared translations."""
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import render_template_string
from flask_babel import force_locale, gettext, refresh

from webapp import create_app
from webapp.extensions import babel


def test_whats_normal_explains_stages_timing_and_what_slows_it(client):
    response = client.get("/normal")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for stage in ("Fresh", "Turning", "Faint", "Faded"):
        assert f"{stage}</span>" in html
    assert "5 to 7 days" in html
    assert "Takes blood thinners" in html and "Strong suction" in html
    # the red flags come from the same content file as the timeline's
    assert "Blisters or broken skin." in html and "not medical advice" in html
    assert "HX-Request" in response.headers["Vary"]


def test_whats_normal_is_linked_from_the_navigation(client, auth, people):
    auth.login(people["c1"])
    header = client.get("/client/").get_data(as_text=True).split("</header>")[0]
    assert 'href="/normal"' in header


@pytest.fixture
def russian(app, tmp_path):
    """An app with a small Russian catalogue, like the one a translator will ship."""
    catalog = Catalog(locale="ru")
    for english, russian_words in (("Log in", "Войти"), ("Email", "Эл. почта"),
                                   ("Password", "Пароль")):
        catalog.add(english, russian_words)
    (tmp_path / "translations" / "ru" / "LC_MESSAGES").mkdir(parents=True)
    with open(tmp_path / "translations" / "ru" / "LC_MESSAGES" / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    app = create_app({**app.config, "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "translations")})
    # flask-babel keeps catalogues across apps by locale: forget those other tests loaded
    with app.app_context():
        babel.domain_instance.cache.clear()
    yield app
    with app.app_context():
        babel.domain_instance.cache.clear()


def test_a_translated_catalogue_is_used_by_templates_and_lazy_labels(russian):
    html = russian.test_client().get(
        "/auth/login", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "<h1>Войти</h1>" in html  # _() in a template
    assert "Эл. почта" in html and "Пароль" in html  # lazy form labels
    html = russian.test_client().get(
        "/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>Log in</h1>" in html and "Пароль" not in html


def test_templates_and_code_follow_force_locale_and_refresh(russian):
    with russian.test_request_context(headers={"Accept-Language": "ru"}):
        assert gettext("Log in") == "Войти"
        with force_locale("en"):
            assert gettext("Log in") == "Log in"
            assert render_template_string("{{ _('Log in') }}") == "Log in"
        assert gettext("Log in") == "Войти"
        refresh()
        assert render_template_string("{{ _('Log in') }}") == "Войти"


def test_welcome_says_what_cupmark_does_for_a_visitor(client, auth, people):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for words in ("For clients", "For therapists", "Create an account", "Log in",
                  "I have an invite code", "not medical advice", 'href="/privacy"'):
        assert words in html
    # the example chart is drawn from the demo's numbers
    assert 'id="welcome-chart-title"' in html and html.count('class="point"') == 5
    # a signed-in person still goes to their own home
    auth.login(people["c1"])
    assert client.get("/").headers["Location"].endswith("/client/")


def test_privacy_says_what_who_how_long_and_how_to_export_or_delete(client):
    html = client.get("/privacy").get_data(as_text=True)
    for words in ("What is stored", "Who sees it", "How long it is kept", "Export or delete",
                  "download all your data", "delete your account", "not medical advice"):
        assert words in html


def test_register_links_privacy_and_asks_practice_of_therapists_only(app, client):
    html = client.get("/auth/register").get_data(as_text=True)
    assert 'href="/privacy"' in html and 'href="/join"' in html
    assert '<div class="practice-field">' in html
    # the stylesheet hides the practice while "A client" is chosen
    css = (Path(app.static_folder) / "css" / "app.css").read_text()
    assert ("#register-form:has(input[name=role][value=client]:checked) .practice-field "
            "{ display: none; }") in css


def test_navigation_marks_the_current_page(client, auth, people):
    auth.login(people["c1"])
    home = client.get("/client/").get_data(as_text=True)
    assert '<a href="/client/" aria-current="page">Home</a>' in home
    assert '<a href="/normal">What\'s normal</a>' in home
    normal = client.get("/normal").get_data(as_text=True)
    assert '<a href="/normal" aria-current="page">' in normal and 'aria-current="true"' not in normal
    assert '<a href="/client/">Home</a>' in normal
    auth.logout()
    auth.login(people["t1"])
    invites = client.get("/invites").get_data(as_text=True)
    assert '<a href="/invites" aria-current="page">Invites</a>' in invites
    assert '<a href="/therapist/">Clients</a>' in invites
    review = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    # a client's page belongs to "Clients", without being that page itself
    assert '<a href="/therapist/" aria-current="true">Clients</a>' in review


def test_no_script_writes_an_inline_style(app):
    """The CSP allows no inline style: our scripts set none (test_pwa checks the templates)."""
    root = Path(app.root_path).parent
    for script in (root / "static" / "js").glob("*.js"):
        text = script.read_text()
        assert not re.search(r"\.style\b|setAttribute\(\s*[\"']style|cssText", text), script

"""Redirect targets: sign-in's and consent's `next` never lead off the site."""
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import PASSWORD
from webapp.views.pages import safe_next

# the issue's two (a tab and a newline) and the usual open-redirect lists' forms: other hosts,
# schemes, backslashes, encodings a browser decodes, whitespace a browser drops, lookalikes
PAYLOADS = [
    "/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/%0a/evil.example",
    "/\r\n/evil.example", "/%0d%0a/evil.example", "//evil.example", "///evil.example",
    "////evil.example", "//evil.example/%2f..", "/\\evil.example", "/\\/evil.example",
    "\\\\evil.example", "/%5cevil.example", "/%5c%5cevil.example", "/%2f/evil.example",
    "/%2F%2Fevil.example", "https://evil.example", "http:evil.example", "http:/evil.example",
    "https:\\\\evil.example", "//evil.example@cupmark.test", "//cupmark.test@evil.example",
    "evil.example", "@evil.example", ".evil.example", " //evil.example", "\t//evil.example",
    "/\x00/evil.example", "/%00/evil.example", "/\u200b/evil.example", "/\u3000/evil.example",
    "//evil%E3%80%82example", "//evil。example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    "/" + "a" * 3000, "",
]


def stays_on_site(location: str) -> bool:
    """Tell whether a Location header leads to a path on this site."""
    parts = urlsplit(location)
    host_ok = parts.netloc in ("", "localhost") and parts.scheme in ("", "http")
    return (host_ok and parts.path.startswith("/") and not parts.path.startswith("//")
            and "\\" not in location and not any(ord(c) < 0x20 for c in location))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_safe_next_refuses_every_payload(payload):
    assert safe_next(payload) is None


@pytest.mark.parametrize("target", ["/links", "/treatments/3/checkin?day=2#top",
                                    "/client/?q=a%20b", "/consent"])
def test_safe_next_keeps_paths_on_this_site(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sign_in_next_stays_on_site(client, make_user, payload):
    make_user("ada@example.org")
    # sent raw in the query string, as an attacker's link would be
    response = client.post("/auth/login?next=" + quote(payload, safe="/:%@.\\"),
                           data={"email": "ada@example.org", "password": PASSWORD})
    if "\x00" in payload or "%00" in payload:
        # a NUL anywhere in a request is refused before any view sees it (pages.install)
        assert response.status_code == 400 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert stays_on_site(response.headers["Location"]), response.headers["Location"]
    assert response.headers["Location"] == "/"


def test_sign_in_next_on_site_is_followed(client, make_user):
    make_user("ada@example.org")
    response = client.post("/auth/login?next=/links", data={"email": "ada@example.org",
                                                            "password": PASSWORD})
    assert response.headers["Location"] == "/links"


@pytest.mark.parametrize("payload", ["/%09/evil.example", "/%0a/evil.example",
                                     "//evil.example", "/%5cevil.example",
                                     "https://evil.example"])
def test_consent_next_stays_on_site(client, auth, make_user, payload):
    auth.login(make_user("ada@example.org"))
    response = client.post("/consent?next=" + payload)
    assert response.status_code == 302
    # the unsafe target is dropped: consent continues to what a new client came for
    assert response.headers["Location"] == "/treatments/new"

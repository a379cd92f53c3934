"""Pages that belong to no one area, and the response habits every page shares."""
import io
import json
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

from flask import (Blueprint, Flask, Request as FlaskRequest, abort, current_app, g, jsonify,
                   make_response, redirect, render_template, request, send_from_directory,
                   url_for)
from flask_babel import force_locale, get_locale, gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge, SecurityError
from werkzeug.routing import IntegerConverter

from webapp.analysis.course import DEFAULT_EXPECTED_DAYS
from webapp.extensions import csrf, db, htmx
from webapp.services import chart, demo, pwa, tips
from webapp.services.access import can_see_photos
from webapp.services.dates import (DATE_PATTERN, DATETIME_PATTERN, TIME_PATTERN, formatter,
                                   times_zone)
from webapp.services.reasons import tenths
from webapp.services.recovery import checkins_by_treatment

bp = Blueprint("pages", __name__)

# strict: nothing inline, nothing from another origin; photos preview as blob: URLs on the
# check-in page, and violations are reported to /csp-report so they show in the server log
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'",
    "img-src 'self' blob: data:", "connect-src 'self'", "media-src 'self' blob:",
    "worker-src 'self'", "manifest-src 'self'", "object-src 'none'", "base-uri 'none'",
    "frame-ancestors 'none'", "form-action 'self'", "report-uri /csp-report",
))
# the check-in page films the marks with this site's camera; nothing else may use a sensor
PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"
# sent only when the deployment is https (CUPMARK_HTTPS): two years, the preload lists' minimum
HSTS = "max-age=63072000; includeSubDomains"
THEME_COLOUR = "#0b4f6c"
BACKGROUND_COLOUR = "#ffffff"


# the largest id a database integer column holds (PostgreSQL's integer, 32 bits)
MAX_ID = 2_147_483_647


class IdConverter(IntegerConverter):
    """Werkzeug's <int:...>, matching only ids a database integer can hold (others are 404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        """Default the upper bound to MAX_ID: a larger id would fail in the database, not match."""
        super().__init__(map, fixed_digits, min, max, signed)




def stripped(value: str | None) -> str | None:
    """Trim a form answer's surrounding whitespace, so a blank one counts as empty."""
    return value.strip() if isinstance(value, str) else value


# Unicode's explicit directional formatting characters (UAX #9 section 2: the embeddings,
# overrides and isolates U+202A-202E and U+2066-2069, the marks U+200E, U+200F and U+061C):
# in a name they reverse it on screen ("Cleo \u202eRTL\u202c" showed as "Cleo LTR") or pull
# the sentence around it out of order; a note or a message can spoof its words the same way
# ("pay \u202e01$\u202c" read "pay $10"). Text in any script reads right without them
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e"
                                       "\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


def plain_text(value: str | None) -> str | None:
    """Trim text that others read (a name, a flag's note, a message, a check-in's note) and
    drop the bidi controls from it (BIDI_CONTROLS)."""
    return stripped(value.translate(BIDI_CONTROLS)) if isinstance(value, str) else value


def wants_json() -> bool:
    """Tell whether the caller (the offline queue, a page's fetch) asked for JSON, not a page."""
    return request.accept_mimetypes.best_match(
        ("text/html", "application/json")) == "application/json"


def wants_fragment() -> bool:
    """Tell whether htmx asks for a slice (boosted links and history restores want the page)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or just its included partial when htmx asks for a fragment."""
    name = partial if partial is not None and wants_fragment() else template
    return render_template(name, **context), status


def redirect_to(url: str, *, status: int = 302, in_place: bool = False):
    """Redirect, also from an htmx request, which cannot act on a 3xx.

    htmx gets HX-Redirect (a full page load), or with ``in_place`` HX-Location (the page is
    fetched and swapped in without a reload: only for pages that answer an untargeted htmx
    request with the whole page).
    """
    if htmx and not htmx.boosted:
        return "", 200, {"HX-Location" if in_place else "HX-Redirect": url}
    return redirect(url, status)


def safe_next(target: str | None) -> str | None:
    """Return a redirect target only if it is a path on this site (no open redirects)."""
    if not target or len(target) > 2048:
        return None
    # checked as sent and once decoded: browsers drop tabs and newlines from a URL (so
    # "/\t/evil.example" becomes "//evil.example") and read a backslash as a slash
    for form in (target, unquote(target)):
        if "\\" in form or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in form):
            return None
        parts = urlsplit(form)
        # "///host" parses as an empty host and the path "/host"; browsers go to host
        if (parts.scheme or parts.netloc or not form.startswith("/") or form.startswith("//")
                or parts.path.startswith("//")):
            return None
    return target


def page_sent_from() -> str | None:
    """Return the path of the page this request's form was on, if it is a page of this site.

    htmx names the page in ``HX-Current-URL``; a plain form only in ``Referer``. Either is a
    full URL, kept only when its host is this request's host and its path passes safe_next.
    """
    source = request.headers.get("HX-Current-URL") or request.referrer
    if not source or len(source) > 2048:
        return None
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return safe_next(urlunsplit(("", "", parts.path, parts.query, "")))


def render_error(status: int, title: str, message: str):
    """Render a friendly error page, or its message alone for an htmx request."""
    return render("pages/error.html", "pages/_error.html", status=status,
                  title=title, message=message)


def too_large_page():
    """Refuse a request body over the size cap (MAX_CONTENT_LENGTH) with a friendly message."""
    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    return render_error(413, _("File too large"),
                        _("That file is too large. Photos up to %(mb)d MB are accepted.",
                          mb=limit))


class Request(FlaskRequest):
    """Flask's request, with uploaded files kept in memory."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        """Collect an uploaded file in memory instead of a temporary file."""
        # the body is capped at MAX_CONTENT_LENGTH before it is read, and the intake reads the
        # photo whole anyway: spooling it to disk first only cost a write and a copy per upload
        return io.BytesIO()


def install(app: Flask) -> None:
    """Install the request class, response headers and error pages every route shares."""
    app.request_class = Request

    @app.before_request
    def refuse_nul():
        """Refuse a NUL character anywhere in the request's values: no text may hold one."""
        # PostgreSQL cannot store or compare a string holding NUL (an exception, not a miss);
        # no form, address or search of ours has a use for it
        try:
            form = request.form
        except RequestEntityTooLarge:
            # a body over the cap is never read: the view answers it with its own message
            return None
        if "\x00" in request.path or any("\x00" in value for values in (request.args, form)
                                         for value in values.values()):
            abort(400)
        return None

    @app.after_request
    def shared_headers(response):
        """Set the headers every response shares: Vary, caching, and the security headers."""
        # a page and its fragment share a URL
        response.vary.add("HX-Request")
        # pages show one person's health data: kept by no cache, neither the browser's (nor its
        # back-forward cache) nor a proxy's; responses that may be kept say so themselves
        # (static files, the service worker, the icon)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # a page opened from another site's window gets no handle on it, nor it on ours
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if response.mimetype == "text/html":
            # the service worker's offline page follows the language of the pages (sw.js)
            response.headers.setdefault("Content-Language", str(get_locale() or ""))
        if app.config["HTTPS"]:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    @app.errorhandler(404)
    def not_found(error):
        """Say plainly that there is nothing here (also for things you may not see)."""
        return render_error(404, _("Not found"),
                            _("There is nothing here, or it is not yours to see."))

    @app.errorhandler(400)
    def bad_request(error):
        """Refuse a request that cannot be read, and say so."""
        return render_error(400, _("Please try again"),
                            _("That request could not be read. Go back and send it again."))

    @app.errorhandler(SecurityError)
    def untrusted_host(error):
        """Refuse a request for a host not in TRUSTED_HOSTS, in plain text."""
        # no URL can be built for a host we do not serve, so there is no page (its links and
        # styles are URLs) around the message
        return _("This site is not served under that name."), 400, {
            "Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        """Refuse a form without a valid CSRF token, and say how to recover (in JSON to a fetch)."""
        message = _("This form has expired. Go back, reload the page and send it again.")
        if wants_json():
            # the device subscription and the offline queue read JSON, never a page
            return jsonify(ok=False, error="csrf", message=message), 400
        return render_error(400, _("Please try again"), message)

    @app.errorhandler(413)
    def too_large(error):
        """Refuse a request body over the size cap with a friendly message."""
        return too_large_page()

    @app.errorhandler(500)
    def server_error(error):
        """Apologise without detail: the log has the traceback, the page nothing of the code."""
        # the failed request's transaction may be broken: the page must not touch it
        db.session.rollback()
        return render_error(500, _("Something went wrong"),
                            _("Sorry, something went wrong on our side. "
                              "Please try again in a moment."))

    @app.errorhandler(405)
    def wrong_method(error):
        """Answer a wrong HTTP method with a page, not a bare error."""
        return render_error(405, _("Not allowed"), _("That action is not available here."))

    @app.template_filter("bdi")
    def bdi(name: str) -> Markup:
        """Isolate a name inside a sentence, so its script's direction cannot reorder the rest."""
        return Markup("<bdi>{}</bdi>").format(name)

    @app.template_filter("when")
    def when(value):
        """Write a UTC datetime's date and time in the user's zone (DATETIME_PATTERN)."""
        return formatter(DATETIME_PATTERN)(value) if value else ""

    @app.template_filter("time_of_day")
    def time_of_day(value, timezone: str | None = None):
        """Write a UTC datetime's time of day (TIME_PATTERN) in the zone, the user's by default."""
        return formatter(TIME_PATTERN, timezone)(value) if value else ""

    @app.template_filter("day")
    def day(value):
        """Write a UTC datetime's (or a calendar date's) date in the user's zone (DATE_PATTERN)."""
        return formatter(DATE_PATTERN)(value) if value else ""

    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["times_zone"] = times_zone
    app.jinja_env.filters["tenths"] = tenths
    app.jinja_env.globals["theme_colour"] = THEME_COLOUR

    @app.template_global()
    def photos_shared(client_id: int) -> bool:
        """Tell whether the signed-in user may see this client's photos (access.can_see_photos);
        asked once a request, however many days a page lists."""
        shared = g.setdefault("photos_shared", {})
        if client_id not in shared:
            shared[client_id] = can_see_photos(current_user, client_id)
        return shared[client_id]

    @app.template_global()
    def ghost_photo_url(treatment) -> str | None:
        """Return the treatment's latest photo: guided capture lays it over the camera."""
        checkins = checkins_by_treatment([treatment.id])[treatment.id]
        return url_for("photos.show", checkin_id=checkins[-1].id, size="full") if checkins else None


@bp.route("/manifest.webmanifest")
def manifest():
    """Describe the installable app: names, icons, start page, colours."""
    def icon(name: str, size: int, purpose: str = "any") -> dict:
        return {"src": url_for("static", filename=f"icons/{name}"), "sizes": f"{size}x{size}",
                "type": "image/png", "purpose": purpose}
    response = jsonify({
        "name": _("Cupmark: follow your cupping marks"),
        "short_name": _("Cupmark"),
        "description": _("Photograph your cupping marks once a day and see how they fade."),
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "lang": str(get_locale() or "en"),
        "icons": [icon("icon-192.png", 192), icon("icon-512.png", 512),
                  icon("icon-maskable-512.png", 512, "maskable")],
    })
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/sw.js")
def service_worker():
    """Serve the service worker from the site root, so that it may control every page."""
    version = pwa.shell_version(current_app.static_folder, current_app.template_folder)
    # the offline page once per language: the worker shows the one of the last page it
    # fetched (Content-Language), as the person chose in their settings, not the browser's
    offline = {code: url_for("pages.offline", lang=code)
               for code in current_app.config["LANGUAGES"]}
    shell = ([url_for("static", filename=name) for name in pwa.SHELL_STATIC]
             + [url_for("pages.manifest")] + list(offline.values()))
    with open(f"{current_app.static_folder}/{pwa.WORKER_SOURCE}", encoding="utf-8") as f:
        source = f.read()
    # the worker learns its version, its shell and where the queue's script is (under its
    # hashed name once built) from this first line; the rest is static/sw.js
    queue = url_for("static", filename="js/queue.js")
    settings = {"version": version, "shell": shell, "queue": queue, "offline": offline,
                "language": current_app.config["BABEL_DEFAULT_LOCALE"]}
    config = f"const CUPMARK = {json.dumps(settings)};\n"
    response = current_app.response_class(config + source, mimetype="text/javascript")
    # browsers check the worker for updates on navigation; never serve them a stale one
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/favicon.ico")
def favicon():
    """Answer the browsers that ask for /favicon.ico whatever the page says: our small icon."""
    return send_from_directory(f"{current_app.static_folder}/icons", "icon-32.png",
                               mimetype="image/png", max_age=86400)


@bp.route("/offline")
def offline():
    """The page the service worker shows when a page cannot be fetched: nobody's data in it.

    The worker fetches it without a session, so ``lang`` (one of LANGUAGES) names its language;
    without one it is the browser's, as for any visitor.
    """
    language = request.args.get("lang")
    if language in current_app.config["LANGUAGES"]:
        with force_locale(language):
            response = make_response(render_template("pages/offline.html"))
        # said here: the after-request hook reads the request's own language, not the forced one
        response.headers["Content-Language"] = language
        return response
    return render_template("pages/offline.html")


@bp.route("/csrf-token")
def csrf_token():
    """Hand the offline queue a fresh CSRF token, and who is signed in, before it sends an upload.

    The queue sends a photo only while its owner is signed in: ``user`` is the same id the
    pages show it in #upload-queue[data-owner].
    """
    if not current_user.is_authenticated:
        # json, not the login redirect: the queue keeps its photos until someone signs in
        return jsonify(ok=False, error="signed_out"), 401
    return jsonify(ok=True, csrf_token=generate_csrf(), user=str(current_user.id))


@bp.route("/csp-report", methods=("POST",))
@csrf.exempt
def csp_report():
    """Log a Content-Security-Policy violation the browser reports, so none goes unseen."""
    if (request.content_length or 0) > 16_384:
        return "", 413
    payload = request.get_json(force=True, silent=True)
    report = payload.get("csp-report") if isinstance(payload, dict) else None
    if not isinstance(report, dict):
        return "", 204
    current_app.logger.warning("CSP violation: %s blocked %s on %s",
                               str(report.get("violated-directive", "?"))[:100],
                               str(report.get("blocked-uri", "?"))[:200],
                               str(report.get("document-uri", "?"))[:200])
    return "", 204


def welcome():
    """Say what Cupmark does for clients and therapists, with an example chart (the demo's)."""
    course = demo.sample_course()
    example = chart.build(course, DEFAULT_EXPECTED_DAYS, course[-1].t_days)
    return render_template("pages/welcome.html", example=example)


@bp.route("/privacy")
def privacy():
    """Say what is stored, who sees it, how long it is kept, and how to export or delete it."""
    return render_template("pages/privacy.html")


@bp.route("/normal")
def normal():
    """Explain what fading marks usually look like, how long they last and what slows them."""
    return render_template("pages/normal.html", care=tips.aftercare(0, None, set()))

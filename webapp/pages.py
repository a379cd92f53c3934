"""Pages that belong to no one area, and the response habits every page shares."""
from flask import Blueprint, Flask, render_template
from flask_babel import get_locale, gettext as _
from flask_wtf.csrf import CSRFError

from webapp.extensions import htmx

bp = Blueprint("pages", __name__)


def render(template: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or just its included partial when htmx asks for a fragment."""
    wants_fragment = partial is not None and bool(htmx) and not htmx.boosted
    return render_template(partial if wants_fragment else template, **context), status


def safe_next(target: str | None) -> str | None:
    """Return a redirect target only if it is a path on this site (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def render_error(status: int, title: str, message: str):
    """Render a friendly error page, or its message alone for an htmx request."""
    return render("pages/error.html", "pages/_error.html", status=status,
                  title=title, message=message)


def install(app: Flask) -> None:
    """Install the response headers and error pages every route shares."""

    @app.after_request
    def vary_on_htmx(response):
        """Tell caches that a page and its fragment share a URL."""
        response.vary.add("HX-Request")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(404)
    def not_found(error):
        """Say plainly that there is nothing here (also for things you may not see)."""
        return render_error(404, _("Not found"),
                            _("There is nothing here, or it is not yours to see."))

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        """Refuse a form without a valid CSRF token, and say how to recover."""
        return render_error(400, _("Please try again"),
                            _("This form has expired. Go back, reload the page and send it again."))

    @app.errorhandler(413)
    def too_large(error):
        """Refuse a request body over the size cap with a friendly message."""
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return render_error(413, _("File too large"),
                            _("That file is too large. Photos up to %(mb)d MB are accepted.",
                              mb=limit))

    @app.errorhandler(405)
    def wrong_method(error):
        """Answer a wrong HTTP method with a page, not a bare error."""
        return render_error(405, _("Not allowed"), _("That action is not available here."))

    @app.template_filter("when")
    def when(value):
        """Format a UTC datetime in the user's time zone."""
        from flask_babel import format_datetime
        return format_datetime(value, "medium") if value else ""

    app.jinja_env.globals["get_locale"] = get_locale

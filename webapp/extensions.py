"""Flask extensions, created unbound and bound to the app in create_app()."""
import flask_babel
from flask import g
from flask_compress import Compress
from jinja2 import pass_eval_context
from markupsafe import Markup
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase
from werkzeug.utils import cached_property


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


class RequestDomain(flask_babel.Domain):
    """flask-babel's message domain, looking the catalogue up once per request, not per string."""

    def get_translations(self):
        """Return the current locale's catalogue, kept in flask-babel's state for the request."""
        # flask-babel finds it anew for every string (a page has hundreds); its force_locale()
        # and refresh() reset this slot of its per-request state, so a switched locale still
        # gets its own catalogue (tests/test_pages.py proves both)
        # the proxy `g` is resolved once: each attribute through it costs a context lookup
        try:
            request_globals = g._get_current_object()
        except RuntimeError:
            request_globals = None  # outside an app context
        state = getattr(request_globals, "_flask_babel", None)
        cached = getattr(state, "babel_translations", None)
        if cached is None:
            cached = super().get_translations()
            if request_globals is not None:
                request_globals._flask_babel.babel_translations = cached
        return cached


class Babel(flask_babel.Babel):
    """flask-babel, with the message domain that looks its catalogue up once per request."""

    @cached_property
    def domain_instance(self) -> RequestDomain:
        """Return the domain every gettext goes through (flask-babel's, with the cache)."""
        return RequestDomain(domain=self.domain)

    def init_app(self, app, *args, **kwargs) -> None:
        """Bind flask-babel, then give templates a `_`/`gettext`/`ngettext` one call deep."""
        super().init_app(app, *args, **kwargs)
        # jinja's i18n wraps each of these in two context-passing calls and flask-babel then
        # finds its domain through the request globals: ~17 µs a string, and a page shows
        # ~100. these do the same (newstyle: %-format, escape the values in html) directly

        @pass_eval_context
        def gettext(eval_ctx, string: str, **variables) -> str:
            """Translate a template's string and format its values into it."""
            text = self.domain_instance.get_translations().ugettext(string)
            if eval_ctx.autoescape:
                text = Markup(text)
            # most strings have no placeholder: formatting (which turns %% into %) is skipped
            return text % variables if variables or "%" in text else text

        @pass_eval_context
        def ngettext(eval_ctx, singular: str, plural: str, num: int, **variables) -> str:
            """Translate a template's string in the plural form that num needs."""
            variables.setdefault("num", num)
            text = self.domain_instance.get_translations().ungettext(singular, plural, num)
            return (Markup(text) if eval_ctx.autoescape else text) % variables

        app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
babel = Babel()
mailer = Mail()
# pages compressed with brotli or gzip; webapp/delivery.py decides which responses (BREACH)
compress = Compress()
limiter = Limiter(key_func=get_remote_address)

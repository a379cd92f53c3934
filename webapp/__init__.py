"""Cupmark: follow how cupping-therapy marks heal, one daily photo at a time."""
import os

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, redirect, request, url_for
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import config
from webapp.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
from webapp.models import render_migration_item
from webapp.services import instance, mail
from webapp.views import (account, auth, checkins, client, consent, delivery, demo, flags, links,
                          marks, messages, pages, photos, readings, records, reminders, sessions,
                          therapist, throttle, treatments)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the Cupmark app: config, then extensions, then blueprints."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.config.from_mapping(config.defaults(app.instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    instance.make_private(app.instance_path, app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = (os.environ.get("CUPMARK_SECRET_KEY")
                                    or config.instance_secret_key(app.instance_path))
    if app.config["PROXY_HOPS"]:
        # behind nginx: the client's address and scheme come from the headers the proxy sets
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if app.config["SESSION_COOKIE_SECURE"]:
        # over https the browser then keeps the cookie to this exact host, path / and https:
        # a sibling subdomain or a plain-http page cannot set or overwrite it
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    # first: WhiteNoise wraps the app, and compression must run after every other after_request
    delivery.install(app)

    # before any route is added: every <int:...> id must fit a database integer
    app.url_map.converters["int"] = pages.IdConverter
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"),
                     render_as_batch=True, render_item=render_migration_item)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", configure_sqlite)

    for module in (account, auth, checkins, client, consent, demo, flags, links, marks, messages,
                   pages, photos, readings, records, reminders, sessions, therapist, treatments):
        app.register_blueprint(module.bp)
    pages.install(app)
    app.register_error_handler(429, throttle.too_many)

    @app.route("/")
    def index():
        """Welcome a visitor; send each signed-in person to their own home page."""
        if not current_user.is_authenticated:
            return pages.welcome()
        return redirect(url_for("therapist.home" if current_user.is_therapist else "client.home"))

    return app


def configure_sqlite(dbapi_connection, connection_record) -> None:
    """Make SQLite enforce foreign keys, wait for locks instead of failing, and lower-case
    every letter, not only A-Z.

    SQLite's own lower() (and so ILIKE, which SQLAlchemy writes as lower() LIKE lower()) folds
    ASCII alone: a search for "иван" missed "Иван". Replacing it with Python's is what
    SQLite's ICU extension does (sqlite.org/lang_corefunc.html#lower); PostgreSQL's lower()
    already follows the database's Unicode locale.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
    dbapi_connection.create_function("lower", 1, unicode_lower, deterministic=True)


def unicode_lower(value):
    """SQLite's lower() for any text: Python's str.lower; other values as SQLite gives them."""
    return value.lower() if isinstance(value, str) else value


def select_locale() -> str | None:
    """Pick the language the person chose in settings, else the browser's best among ours.

    Outside a request (or when neither says) it is None: the practice's language.
    """
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated and current_user.language:
        return current_user.language
    return request.accept_languages.best_match(current_app.config["LANGUAGES"])


def select_timezone() -> str | None:
    """Show times in the signed-in user's IANA time zone, or on a page about one client's
    recovery in that client's (webapp.services.dates.show_times_of)."""
    if has_request_context() and g.get("times_zone"):
        return g.times_zone
    if current_user and current_user.is_authenticated:
        return current_user.timezone
    return None

"""Configuration read from the environment, with safe defaults for one machine."""
import datetime as dt
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


def instance_secret_key(instance_path: str) -> str:
    """Return the secret key kept in the instance folder, creating it on first use."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # the key never goes into the repo: each machine makes its own, readable by it alone
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def database_url(instance_path: str) -> str:
    """Return the database URL: DATABASE_URL if set, else SQLite in the instance folder."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "cupmark.sqlite")
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def mail_settings(smtp_url: str | None, instance_path: str) -> dict:
    """Return Flask-Mailman's settings: SMTP from a URL, or the instance outbox when there is none.

    ``smtp://user:password@host:port`` speaks plain SMTP (a relay on loopback),
    ``smtp+starttls://`` upgrades with STARTTLS and ``smtps://`` is TLS from the start.
    """
    if not smtp_url:
        return {"MAIL_BACKEND": "file", "MAIL_FILE_PATH": str(Path(instance_path) / "outbox")}
    url = urlsplit(smtp_url)
    if url.scheme not in ("smtp", "smtp+starttls", "smtps") or not url.hostname:
        raise ValueError("CUPMARK_SMTP_URL must look like smtp+starttls://user:password@host:587")
    return {
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": url.hostname,
        "MAIL_PORT": url.port or {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[url.scheme],
        "MAIL_USERNAME": unquote(url.username) if url.username else None,
        "MAIL_PASSWORD": unquote(url.password) if url.password else None,
        "MAIL_USE_TLS": url.scheme == "smtp+starttls",
        "MAIL_USE_SSL": url.scheme == "smtps",
        # a stuck mail server must not hold a request (and its worker) for ever
        "MAIL_TIMEOUT": float(parse_qs(url.query).get("timeout", ["10"])[0]),
    }


def env_flag(name: str) -> bool:
    """Read a yes/no setting from the environment (1, true, yes or on mean yes)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


# the languages Cupmark ships a catalogue for (webapp/translations), English first: the source
LANGUAGES = ("en", "ru")


def practice_language() -> str:
    """Return CUPMARK_LANGUAGE (default en); a language we do not ship is refused."""
    language = os.environ.get("CUPMARK_LANGUAGE", "en").strip().lower()
    if language not in LANGUAGES:
        raise ValueError(f"CUPMARK_LANGUAGE must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return language


def trusted_hosts() -> list[str]:
    """Return CUPMARK_TRUSTED_HOSTS, comma-separated host names (default: loopback's two).

    Flask's TRUSTED_HOSTS: a request naming any other host in its Host (or, behind the proxy,
    X-Forwarded-Host) header is refused with 400, so the links Cupmark mails (reset, invite,
    the record's verify link) always point at the practice. A name starting with a dot matches
    its subdomains too; the port is not compared.
    """
    hosts = os.environ.get("CUPMARK_TRUSTED_HOSTS", "localhost,127.0.0.1")
    return [host.strip().lower() for host in hosts.split(",") if host.strip()]


def defaults(instance_path: str) -> dict:
    """Return the default configuration, overridable by environment and instance config."""
    https = env_flag("CUPMARK_HTTPS")
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # the deployment is served over https (behind a TLS proxy): HSTS is sent and the cookie
        # is Secure; without it the app speaks plain http on loopback, where a Secure cookie
        # would never come back
        "HTTPS": https,
        "SESSION_COOKIE_SECURE": https,
        # how many proxies (nginx: one) stand in front and set X-Forwarded-For/-Proto/-Host
        "PROXY_HOPS": int(os.environ.get("CUPMARK_PROXY_HOPS", 0)),
        # the host names the app answers to: external links are built from the request's host
        "TRUSTED_HOSTS": trusted_hosts(),
        "WTF_CSRF_TIME_LIMIT": None,
        # a device stays signed in while it is used: 14 days idle, 60 days at most (the cookie
        # is permanent and renewed with each answer; the UserSession row holds both limits)
        "SESSION_IDLE_DAYS": 14,
        "SESSION_MAX_DAYS": 60,
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(days=14),
        # signing other devices out asks for the password unless it was typed this recently
        "REAUTHENTICATION_MINUTES": 10,
        "RESET_LINK_MINUTES": 30,
        "VERIFY_LINK_DAYS": 7,
        # the practice's language: for whoever chose none and whose browser asks for none we
        # ship, for flag reasons (stored once for every reader) and mail sent outside a request
        "BABEL_DEFAULT_LOCALE": practice_language(),
        "LANGUAGES": list(LANGUAGES),
        "CONSENT_VERSION": "2026-11",
        "INVITE_DAYS": 7,
        # a phone photo is 2-8 MB; 25 MB leaves room for HEIC bursts and form fields
        "MAX_CONTENT_LENGTH": int(os.environ.get("CUPMARK_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)),
        "PHOTO_MAX_PIXELS": 50_000_000,
        "UPLOADS_PER_DAY": int(os.environ.get("CUPMARK_UPLOADS_PER_DAY", 20)),
        "PHOTO_STORE": os.environ.get("CUPMARK_PHOTO_STORE", "local"),
        "S3_BUCKET": os.environ.get("CUPMARK_S3_BUCKET"),
        "S3_ENDPOINT_URL": os.environ.get("CUPMARK_S3_ENDPOINT_URL"),
        "PHOTO_ROOT": os.environ.get("CUPMARK_PHOTO_ROOT") or str(Path(instance_path) / "photos"),
        # bytes younger than this may belong to an upload still in flight: cleanup spares them
        "PHOTO_CLEANUP_GRACE_SECONDS": 3600,
        "MAIL_DEFAULT_SENDER": os.environ.get("CUPMARK_MAIL_FROM", "Cupmark <no-reply@localhost>"),
        # flask-limiter: memory counts for one process; several workers share Redis
        "RATELIMIT_STORAGE_URI": os.environ.get("CUPMARK_RATELIMIT_STORAGE_URL", "memory://"),
        # a moving window: the 11th try within any 60 seconds is refused, not only per clock minute
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_KEY_PREFIX": "cupmark",
        # while Redis is down the limits still hold, per process, instead of every request failing
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # per door: (per account, per address); only failed sign-ins count
        "RATE_LIMITS": {
            "sign_in": ("10 per minute; 50 per hour", "30 per minute; 300 per hour"),
            "register": ("3 per hour", "20 per hour"),
            "reset": ("3 per hour", "20 per hour"),
            "upload": ("30 per minute", "60 per minute"),
        },
        **mail_settings(os.environ.get("CUPMARK_SMTP_URL"), instance_path),
        # Web Push (webapp/reminders.py): the VAPID key pair is made once in this file
        "VAPID_PRIVATE_KEY_FILE": os.environ.get("CUPMARK_VAPID_PRIVATE_KEY_FILE")
        or str(Path(instance_path) / "vapid_private.pem"),
        # who the push services may write to about our pushes (the VAPID "sub" claim)
        "VAPID_SUBJECT": os.environ.get("CUPMARK_VAPID_SUBJECT", "mailto:admin@cupmark.example"),
        # Flask-Compress: webapp/views/delivery.py registers it itself, for same-site requests only;
        # brotli first (10-15% smaller than gzip on our files), gzip for every other browser
        "COMPRESS_REGISTER": False,
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        # a browser's subscription must point at one of these push services (no other host is
        # ever sent a request on a client's say-so)
        "PUSH_SERVICE_HOSTS": ("fcm.googleapis.com", "push.services.mozilla.com",
                               "push.apple.com", "notify.windows.com"),
    }

"""Configuration read from the environment, with safe defaults for one machine."""
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


def defaults(instance_path: str) -> dict:
    """Return the default configuration, overridable by environment and instance config."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ["en", "ru"],
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
        **mail_settings(os.environ.get("CUPMARK_SMTP_URL"), instance_path),
    }

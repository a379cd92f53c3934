"""Configuration read from the environment, with safe defaults for one machine."""
import os
import secrets
from pathlib import Path


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


def env_flag(name: str) -> bool:
    """Read a yes/no setting from the environment (1, true, yes or on mean yes)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


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
    }

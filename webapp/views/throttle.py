"""Rate limits on the doors an attacker knocks on: sign-in, registration, reset and upload.

Each door has two limits, set in the RATE_LIMITS config: one per account (the email typed
into the form, or the signed-in user) and one per address. Flask-Limiter counts them in its
storage: memory in one process, Redis (CUPMARK_RATELIMIT_STORAGE_URL) for several workers.
"""
import datetime as dt
import math
import time

from flask import current_app, jsonify, request
from flask_babel import format_timedelta, gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from webapp.extensions import limiter
from webapp.views.pages import render_error, wants_json


def account_key() -> str:
    """Return whose account a request is about: the signed-in user, else the email typed."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"email:{email}"


def failed(response) -> bool:
    """Tell whether a sign-in failed: only failures count (a family shares one address)."""
    return response.status_code >= 400


def limited(door: str, *, only_failures: bool = False):
    """Return a decorator that puts a door's per-account and per-address limits on a view."""
    def configured(kind: int):
        return lambda: current_app.config["RATE_LIMITS"][door][kind]
    deduct_when = failed if only_failures else None
    per_account = limiter.limit(configured(0), key_func=account_key, methods=["POST"],
                                deduct_when=deduct_when, scope=f"{door}-account")
    per_address = limiter.limit(configured(1), key_func=get_remote_address, methods=["POST"],
                                deduct_when=deduct_when, scope=f"{door}-address")
    return lambda view: per_account(per_address(view))


def too_many(error):
    """Say that there were too many tries, and in how long the next one will be heard."""
    reset_at = limiter.current_limit.reset_at if limiter.current_limit else time.time() + 60
    # rounded up: a client that waits exactly this long must not be refused again
    seconds = max(1, math.ceil(reset_at - time.time()))
    wait = format_timedelta(dt.timedelta(seconds=seconds), threshold=1.1)
    message = _("Too many attempts. Please wait and try again in %(wait)s.", wait=wait)
    if wants_json():
        # the offline queue keeps the photo and sends it again later
        response = jsonify(ok=False, error="rate_limited", message=message, retry_after=seconds)
        response.status_code = 429
    else:
        body, status = render_error(429, _("Please wait a moment"), message)
        response = current_app.make_response((body, status))
    response.headers["Retry-After"] = str(seconds)
    return response

"""gunicorn settings for Cupmark: `make run` serves with them, and so does production behind nginx.

Every value can be changed from the environment; see README "Production".
"""
import multiprocessing
import os

# loopback only: in production nginx, on the same machine, is the one that faces the network
bind = os.environ.get("CUPMARK_BIND", "127.0.0.1:5000")
# the rate limits (webapp/views/throttle.py) are counted where CUPMARK_RATELIMIT_STORAGE_URL
# says; in memory each process keeps its own counts, so 3 processes heard 23 wrong passwords
# for one account where 10 a minute are allowed. Several processes need a shared store (Redis).
RATELIMIT_STORAGE = os.environ.get("CUPMARK_RATELIMIT_STORAGE_URL", "memory://")
SHARED_COUNTS = not RATELIMIT_STORAGE.startswith("memory://")
# gunicorn's rule of thumb, (2 x cores) + 1 processes; each runs a few threads, so a request
# that waits on the database or a slow client does not hold a whole process. With counts in
# memory: one process, with the threads those processes would have had
PROCESSES = 2 * multiprocessing.cpu_count() + 1
workers = int(os.environ.get("CUPMARK_WORKERS", PROCESSES if SHARED_COUNTS else 1))
worker_class = "gthread"
threads = int(os.environ.get("CUPMARK_THREADS", 4 if SHARED_COUNTS else 4 * PROCESSES))
# a 12 MP photo is measured in a few seconds; a request still running after a minute is stuck
timeout = 60
graceful_timeout = 30
keepalive = 5
# a fresh process now and then, at different moments for each, bounds any slow leak
max_requests = 2000
max_requests_jitter = 200
# the proxy's X-Forwarded-Proto is trusted from loopback only (gunicorn's default address)
forwarded_allow_ips = os.environ.get("CUPMARK_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# the app factory; gunicorn never runs Flask's debugger
wsgi_app = "webapp:create_app()"


def on_starting(server):
    """Warn loudly when several processes would each count the rate limits on their own."""
    if workers > 1 and not SHARED_COUNTS:
        server.log.warning(
            "RATE LIMITS NOT SHARED: %d worker processes count sign-in tries in memory, each on "
            "its own, so an account gets %d times the tries it should. Set "
            "CUPMARK_RATELIMIT_STORAGE_URL=redis://127.0.0.1:6379/0 or CUPMARK_WORKERS=1.",
            workers, workers)

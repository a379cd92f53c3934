"""Where the browser tests find Chromium, and what the test report says when they cannot."""
import os

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
# .ci/run sets it: there a missing browser is an error, never a quiet skip
REQUIRED = os.environ.get("CUPMARK_REQUIRE_BROWSER") == "1"
SKIP_REASON = (f"browser tests SKIPPED: no Chromium at {CHROMIUM} "
               "(apt-get install chromium chromium-driver; .ci/run does)")


def header() -> str:
    """The report header's line about the browser suite."""
    return f"browser: tests run in {CHROMIUM}" if HAVE_CHROMIUM else SKIP_REASON

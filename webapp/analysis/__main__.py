"""Command line: ``python -m webapp.analysis PHOTO...`` or ``--course --treated-at ISO PHOTO@ISO...``.

Prints one JSON object per line; exits 2 when any photo was refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from .analyze import analyze_photo
from .course import DEFAULT_EXPECTED_DAYS, assess_course


def _parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time (a trailing Z means UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m webapp.analysis", description=__doc__)
    parser.add_argument("photos", nargs="+", help="photo paths; with --course, PHOTO@ISO-TIME")
    parser.add_argument("--course", action="store_true", help="assess the photos as one course")
    parser.add_argument("--treated-at", help="treatment time (ISO 8601), needed with --course")
    parser.add_argument("--expected-days", type=float, default=DEFAULT_EXPECTED_DAYS)
    args = parser.parse_args(argv)
    if args.course and not args.treated_at:
        parser.error("--course needs --treated-at")

    status = 0
    readings = []
    for item in args.photos:
        path, taken = item, None
        if args.course:
            path, sep, when = item.rpartition("@")
            if not sep:
                parser.error(f"{item!r}: with --course give PHOTO@ISO-TIME")
            try:
                taken = _parse_time(when)
            except ValueError:
                parser.error(f"{item!r}: {when!r} is not an ISO time")
        reading = analyze_photo(path)
        if not reading.ok:
            status = 2
        print(json.dumps({"photo": path, **({"taken_at": taken.isoformat()} if taken else {}), **reading.to_dict()}))
        readings.append((taken, reading))
    if args.course:
        try:
            treated_at = _parse_time(args.treated_at)
        except ValueError:
            parser.error(f"{args.treated_at!r} is not an ISO time")
        assessment = assess_course(treated_at, readings, expected_days=args.expected_days)
        print(json.dumps(assessment.to_dict()))
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Command line: ``python -m webapp.analysis PHOTO...`` or ``--course --treated-at ISO PHOTO@ISO...``.

``PHOTO#x,y;x,y`` measures the marks at those points (fractions of the upright photo's width
and height); ``PHOTO#points@ISO`` combines both. Prints one JSON object per line; exits 2 when
any photo was refused or a point was bad.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime

from .analyze import analyze_photo
from .course import DEFAULT_EXPECTED_DAYS, assess_course


def _parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time (a trailing Z means UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)


def _parse_points(text: str) -> list[tuple[float, float]]:
    """Parse "x,y;x,y" into points; ValueError with a plain message when it is not that."""
    points = []
    for part in text.split(";"):
        pieces = part.split(",")
        if len(pieces) != 2:
            raise ValueError(f"{part!r} is not a point: write x,y")
        try:
            x, y = float(pieces[0]), float(pieces[1])
        except ValueError:
            raise ValueError(f"{part!r} is not a point: x and y must be numbers") from None
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"{part!r} lies outside the photo: x and y must be between 0 and 1")
        points.append((x, y))
    return points


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m webapp.analysis", description=__doc__)
    parser.add_argument("photos", nargs="+", help="photo paths, PHOTO#x,y;x,y for points; with --course, PHOTO@ISO-TIME")
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
        points = None
        # PHOTO#x,y;x,y, unless a file is really named so
        head, hash_, spec = path.rpartition("#")
        if hash_ and not os.path.exists(path):
            path = head
            try:
                points = _parse_points(spec)
            except ValueError as error:
                status = 2
                print(json.dumps({"photo": path, "ok": False, "error": "bad_point", "message": str(error)}))
                continue
        reading = analyze_photo(path, at=points)
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

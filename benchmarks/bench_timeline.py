"""Benchmark: the recovery timeline with 14 check-ins against a trivial route (the login page).

Run with ``python benchmarks/bench_timeline.py``. Builds an app on a temporary SQLite
database, signs a client in with the Flask test client, then times GETs of the login page and
of the timeline in one interleaved run. Prints both medians and their ratio (goal ≤ 3, issue 15).

Nothing of a timeline is kept between requests: its first view after a new check-in costs what
a view of it opened again costs.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp import clock, create_app  # noqa: E402
from webapp.analysis import PhotoReading  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import CheckIn, Reading, Treatment, User, utcnow  # noqa: E402

RUNS = 300
WARMUP = 20
DAYS = 14
PASSWORD = "benchmark password"


def seed() -> int:
    """Store a client with one treatment and a check-in a day for 14 days; return its id."""
    user = User(email="bench@example.org", name="Bench", role="client")
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.flush()
    treatment = Treatment(client_id=user.id, treated_at=utcnow() - dt.timedelta(days=DAYS + 0.5),
                          body_area="upper_back", technique="static", cup_count=6,
                          cup_material="glass", suction="medium", risk_factors=[],
                          expected_days=7)
    db.session.add(treatment)
    db.session.flush()
    for day in range(DAYS):
        delta_e = max(14.0 * 0.8 ** day, 1.0)
        stage = "fresh" if delta_e >= 6 else "faint" if delta_e >= 3 else "resolved"
        data = PhotoReading(ok=True, mark_found=delta_e >= 3, marks=3, stage=stage,
                            colour="violet", delta_e=delta_e, delta_lab=[-5.0, 4.0, -2.0],
                            mark_hex="#8a4a5c", area_fraction=0.02).to_dict()
        checkin = CheckIn(treatment_id=treatment.id, client_id=user.id,
                          idempotency_key=f"bench-{day}", upload_sha256="0" * 64,
                          taken_at=treatment.treated_at + dt.timedelta(days=day + 0.3),
                          pain=2, note="fine", photo_key="p", thumb_key="t")
        checkin.reading = Reading(analyzer_version="bench", ok=True, stage=stage,
                                  colour="violet", delta_e=delta_e, mark_hex="#8a4a5c", data=data)
        db.session.add(checkin)
    db.session.commit()
    return treatment.id


def median_ms(samples: list[float]) -> float:
    """Return the median of the samples in milliseconds."""
    return statistics.median(samples) * 1000


def main() -> None:
    """Time the two routes alternately, so both see the same machine load."""
    # at noon, the treatment 14.5 days back falls 14 calendar days back: 15 day rows whatever
    # the hour the benchmark runs (before noon UTC the real clock made them 16)
    noon = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    with clock.travel(noon), tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                          "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False,
                          "PHOTO_ROOT": f"{tmp}/photos"})
        with app.app_context():
            db.create_all()
            treatment_id = seed()
        client = app.test_client()
        response = client.post("/auth/login",
                               data={"email": "bench@example.org", "password": PASSWORD})
        assert response.status_code in (302, 303), response.status_code
        timeline_url = f"/treatments/{treatment_id}"
        page = client.get(timeline_url)
        assert page.status_code == 200 and page.data.count(b'class="day-row') == DAYS + 1
        trivial, timeline = [], []
        for i in range(WARMUP + RUNS):
            for url, samples in (("/auth/login", trivial), (timeline_url, timeline)):
                start = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - start
                assert response.status_code in (200, 302)
                if i >= WARMUP:
                    samples.append(elapsed)
        base = median_ms(trivial)
        print(f"trivial route (GET /auth/login, signed in): median {base:.2f} ms over {RUNS} runs")
        size = len(page.data) // 1024
        measured = median_ms(timeline)
        print(f"timeline ({DAYS} check-ins, {size} KiB): median {measured:.2f} ms, "
              f"ratio {measured / base:.2f} (goal <= 3)")

if __name__ == "__main__":
    main()

"""Photo serving (access matrix, headers, audit) and the cleanup command."""
import datetime as dt
import io
import os
import time

import pytest
import sqlalchemy as sa
from PIL import Image

from webapp.analysis import synthetic
from webapp.extensions import db
from webapp.models import AuditEvent, Consent, Treatment, User, utcnow
from webapp.services.checkins import record_checkin
from webapp.services.storage import get_store


def skin_jpeg() -> bytes:
    """Return a small synthetic photo of skin with one mark."""
    skin = synthetic.skin_lab_for_ita(40)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 10, "red"),
                                centre=(0.5, 0.5), radius=0.12)]
    return synthetic.save_jpeg(synthetic.render_scene(skin, marks, seed=3).image)


@pytest.fixture
def checkin_id(app, people):
    """One check-in of C1 (linked to T1), stored through the service."""
    with app.app_context():
        client = db.session.get(User, people["c1"].id)
        db.session.add(Consent(user_id=client.id, version=app.config["CONSENT_VERSION"]))
        treatment = Treatment(client_id=client.id, therapist_id=people["t1"].id,
                              treated_at=utcnow() - dt.timedelta(days=2), body_area="upper_back",
                              technique="static", cup_count=4, cup_material="glass",
                              suction="medium")
        db.session.add(treatment)
        db.session.commit()
        return record_checkin(client, treatment, skin_jpeg(), idempotency_key="photo-key-1",
                              taken_at=utcnow()).id


@pytest.mark.parametrize("size, long_side", [("full", 640), ("thumb", 320)])
@pytest.mark.parametrize("who, status", [("c1", 200), ("t1", 200), ("t2", 404), ("c2", 404),
                                         (None, 404)])
def test_access_matrix(client, auth, people, checkin_id, who, status, size, long_side):
    """Owner and linked therapist see the photo; other therapist, other client, anonymous: 404."""
    if who:
        auth.login(people[who])
    response = client.get(f"/photos/{checkin_id}/{size}.jpg")
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "image/jpeg"
        assert max(Image.open(io.BytesIO(response.data)).size) == long_side
    else:
        assert not response.data.startswith(b"\xff\xd8")


def test_headers_no_store_inline_with_a_safe_name(client, auth, people, checkin_id):
    """Kept by no cache, shown inline under a name made of numbers, nosniff."""
    auth.login(people["c1"])
    for size in ("full", "thumb"):
        response = client.get(f"/photos/{checkin_id}/{size}.jpg")
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert (response.headers["Content-Disposition"]
                == f'inline; filename="cupmark-{checkin_id}-{size}.jpg"')


def test_unknown_size_or_checkin_is_404(client, auth, people, checkin_id):
    """Only the two sizes exist; a missing check-in is 404 like a forbidden one."""
    auth.login(people["c1"])
    assert client.get(f"/photos/{checkin_id}/original.jpg").status_code == 404
    assert client.get(f"/photos/{checkin_id + 99}/full.jpg").status_code == 404


def test_therapist_view_is_audited(app, client, auth, people, checkin_id):
    """A therapist viewing a client's photo writes a view_photo event; the owner does not."""
    auth.login(people["c1"])
    client.get(f"/photos/{checkin_id}/full.jpg")
    auth.logout()
    auth.login(people["t1"])
    client.get(f"/photos/{checkin_id}/thumb.jpg")
    with app.app_context():
        events = db.session.execute(sa.select(AuditEvent.action, AuditEvent.actor_id,
                                              AuditEvent.subject_id, AuditEvent.object_id).where(
            AuditEvent.action == "view_photo")).all()
    assert events == [("view_photo", people["t1"].id, people["c1"].id, checkin_id)]


def test_cleanup_removes_only_old_orphans(app, runner, checkin_id):
    """Cleanup deletes bytes no check-in names once older than the grace period."""
    with app.app_context():
        store = get_store()
        store.put("ab/orphan.jpg", b"left by a crash")
        kept = {obj.key for obj in store.list()}
    result = runner.invoke(args=["photos", "cleanup"])
    assert "removed 0" in result.output  # young bytes may belong to an upload in flight
    old = time.time() - 7200
    os.utime(os.path.join(app.config["PHOTO_ROOT"], "ab", "orphan.jpg"), (old, old))
    result = runner.invoke(args=["photos", "cleanup"])
    assert "removed 1" in result.output
    with app.app_context():
        assert {obj.key for obj in get_store().list()} == kept - {"ab/orphan.jpg"}
        get_store().put("cd/another.jpg", b"x")
    assert "removed 1" in runner.invoke(args=["photos", "cleanup", "--grace", "0"]).output

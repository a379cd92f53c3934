"""The photo store contract, run against the local store and an S3 server started here."""
import datetime as dt
import io
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import free_port
from webapp.analysis import synthetic
from webapp.extensions import db
from webapp.models import CheckIn, Consent, Treatment, User, utcnow
from webapp.services.storage import LocalStore, PhotoMissing, S3Store, get_store, new_key

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
               "region_name": "us-east-1"}


def skin_jpeg() -> bytes:
    """Return a small synthetic photo of skin with one mark."""
    skin = synthetic.skin_lab_for_ita(30)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 9, "violet"))]
    return synthetic.save_jpeg(synthetic.render_scene(skin, marks, seed=4).image)


@pytest.fixture(scope="module")
def s3_endpoint():
    """Start moto's S3-compatible server on loopback for this module; yield its URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def new_bucket(endpoint: str) -> str:
    """Create a fresh bucket on the server and return its name."""
    name = f"photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """Each store implementation, empty."""
    if request.param == "local":
        return LocalStore(tmp_path / "photos")
    endpoint = request.getfixturevalue("s3_endpoint")
    client = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    return S3Store(new_bucket(endpoint), client=client)


def test_put_get_delete_list(store):
    """Bytes come back as written, are listed with an aware time, and are gone after delete."""
    key, other = new_key(), new_key()
    store.put(key, b"\xff\xd8first")
    store.put(other, b"\xff\xd8second")
    assert store.get(key) == b"\xff\xd8first"
    listed = {obj.key: obj.modified_at for obj in store.list()}
    assert set(listed) == {key, other}
    for modified in listed.values():
        # a store's times are its machine's, not the app's clock (which the tests set to noon)
        assert abs(modified - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    store.delete(key)
    with pytest.raises(PhotoMissing):
        store.get(key)
    assert [obj.key for obj in store.list()] == [other]


def test_missing_keys(store):
    """Reading a missing key raises PhotoMissing; deleting one is not an error."""
    with pytest.raises(PhotoMissing):
        store.get(new_key())
    store.delete(new_key())
    assert list(store.list()) == []


def test_keys_are_fresh_and_unguessable():
    """Every key is new: 128 random bits."""
    keys = {new_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(len(k.split("/")[1]) == 36 for k in keys)


@pytest.mark.parametrize("key", ["../escape.jpg", "/etc/passwd", "ab/../../x.jpg", ""])
def test_local_store_refuses_keys_outside_its_root(tmp_path, key):
    """A key can never name a file outside the photo root."""
    store = LocalStore(tmp_path / "photos")
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_local_write_is_atomic(tmp_path, monkeypatch):
    """A write that fails half-way leaves neither the file nor its temporary file behind."""
    store = LocalStore(tmp_path / "photos")
    key = new_key()

    def broken_fsync(fd):
        """Fail like a full disk."""
        raise OSError("no space left on device")
    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError):
        store.put(key, b"half a photo")
    monkeypatch.undo()
    assert list(store.list()) == []


def test_checkin_on_s3_store(app, client, auth, people, s3_endpoint, monkeypatch):
    """With PHOTO_STORE=s3 a check-in's photos go to the bucket and are served from it."""
    bucket = new_bucket(s3_endpoint)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    app.config.update(PHOTO_STORE="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=s3_endpoint)
    with app.app_context():
        user = db.session.get(User, people["c1"].id)
        db.session.add(Consent(user_id=user.id, version=app.config["CONSENT_VERSION"]))
        treatment = Treatment(client_id=user.id, treated_at=utcnow() - dt.timedelta(days=1),
                              body_area="calves", technique="static", cup_count=2,
                              cup_material="silicone", suction="light")
        db.session.add(treatment)
        db.session.commit()
        treatment_id = treatment.id
    auth.login(people["c1"])
    response = client.post(f"/treatments/{treatment_id}/checkin", headers={
        "Accept": "application/json"}, content_type="multipart/form-data", data={
        "photo": (io.BytesIO(skin_jpeg()), "p.jpg"), "pain": "1", "idempotency_key": "s3-key-01",
        "taken_at": utcnow().strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 201
    with app.app_context():
        assert isinstance(get_store(), S3Store)
        checkin = db.session.get(CheckIn, response.json["checkin_id"])
        listed = {obj["Key"] for obj in boto3.client(
            "s3", endpoint_url=s3_endpoint, **CREDENTIALS).list_objects_v2(
            Bucket=bucket)["Contents"]}
        assert listed == {checkin.photo_key, checkin.thumb_key}
    photo = client.get(f"/photos/{response.json['checkin_id']}/full.jpg")
    assert photo.status_code == 200 and photo.data.startswith(b"\xff\xd8")

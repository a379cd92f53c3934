"""Files in the instance folder are the owner's alone: database, photos, secret key."""
import os
import stat

import pytest
import sqlalchemy as sa

from webapp import config, create_app
from webapp.services.instance import make_private
from webapp.services.storage import LocalStore


def mode(path) -> int:
    """Return the permission bits of a path."""
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """Run with the usual umask (022), under which new files are world-readable by default."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_database_and_its_wal_files_are_owner_only(tmp_path):
    folder = tmp_path / "instance"
    database = folder / "cupmark.sqlite"
    url = f"sqlite:///{database}"
    make_private(str(folder), url)
    assert mode(folder) == 0o700 and mode(database) == 0o600
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.exec_driver_sql("CREATE TABLE t (x)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        # SQLite gives its -wal and -shm files the mode of the database file
        assert mode(f"{database}-wal") == 0o600 and mode(f"{database}-shm") == 0o600
    engine.dispose()


def test_an_existing_world_readable_database_is_closed(tmp_path):
    database = tmp_path / "old.sqlite"
    database.write_bytes(b"")
    database.chmod(0o644)
    tmp_path.chmod(0o755)
    make_private(str(tmp_path), f"sqlite:///{database}")
    assert mode(database) == 0o600 and mode(tmp_path) == 0o700


def test_photos_and_their_folders_are_owner_only(tmp_path):
    store = LocalStore(tmp_path / "photos")
    store.put("ab/abcdef.jpg", b"jpeg bytes")
    assert mode(tmp_path / "photos") == 0o700
    assert mode(tmp_path / "photos" / "ab") == 0o700
    assert mode(tmp_path / "photos" / "ab" / "abcdef.jpg") == 0o600


def test_the_secret_key_is_owner_only(tmp_path):
    config.instance_secret_key(str(tmp_path))
    assert mode(tmp_path / "secret_key") == 0o600


def test_the_app_closes_its_instance_folder(tmp_path):
    app = create_app({"SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.sqlite'}"})
    assert mode(app.instance_path) == 0o700
    assert mode(tmp_path / "app.sqlite") == 0o600

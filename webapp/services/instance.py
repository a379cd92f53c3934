"""The instance folder holds the database, the photos and the secret key: owner-only files."""
import os
from pathlib import Path

import sqlalchemy as sa

# the owner reads and writes; group and others get nothing (health photos, password hashes)
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(instance_path: str, database_uri: str) -> None:
    """Make the instance folder and a SQLite database file readable by their owner only."""
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    # a closed folder guards whatever is made in it later too (photos, an outbox, logs)
    folder.chmod(PRIVATE_DIR)
    url = sa.engine.make_url(database_uri)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        # made here, before SQLite opens it: SQLite makes a new file 0644, and gives its
        # -wal and -shm files the mode of the database file
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        os.close(fd)
        path.chmod(PRIVATE_FILE)

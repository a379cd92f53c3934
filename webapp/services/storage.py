"""Where photo bytes live: one small interface, a local-disk store and an S3-compatible store.

Bytes are written under fresh random keys *before* the database row that names them is
committed, and deleted only *after* the row's deletion is committed. So a crash at any instant
can leave bytes without a row (removed by ``flask photos cleanup``) but never a row without
bytes.

Why local files rather than blobs in the database: a photo is written once and never changed,
a few hundred kB each, read far more often than written. Files keep the database small (fast
backups, cheap VACUUM, short SQLite write locks while the upload is being stored), stream from
disk without loading a row, and give the same code path as the S3 store that several app
workers share in production; the atomic rename below makes each file appear whole or not at all.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from flask import Flask, current_app

from webapp.services.instance import PRIVATE_DIR


class PhotoMissing(KeyError):
    """The store holds no bytes under the asked key."""


@dataclass(frozen=True)
class StoredObject:
    """One object in a store: its key and when it was last written (aware UTC)."""

    key: str
    modified_at: dt.datetime


class PhotoStore(Protocol):
    """The four things the app asks of a photo store."""

    def put(self, key: str, data: bytes) -> None:
        """Store the bytes under the key, whole or not at all."""

    def get(self, key: str) -> bytes:
        """Return the bytes under the key, or raise PhotoMissing."""

    def delete(self, key: str) -> None:
        """Remove the key's bytes; removing a missing key is not an error."""

    def list(self) -> Iterator[StoredObject]:
        """Yield every object in the store (for cleanup)."""


def new_key() -> str:
    """Return a fresh, unguessable key for one JPEG (sharded by its first two characters)."""
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.jpg"


class LocalStore:
    """Photos as files under one directory, each written atomically."""

    def __init__(self, root: str | os.PathLike):
        """Keep the files under root (created on first write)."""
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        """Return the file for a key, refusing any key that would leave the root."""
        path = (self.root / key).resolve()
        if not key or os.path.isabs(key) or not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"bad photo key: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write to a temporary file, flush it to disk, then rename it into place."""
        path = self._path(key)
        # owner-only folders (mkstemp already makes the file 0600): skin photos are nobody
        # else's business on a shared machine
        self.root.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        # same directory: os.replace is atomic only within one file system
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # the rename itself must survive a power cut before the row that names it is committed
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        """Read the file of the key."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise PhotoMissing(key) from exc

    def delete(self, key: str) -> None:
        """Remove the file of the key, if there is one."""
        self._path(key).unlink(missing_ok=True)

    def list(self) -> Iterator[StoredObject]:
        """Yield every file, leftover temporary files of a crashed write included."""
        if not self.root.exists():
            return
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(dirpath) / name
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:
                    # deleted while we walked: nothing to clean
                    continue
                yield StoredObject(path.relative_to(self.root).as_posix(),
                                   dt.datetime.fromtimestamp(mtime, dt.timezone.utc))


class S3Store:
    """Photos as objects in one bucket of an S3-compatible service (AWS, MinIO, Ceph...)."""

    def __init__(self, bucket: str, endpoint_url: str | None = None, client=None):
        """Use the bucket through a boto3 client (credentials from the usual AWS settings)."""
        import boto3

        self.bucket = bucket
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url)

    def put(self, key: str, data: bytes) -> None:
        """Upload the bytes in one PUT, which S3 makes visible whole or not at all."""
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                               ContentType="image/jpeg")

    def get(self, key: str) -> bytes:
        """Download the object's bytes."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise PhotoMissing(key) from exc

    def delete(self, key: str) -> None:
        """Delete the object (S3 answers success for a missing key too)."""
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self) -> Iterator[StoredObject]:
        """Yield every object of the bucket, page by page."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for item in page.get("Contents", ()):
                yield StoredObject(item["Key"], item["LastModified"])


def make_store(config) -> PhotoStore:
    """Build the store the configuration names: "local" (default) or "s3"."""
    kind = config.get("PHOTO_STORE", "local")
    if kind == "local":
        return LocalStore(config["PHOTO_ROOT"])
    if kind == "s3":
        if not config.get("S3_BUCKET"):
            raise RuntimeError("PHOTO_STORE=s3 needs S3_BUCKET (CUPMARK_S3_BUCKET)")
        return S3Store(config["S3_BUCKET"], config.get("S3_ENDPOINT_URL"))
    raise RuntimeError(f"unknown PHOTO_STORE {kind!r}: use 'local' or 's3'")


def get_store(app: Flask | None = None) -> PhotoStore:
    """Return the app's photo store, built once per app (boto3 clients are thread-safe)."""
    app = app or current_app._get_current_object()
    store = app.extensions.get("photo_store")
    if store is None:
        store = app.extensions["photo_store"] = make_store(app.config)
    return store


def discard(store: PhotoStore, keys) -> None:
    """Delete the keys best-effort: what fails here is left for ``flask photos cleanup``."""
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - cleanup must never hide the error being handled
            current_app.logger.warning("photo bytes %s left for cleanup", key, exc_info=True)

"""Stores on every backend for the shared suites: a local folder, memory:// and S3.

S3 runs against moto's standalone server (the ``s3_endpoint`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest
from tests.conftest import BUCKET

from shipyard.objects import Digest, ObjectStore

BACKENDS = ["local", "memory", "s3"]


@dataclass
class Backend:
    """How to open a store on one backend and reach behind it to damage its bytes."""

    kind: str
    url: str
    storage_options: dict[str, Any]

    def store(self, **kwargs: Any) -> ObjectStore:
        return ObjectStore(self.url, storage_options=self.storage_options or None, **kwargs)

    def raw_fs(self) -> Any:
        fs, _ = fsspec.core.url_to_fs(self.url, **self.storage_options)
        return fs

    def overwrite(self, store: ObjectStore, digest: Digest, data: bytes) -> None:
        """Replace an object's bytes behind the store's back (bit rot, a careless edit)."""
        location = store.location(digest)
        if self.kind == "local":
            path = Path(location)
            path.chmod(0o644)
            path.write_bytes(data)
            return
        self.raw_fs().pipe_file(location, data)

    def plant(self, relpath: str, data: bytes) -> None:
        """Write a stray file (a leftover temp file, a foreign file) under the root."""
        if self.kind == "local":
            path = Path(self.url) / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        self.raw_fs().pipe_file(f"{self.url}/{relpath}", data)


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    name = uuid.uuid4().hex[:10]
    if kind == "local":
        return Backend(kind, str(tmp_path / f"objects-{name}"), {})
    if kind == "memory":
        return Backend(kind, f"memory://objects-{name}", {})
    endpoint = request.getfixturevalue("s3_endpoint")
    return Backend(kind, f"s3://{BUCKET}/{name}", {"endpoint_url": endpoint})


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, tmp_path, request)


@pytest.fixture
def local_store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "objects")

"""Stores on every backend for the shared suites: a local folder, memory:// and S3.

S3 runs against moto's standalone server, started once per test process on 127.0.0.1;
those cases are skipped only when moto or s3fs cannot be imported.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest

from shipyard.objects import Digest, ObjectStore

BACKENDS = ["local", "memory", "s3"]
BUCKET = "shipyard-test"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    try:
        import s3fs  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.skip(f"S3 backend tests need moto[server] and s3fs importable: {exc}")
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(_AWS_ENV)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    fs = fsspec.filesystem("s3", endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir(BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


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

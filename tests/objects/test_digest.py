"""Digests: strict parsing, canonical form, and hashing that agrees across entry points."""

from __future__ import annotations

import io
import os

import blake3
import pytest
from tests.imports import modules_loaded_by

from shipyard.errors import ObjectStoreError
from shipyard.objects import Digest, hash_bytes, hash_file, hash_stream
from shipyard.objects import _digest as digest_module

HEX = "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"


def test_parse_and_canonical_form():
    digest = Digest.parse(f"blake3:{HEX}")
    assert str(digest) == f"blake3:{HEX}"
    assert digest.hex == HEX
    assert digest.path_parts == (HEX[:2], HEX[2:])
    assert digest.key == f"{HEX[:2]}/{HEX[2:]}"
    assert digest == hash_bytes(b"hello")
    assert {digest, Digest(HEX)} == {digest}


@pytest.mark.parametrize(
    "text",
    [
        HEX,
        f"md5:{HEX}",
        f"BLAKE3:{HEX}",
        f"blake3:{HEX.upper()}",
        f"blake3:{HEX[:-1]}",
        f"blake3:{HEX}0",
        f"blake3:{HEX[:-1]}g",
        f" blake3:{HEX}",
        f"blake3:{HEX}\n",
        "",
        None,
    ],
)
def test_parse_refuses_anything_but_the_canonical_form(text):
    with pytest.raises(ObjectStoreError) as err:
        Digest.parse(text)
    assert repr(text) in err.value.message
    assert "blake3:" in err.value.message
    assert "shipyard data versions" in err.value.hint


def test_digest_is_frozen_and_slotted():
    digest = Digest(HEX)
    with pytest.raises(AttributeError):
        digest.hex = "0" * 64
    assert not hasattr(digest, "__dict__")
    with pytest.raises(ObjectStoreError):
        Digest("not hex")


@pytest.mark.parametrize("size", [0, 1, 1000, (1 << 20) + 5, digest_module.THREADS_THRESHOLD + 3])
def test_every_way_of_hashing_agrees_with_blake3(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    expected = Digest(blake3.blake3(data).hexdigest())
    assert hash_bytes(data) == expected
    assert hash_stream(io.BytesIO(data)) == expected
    assert hash_file(path) == expected


def test_importing_objects_stays_light():
    heavy = {"fsspec", "pandas", "rich", "s3fs", "numpy"}
    assert modules_loaded_by("import shipyard.objects", heavy) == []

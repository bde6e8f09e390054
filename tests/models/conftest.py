"""Fixtures for model packages: small models, a mixed-dtype frame, a pickle that would
create a marker file when loaded, and a way to forge a package's manifest (what an
attacker who controls a package folder can do)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard.objects import hash_file


class CreatesMarker:
    """Unpickling this calls ``open(path, "w")``: the marker file appears if code ran."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def marker(tmp_path) -> Path:
    """A file that exists only if some pickle was loaded."""
    return tmp_path / "code-ran.marker"


@pytest.fixture
def exploit_object(marker) -> CreatesMarker:
    return CreatesMarker(marker)


@pytest.fixture
def exploit_in(exploit_object) -> Callable[[int], bytes]:
    """Pickle bytes of a protocol that create ``marker`` when loaded."""
    return lambda protocol: pickle.dumps(exploit_object, protocol=protocol)


@pytest.fixture
def exploit(exploit_in) -> bytes:
    """Pickle bytes that create ``marker`` when loaded (checked live in test_safety)."""
    return exploit_in(pickle.DEFAULT_PROTOCOL)


@pytest.fixture
def mixed() -> pd.DataFrame:
    """Numbers (with a null), text, a category and a date: what churn data looks like."""
    rng = np.random.default_rng(7)
    size = 120
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, size),
            "income": rng.normal(50_000, 10_000, size),
            "plan": rng.choice(["basic", "plus", "pro"], size),
            "region": pd.Categorical(rng.choice(["north", "south"], size)),
            "active": rng.random(size) > 0.3,
        }
    )
    frame.loc[3, "income"] = np.nan
    return frame


@pytest.fixture
def labels(mixed) -> pd.Series:
    return ((mixed["age"] > 45) ^ (mixed["plan"] == "pro")).astype(int)


@pytest.fixture
def numeric(mixed) -> pd.DataFrame:
    return mixed[["age", "income"]].fillna(0.0)


@pytest.fixture
def forge() -> Callable[[Path, str, bytes], None]:
    """Write ``data`` to ``relpath`` in a package and record its digest in the manifest,
    as someone who controls the folder could: digests alone cannot stop that."""

    def forge(folder: Path, relpath: str, data: bytes) -> None:
        target = folder / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        edit_manifest(folder, lambda doc: doc["files"].update({relpath: str(hash_file(target))}))

    return forge


def edit_manifest(folder: Path, change: Callable[[dict], object]) -> None:
    path = folder / "shipyard-model.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture
def manifest_editor() -> Callable[[Path, Callable[[dict], object]], None]:
    return edit_manifest


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, to prove a refusal changed nothing."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def snapshot_of() -> Callable[[Path], dict[str, bytes]]:
    return snapshot

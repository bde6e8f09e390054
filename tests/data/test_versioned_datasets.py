"""Versioned datasets: every save is a version; loads read the workspace or a pinned version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from shipyard.data import Catalog, Versioning, parse_load_versions
from shipyard.errors import (
    CorruptObjectError,
    DatasetError,
    ObjectNotFoundError,
    VersionNotFoundError,
)


@pytest.fixture
def versioned(root: Path):
    """Build a catalog whose versions live in ``<root>/.shipyard``."""

    def make(entries, *, load_versions=None, verify=False, run_id=None) -> Catalog:
        versioning = Versioning.open(
            root / ".shipyard",
            load_versions=load_versions,
            run_id_provider=(lambda: run_id) if run_id else None,
            verify_on_read=verify,
        )
        return Catalog.from_config(entries, project_root=root, versioning=versioning)

    return make


CSV = {
    "customers": {"type": "pandas.CSVDataset", "filepath": "data/01_raw/c.csv", "versioned": True}
}


def frames(n: int) -> list[pd.DataFrame]:
    return [pd.DataFrame({"id": [i, i + 1], "v": [i * 0.5, i * 1.5]}) for i in range(n)]


def versions_of(root: Path, name: str):
    return Versioning.open(root / ".shipyard").index.versions(name)


def test_every_save_is_a_version_and_equal_saves_are_one(versioned, root):
    catalog = versioned(CSV, run_id="run-1")
    first, second = frames(2)
    catalog.save("customers", first)
    v1 = catalog.version_of("customers")
    catalog.save("customers", first)
    assert catalog.version_of("customers") == v1  # same bytes: same version
    catalog.save("customers", second)
    v2 = catalog.version_of("customers")
    assert [v.id for v in versions_of(root, "customers")] == [v2.id, v1.id]
    assert v1.run_id == "run-1" and v1.kind == "file"
    assert v1.size == len((root / ".shipyard/objects" / v1.digest.key).read_bytes())
    pd.testing.assert_frame_equal(catalog.load("customers"), second)
    assert catalog.version_of("customers") == v2
    assert not list((root / "data/01_raw").glob(".*"))  # no temp file left


@pytest.mark.parametrize(
    ("entry", "data"),
    [
        ({"type": "pandas.ParquetDataset", "filepath": "data/p.parquet"}, "frame"),
        ({"type": "json.JSONDataset", "filepath": "data/j.json"}, {"a": [1, 2]}),
        ({"type": "pickle.PickleDataset", "filepath": "data/m.pkl", "trusted": True}, {1, 2}),
        ({"type": "text", "filepath": "data/t.txt"}, "hello"),
    ],
)
def test_pinned_load_reads_the_version_not_the_workspace(versioned, root, entry, data):
    old = frames(1)[0] if data == "frame" else data
    new = frames(2)[1] if data == "frame" else ["something", "else"]
    if entry["type"] == "text":
        new = "goodbye"
    catalog = versioned({"d": {**entry, "versioned": True}})
    catalog.save("d", old)
    version = catalog.version_of("d")
    catalog.save("d", new)
    working = root / entry["filepath"]
    before = (working.read_bytes(), working.stat().st_mtime_ns)
    pinned = versioned({"d": {**entry, "versioned": True, "load_version": version.id}})
    loaded = pinned.load("d")
    if data == "frame":
        pd.testing.assert_frame_equal(loaded, old)
    else:
        assert loaded == old
    assert pinned.version_of("d") == version
    assert (working.read_bytes(), working.stat().st_mtime_ns) == before


def test_runtime_load_version_beats_the_entry_and_tags_work(versioned, root):
    first, second, third = frames(3)
    catalog = versioned(CSV)
    for frame in (first, second, third):
        catalog.save("customers", frame)
    index = Versioning.open(root / ".shipyard").index
    v1, v2 = reversed(index.versions("customers")[1:])
    index.tag("customers", v1.id, "q3-audit")
    entries = {"customers": {**CSV["customers"], "load_version": "q3-audit"}}
    pd.testing.assert_frame_equal(versioned(entries).load("customers"), first)
    runtime = versioned(entries, load_versions=parse_load_versions(f"customers={v2.id[-8:]}x"))
    with pytest.raises(VersionNotFoundError):  # a wrong ref is not silently ignored
        runtime.load("customers")
    runtime = versioned(entries, load_versions={"customers": v2.id})
    pd.testing.assert_frame_equal(runtime.load("customers"), second)
    assert runtime.describe("customers")["load_version"] == v2.id


def test_reading_a_raw_input_records_it_once(versioned, root, frame):
    raw = root / "data/01_raw/c.csv"
    raw.parent.mkdir(parents=True)
    frame.to_csv(raw, index=False)
    catalog = versioned(CSV, run_id="run-7")
    pd.testing.assert_frame_equal(catalog.load("customers"), frame)
    snapshot = catalog.version_of("customers")
    assert snapshot is not None and snapshot.run_id == "run-7"
    catalog.load("customers")
    assert len(versions_of(root, "customers")) == 1
    frame.head(1).to_csv(raw, index=False)  # edited by hand
    catalog.load("customers")
    assert len(versions_of(root, "customers")) == 2
    assert catalog.version_of("customers") != snapshot


def test_missing_working_file_is_restored_from_the_latest_version(versioned, root):
    first, second = frames(2)
    catalog = versioned(CSV)
    catalog.save("customers", first)
    working = root / "data/01_raw/c.csv"
    working.unlink()
    pd.testing.assert_frame_equal(catalog.load("customers"), first)
    assert working.is_file()
    catalog.save("customers", second)  # replaces the (maybe hardlinked) file, never writes into it
    store = Versioning.open(root / ".shipyard").store
    assert store.verify_all().ok
    pd.testing.assert_frame_equal(catalog.load("customers"), second)


def test_partitioned_versions_are_trees(versioned, root):
    entry = {
        "type": "partitions.PartitionedDataset",
        "path": "data/02_intermediate/daily",
        "dataset": "pandas.CSVDataset",
        "filename_suffix": ".csv",
        "versioned": True,
    }
    first, second = frames(2)
    catalog = versioned({"daily": entry})
    catalog.save("daily", {"2024-01-01": first})
    v1 = catalog.version_of("daily")
    catalog.save("daily", {"2024-01-02": second})
    v2 = catalog.version_of("daily")
    assert v1.kind == "tree" and v1.id != v2.id
    assert v1.size == len((root / "data/02_intermediate/daily/2024-01-01.csv").read_bytes())
    pinned = versioned({"daily": {**entry, "load_version": v1.id}})
    parts = pinned.load("daily")
    assert sorted(parts) == ["2024-01-01"]
    pd.testing.assert_frame_equal(parts["2024-01-01"](), first)
    assert (root / ".shipyard/checkouts" / v1.digest.hex).is_dir()
    assert sorted(versioned({"daily": entry}).load("daily")) == ["2024-01-01", "2024-01-02"]


def test_describe_and_listing(versioned, frame):
    catalog = versioned({**CSV, "plain": {"type": "csv", "filepath": "data/p.csv"}})
    assert catalog.versioned_datasets() == ["customers"]
    info = catalog.describe("customers")
    assert info["versioned"] is True and info["latest_version"] is None
    assert info["type"] == "csv" and info["filepath"] == "data/01_raw/c.csv"
    catalog.save("customers", frame)
    assert catalog.describe("customers")["latest_version"] == catalog.version_of("customers").id
    assert catalog.version_of("plain") is None


# --- bad input -------------------------------------------------------------------------


def test_a_failed_save_names_the_working_path_and_keeps_the_last_version(versioned, root):
    catalog = versioned({"j": {"type": "json", "filepath": "data/j.json", "versioned": True}})
    catalog.save("j", {"a": 1})
    version = catalog.version_of("j")
    with pytest.raises(DatasetError) as info:
        catalog.save("j", {"a": object()})
    assert "Failed to save dataset 'j' to data/j.json" in info.value.message
    assert ".partial" not in info.value.message
    assert versions_of(root, "j") == [version]
    assert catalog.load("j") == {"a": 1}
    assert [p.name for p in (root / "data").iterdir()] == ["j.json"]


def test_versioned_entry_without_a_project_store(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(CSV, origins={"customers": "conf/base/catalog.yml"})
    assert "Dataset 'customers' in conf/base/catalog.yml is versioned" in info.value.message
    assert "need a project store" in info.value.message
    assert "Versioning.open" in info.value.hint and "versioned: true" in info.value.hint


@pytest.mark.parametrize(
    ("entry", "message", "hint"),
    [
        (
            {"type": "csv", "filepath": "c.csv", "load_version": "x"},
            "Dataset 'c' sets `load_version` but is not versioned",
            "versioned: true",
        ),
        (
            {"type": "csv", "filepath": "c.csv", "versioned": "yes"},
            "`versioned` of dataset 'c' is 'yes', not true or false",
            "versioned: true",
        ),
        (
            {"type": "csv", "filepath": "c.csv", "versioned": True, "load_version": 3},
            "`load_version` of dataset 'c' is 3",
            "shipyard data versions c",
        ),
        (
            {"type": "memory", "versioned": True},
            "cannot be versioned: only file and partitioned datasets can",
            "Remove `versioned: true`",
        ),
    ],
)
def test_bad_versioning_keys(versioned, root, entry, message, hint):
    with pytest.raises(DatasetError) as info:
        versioned({"c": entry})
    assert message in info.value.message
    assert hint in info.value.hint


def test_load_version_for_a_dataset_that_is_not_versioned(versioned):
    entries = {**CSV, "plain": {"type": "csv", "filepath": "p.csv"}}
    with pytest.raises(DatasetError) as info:
        versioned(entries, load_versions={"plain": "q3"})
    assert info.value.message == "--load-version names dataset 'plain', which is not versioned."
    assert "this catalog has: customers" in info.value.hint
    with pytest.raises(DatasetError, match=r"'custmers', which is not in the catalog\. Did you"):
        versioned(entries, load_versions={"custmers": "q3"})


def test_parse_load_versions():
    assert parse_load_versions("a=01jd, b = q3-audit") == {"a": "01jd", "b": "q3-audit"}
    assert parse_load_versions(["a=x", "b=y"]) == {"a": "x", "b": "y"}
    with pytest.raises(DatasetError) as info:
        parse_load_versions("a=x,b")
    assert "--load-version 'b' is not DATASET=VERSION" in info.value.message
    assert "customers=<version id or tag>" in info.value.hint


def test_unknown_tag_lists_the_nearest(versioned, frame):
    catalog = versioned(CSV)
    catalog.save("customers", frame)
    newest = catalog.version_of("customers").id
    pinned = versioned(CSV, load_versions={"customers": "q3-adit"})
    with pytest.raises(VersionNotFoundError) as info:
        pinned.load("customers")
    assert "Dataset 'customers' has no version or tag 'q3-adit'" in info.value.message
    assert f"Newest versions: {newest}" in info.value.message
    assert "shipyard data versions customers" in info.value.hint


# --- faults ----------------------------------------------------------------------------


def _break(root: Path, version, data: bytes | None) -> None:
    path = root / ".shipyard/objects" / version.digest.key
    if data is None:
        path.unlink()
    else:
        path.chmod(0o644)
        path.write_bytes(data)


def test_corrupt_version_is_refused_and_the_workspace_untouched(versioned, root):
    first, second = frames(2)
    catalog = versioned(CSV)
    catalog.save("customers", first)
    v1 = catalog.version_of("customers")
    catalog.save("customers", second)
    working = root / "data/01_raw/c.csv"
    before = working.read_bytes()
    _break(root, v1, b"id,v\n9,9\n")
    pinned = versioned(CSV, load_versions={"customers": v1.id}, verify=True)
    with pytest.raises(CorruptObjectError) as info:
        pinned.load("customers")
    assert str(v1.digest) in info.value.message
    assert "shipyard data verify" in info.value.hint
    assert working.read_bytes() == before
    pd.testing.assert_frame_equal(versioned(CSV).load("customers"), second)


def test_missing_version_object_says_how_to_recover(versioned, root, frame):
    catalog = versioned(CSV)
    catalog.save("customers", frame)
    version = catalog.version_of("customers")
    catalog.save("customers", frame.head(1))
    _break(root, version, None)
    with pytest.raises(ObjectNotFoundError) as info:
        versioned(CSV, load_versions={"customers": version.id}).load("customers")
    assert f"Version {version.id} of dataset 'customers'" in info.value.message
    assert "shipyard data versions customers" in info.value.hint


SLOW_TYPE = '''
import os, time
from shipyard.data import FileDataset

class SlowText(FileDataset):
    """Writes half its bytes, says so, then waits to be killed."""

    def _load(self):
        return self._read_text()

    def _save(self, data):
        with self.location.open_write() as handle:
            handle.write(data[: len(data) // 2].encode())
            handle.flush()
            marker = os.environ.get("SLOW_MARKER")
            if marker:
                open(marker, "w").close()
                time.sleep(60)
            handle.write(data[len(data) // 2 :].encode())
'''

SAVER = """
import os, sys, time
from pathlib import Path
from shipyard.data import Catalog, Versioning
root = Path(sys.argv[1])
go = os.environ.get("GO_FILE")
while go and not os.path.exists(go):
    time.sleep(0.001)
catalog = Catalog.from_config(
    {"notes": {"type": "slowfmt.SlowText", "filepath": "data/notes.txt", "versioned": True}},
    project_root=root,
    versioning=Versioning.open(root / ".shipyard"),
)
catalog.save("notes", sys.argv[2] * int(sys.argv[3]))
"""


@pytest.fixture
def saver(root: Path, tmp_path: Path):
    (tmp_path / "slowfmt.py").write_text(textwrap.dedent(SLOW_TYPE))
    script = tmp_path / "saver.py"
    script.write_text(SAVER)

    def start(word: str, times: int, **env: str) -> subprocess.Popen:
        environ = {**os.environ, "PYTHONPATH": str(tmp_path), **env}
        args = [sys.executable, str(script), str(root), word, str(times)]
        return subprocess.Popen(args, env=environ)

    return start


def notes_catalog(versioned, tmp_path, **kwargs) -> Catalog:
    sys.path.insert(0, str(tmp_path))
    try:
        return versioned(
            {
                "notes": {
                    "type": "slowfmt.SlowText",
                    "filepath": "data/notes.txt",
                    "versioned": True,
                }
            },
            **kwargs,
        )
    finally:
        sys.path.remove(str(tmp_path))


def test_killed_save_leaves_the_previous_version(saver, versioned, root, tmp_path):
    assert saver("first version ", 1000).wait(timeout=60) == 0
    marker = tmp_path / "marker"
    process = saver("second version ", 1000, SLOW_MARKER=str(marker))
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    catalog = notes_catalog(versioned, tmp_path)
    assert catalog.load("notes") == "first version " * 1000
    assert len(versions_of(root, "notes")) == 1
    store = Versioning.open(root / ".shipyard").store
    assert store.verify_all().ok
    assert (root / "data/notes.txt").read_text() == "first version " * 1000


def test_two_processes_saving_at_once_make_two_intact_versions(saver, versioned, root, tmp_path):
    go = tmp_path / "go"
    texts = ["alpha " * 50_000, "omega " * 50_000]
    processes = [saver(word, 50_000, GO_FILE=str(go)) for word in ("alpha ", "omega ")]
    time.sleep(0.5)  # both are importing and waiting
    go.touch()
    assert [p.wait(timeout=60) for p in processes] == [0, 0]
    versions = versions_of(root, "notes")
    assert len(versions) == 2 and versions[0].digest != versions[1].digest
    loaded = {
        notes_catalog(versioned, tmp_path, load_versions={"notes": v.id}).load("notes")
        for v in versions
    }
    assert loaded == set(texts)
    assert (root / "data/notes.txt").read_text() in texts
    assert Versioning.open(root / ".shipyard").store.verify_all().ok

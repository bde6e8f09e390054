"""File datasets: round trips, atomic writes, path resolution and the project boundary."""

from __future__ import annotations

import os
import re
import sys
import uuid

import pandas as pd
import pytest

from shipyard.data import CSVDataset, JSONDataset, TextDataset
from shipyard.errors import DatasetError, MissingDependencyError, PathOutsideProjectError

FRAME_TYPES = {
    "csv": "tables/t.csv",
    "parquet": "tables/t.parquet",
    "excel": "tables/t.xlsx",
    "pandas_json": "tables/t.json",
}
OBJECT = {"name": "churn", "layers": [1, 2.5, None], "nested": {"ok": True, "text": "é"}}


@pytest.mark.parametrize("type_name", sorted(FRAME_TYPES))
def test_dataframe_types_round_trip(make_catalog, root, frame, type_name):
    catalog = make_catalog({"t": {"type": type_name, "filepath": FRAME_TYPES[type_name]}})
    catalog.save("t", frame)
    assert (root / FRAME_TYPES[type_name]).is_file()
    pd.testing.assert_frame_equal(catalog.load("t"), frame)


@pytest.mark.parametrize(("type_name", "suffix"), [("json", "json"), ("yaml", "yml")])
def test_object_types_round_trip(make_catalog, type_name, suffix):
    catalog = make_catalog({"o": {"type": type_name, "filepath": f"conf/o.{suffix}"}})
    catalog.save("o", OBJECT)
    assert catalog.load("o") == OBJECT


def test_text_round_trip_and_encoding(make_catalog, root):
    catalog = make_catalog(
        {
            "utf8": {"type": "text", "filepath": "notes/a.txt"},
            "latin": {
                "type": "text",
                "filepath": "notes/b.txt",
                "fs_args": {
                    "open_args_load": {"encoding": "latin-1"},
                    "open_args_save": {"encoding": "latin-1", "mode": "w"},
                },
            },
        }
    )
    catalog.save("utf8", "naïve\nline 2")
    catalog.save("latin", "naïve")
    assert catalog.load("utf8") == "naïve\nline 2"
    assert (root / "notes/b.txt").read_bytes() == "naïve".encode("latin-1")
    assert catalog.load("latin") == "naïve"


def test_load_and_save_args_reach_pandas(make_catalog, root, frame):
    catalog = make_catalog(
        {
            "t": {
                "type": "csv",
                "filepath": "t.csv",
                "save_args": {"sep": ";"},
                "load_args": {"sep": ";", "usecols": ["id", "city"]},
            }
        }
    )
    catalog.save("t", frame)
    assert (root / "t.csv").read_text().splitlines()[0] == "id;city;score"
    assert list(catalog.load("t").columns) == ["id", "city"]


def test_excel_writes_one_sheet_per_frame(make_catalog, frame):
    catalog = make_catalog(
        {"book": {"type": "excel", "filepath": "book.xlsx", "load_args": {"sheet_name": None}}}
    )
    catalog.save("book", {"first": frame, "second": frame.head(1)})
    sheets = catalog.load("book")
    assert list(sheets) == ["first", "second"]
    pd.testing.assert_frame_equal(sheets["second"], frame.head(1))


def test_excel_writer_and_sheet_name_options(make_catalog, frame):
    catalog = make_catalog(
        {
            "book": {
                "type": "pandas.ExcelDataset",
                "filepath": "book.xlsx",
                "save_args": {"sheet_name": "scores", "writer": {"engine": "openpyxl"}},
                "load_args": {"sheet_name": "scores"},
            }
        }
    )
    catalog.save("book", frame)
    pd.testing.assert_frame_equal(catalog.load("book"), frame)


def test_parent_folders_are_created(make_catalog, root):
    make_catalog({"j": {"type": "json", "filepath": "a/b/c/d.json"}}).save("j", [1])
    assert (root / "a/b/c/d.json").is_file()


class Explodes:
    """A cell that fails to render, so pandas fails after writing earlier rows."""

    def __str__(self) -> str:
        raise RuntimeError("cannot render this cell")


def test_failed_save_leaves_previous_file_intact(make_catalog, root, frame):
    catalog = make_catalog(
        {"t": {"type": "csv", "filepath": "data/t.csv", "save_args": {"chunksize": 1}}}
    )
    catalog.save("t", frame)
    before = (root / "data/t.csv").read_bytes()
    rows = [{"id": i, "cell": "fine"} for i in range(50)] + [{"id": 50, "cell": Explodes()}]
    with pytest.raises(DatasetError) as info:
        catalog.save("t", pd.DataFrame(rows))
    assert "Failed to save dataset 't' to data/t.csv: RuntimeError" in info.value.message
    assert (root / "data/t.csv").read_bytes() == before
    assert os.listdir(root / "data") == ["t.csv"]  # the temporary file is gone


def test_replacing_a_file_keeps_its_permissions(make_catalog, root):
    catalog = make_catalog({"j": {"type": "json", "filepath": "j.json"}})
    catalog.save("j", 1)
    (root / "j.json").chmod(0o640)
    catalog.save("j", 2)
    assert (root / "j.json").stat().st_mode & 0o777 == 0o640
    assert catalog.load("j") == 2


def test_new_files_get_the_usual_permissions(make_catalog, root):
    mask = os.umask(0o022)
    os.umask(mask)
    make_catalog({"j": {"type": "json", "filepath": "j.json"}}).save("j", 1)
    assert (root / "j.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_wrong_data_kind_is_refused_before_writing(make_catalog, root, frame):
    catalog = make_catalog(
        {"t": {"type": "csv", "filepath": "t.csv"}, "n": {"type": "text", "filepath": "n.txt"}}
    )
    catalog.save("t", frame)
    before = (root / "t.csv").read_bytes()
    with pytest.raises(DatasetError) as info:
        catalog.save("t", [{"id": 1}])
    assert "Dataset 't' (csv) can only save a pandas DataFrame, got builtins.list" in str(
        info.value
    )
    assert "json or pickle" in info.value.hint
    assert (root / "t.csv").read_bytes() == before
    with pytest.raises(DatasetError, match=r"'n' \(text\) can only save a str"):
        catalog.save("n", b"bytes")
    assert not (root / "n.txt").exists()


def test_relative_paths_resolve_against_the_project_not_the_cwd(
    make_catalog, root, tmp_path, monkeypatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    make_catalog({"j": {"type": "json", "filepath": "data/j.json"}}).save("j", 1)
    assert (root / "data/j.json").is_file()
    assert not (elsewhere / "data").exists()


def test_absolute_path_inside_the_project_is_fine(make_catalog, root):
    path = root / "data" / "abs.json"
    catalog = make_catalog({"j": {"type": "json", "filepath": str(path)}})
    catalog.save("j", {"a": 1})
    assert catalog.load("j") == {"a": 1}


@pytest.mark.parametrize("filepath", ["../outside.json", "data/../../outside.json"])
def test_paths_leaving_the_project_are_refused(make_catalog, root, tmp_path, filepath):
    # refused as the catalog is built, before any run could write through it
    with pytest.raises(PathOutsideProjectError) as info:
        make_catalog({"leaky": {"type": "json", "filepath": filepath}})
    message = info.value.message
    assert "Dataset 'leaky'" in message
    assert f"'{filepath}'" in message
    assert str(tmp_path / "outside.json") in message
    assert "allow_outside_project: true" in info.value.hint
    assert not (tmp_path / "outside.json").exists()


def test_a_path_that_leaves_the_project_later_is_refused_at_use(make_catalog, root, tmp_path):
    catalog = make_catalog({"j": {"type": "json", "filepath": "data/j.json"}})
    outside = tmp_path / "shared"
    outside.mkdir()
    (root / "data").symlink_to(outside)  # after the catalog was built
    with pytest.raises(PathOutsideProjectError, match=re.escape(str(outside / "j.json"))):
        catalog.save("j", 1)
    with pytest.raises(PathOutsideProjectError):
        catalog.load("j")
    assert list(outside.iterdir()) == []


def test_symlinks_leaving_the_project_are_refused(make_catalog, root, tmp_path):
    outside = tmp_path / "shared"
    outside.mkdir()
    (root / "data").symlink_to(outside)
    with pytest.raises(PathOutsideProjectError, match=re.escape(str(outside / "j.json"))):
        make_catalog({"j": {"type": "json", "filepath": "data/j.json"}})
    assert list(outside.iterdir()) == []


def test_allow_outside_project_opts_in(make_catalog, tmp_path):
    catalog = make_catalog(
        {"j": {"type": "json", "filepath": "../shared/j.json", "allow_outside_project": True}}
    )
    catalog.save("j", [1, 2])
    assert (tmp_path / "shared/j.json").is_file()
    assert catalog.load("j") == [1, 2]


def test_memory_filesystem_round_trip(make_catalog, frame):
    folder = f"memory://shipyard-tests/{uuid.uuid4().hex}"
    catalog = make_catalog(
        {
            "t": {"type": "parquet", "filepath": f"{folder}/t.parquet"},
            "j": {"type": "json", "filepath": f"{folder}/j.json"},
        }
    )
    assert not catalog.exists("t")
    catalog.save("t", frame)
    catalog.save("j", {"rows": 3})
    assert catalog.exists("t")
    pd.testing.assert_frame_equal(catalog.load("t"), frame)
    assert catalog.load("j") == {"rows": 3}


def test_s3_without_s3fs_names_the_extra(make_catalog, monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if s3fs were not installed
    # fsspec keeps the class of every protocol used earlier in this process (the object
    # store's S3 tests); forget it so the import is attempted again.
    fsspec_registry = sys.modules["fsspec.registry"]
    for protocol in ("s3", "s3a"):
        monkeypatch.delitem(fsspec_registry._registry, protocol, raising=False)
    catalog = make_catalog({"remote": {"type": "csv", "filepath": "s3://bucket/raw/customers.csv"}})
    with pytest.raises(MissingDependencyError) as info:
        catalog.load("remote")
    assert info.value.message == (
        "Dataset 'remote' at s3://bucket/raw/customers.csv needs the 's3fs' package, "
        "which is not installed."
    )
    assert info.value.hint == 'Install it with: pip install "shipyard[s3]"'


def test_unknown_protocol_is_named(make_catalog):
    catalog = make_catalog({"odd": {"type": "json", "filepath": "nosuchproto://x/y.json"}})
    with pytest.raises(DatasetError) as info:
        catalog.exists("odd")
    assert "unknown protocol 'nosuchproto://'" in info.value.message
    assert "memory://" in info.value.hint


def test_excel_without_openpyxl_names_the_extra(make_catalog, root, frame, monkeypatch):
    catalog = make_catalog({"book": {"type": "excel", "filepath": "book.xlsx"}})
    catalog.save("book", frame)
    before = (root / "book.xlsx").read_bytes()
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    for action in (lambda: catalog.load("book"), lambda: catalog.save("book", frame.head(1))):
        with pytest.raises(MissingDependencyError) as info:
            action()
        assert "Dataset 'book' (excel) needs the 'openpyxl' package" in info.value.message
        assert 'pip install "shipyard[excel]"' in info.value.hint
    assert (root / "book.xlsx").read_bytes() == before


def test_corrupt_file_error_names_the_dataset(make_catalog, root):
    (root / "bad.json").write_text("{not json")
    catalog = make_catalog({"bad": {"type": "json", "filepath": "bad.json"}})
    with pytest.raises(DatasetError) as info:
        catalog.load("bad")
    assert info.value.message.startswith(
        "Failed to load dataset 'bad' from bad.json: JSONDecodeError"
    )


def test_datasets_work_without_a_catalog(root, frame):
    dataset = CSVDataset("direct.csv", project_root=root)
    dataset.save(frame)
    pd.testing.assert_frame_equal(dataset.load(), frame)
    assert dataset.exists()
    assert dataset.describe() == {
        "type": "csv",
        "filepath": "direct.csv",
        "load_args": {},
        "save_args": {"index": False},
    }


def test_empty_filepath_is_refused(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog({"e": {"type": "json", "filepath": " "}}, origins={"e": "conf/base/c.yml"})
    assert (
        info.value.message
        == "Could not create dataset 'e' in conf/base/c.yml: `filepath` is empty."
    )


def test_json_and_text_describe(root):
    assert JSONDataset("a.json", project_root=root).describe()["save_args"] == {"indent": 2}
    assert TextDataset("a.txt", project_root=root).describe() == {
        "type": "text",
        "filepath": "a.txt",
    }

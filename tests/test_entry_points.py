"""Entry points of installed packages: found by a scan, then answered from a cache that
follows every install and removal."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import textwrap

import pytest

from shipyard import _entry_points
from shipyard._entry_points import entry_points


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home / "shipyard"


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests install distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def install(site, name: str, points: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(points))
    (site / f"{name}.py").write_text("class Plugin:\n    pass\n\nPLUGIN = Plugin()\n")


def test_a_scan_finds_the_group_and_loads_the_object(cache_home, site):
    install(site, "shipyard_demo_one", "[shipyard.hooks]\ndemo = shipyard_demo_one:PLUGIN\n")
    found = entry_points("shipyard.hooks")
    assert [(p.name, p.value, p.dist) for p in found if p.dist == "shipyard_demo_one"] == [
        ("demo", "shipyard_demo_one:PLUGIN", "shipyard_demo_one")
    ]
    point = next(p for p in found if p.name == "demo")
    assert type(point.load()).__name__ == "Plugin"


def test_the_second_call_reads_the_cache_without_scanning(cache_home, site, monkeypatch):
    install(site, "shipyard_demo_two", "[shipyard.datasets]\nfancy = shipyard_demo_two:Plugin\n")
    first = entry_points("shipyard.datasets")
    assert len(list(cache_home.glob("entry-points-*.json"))) == 1
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: pytest.fail("scanned again"))
    assert entry_points("shipyard.datasets") == first


def test_a_copy_earlier_on_sys_path_shadows_a_later_one(cache_home, site, tmp_path, monkeypatch):
    later = tmp_path / "later"  # an older copy, spelled as its METADATA spells it
    info = later / "Shipyard_Demo_Shadow-0.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Shipyard.Demo-Shadow\nVersion: 0.9\n"
    )
    (info / "entry_points.txt").write_text("[shipyard.hooks]\nold = shipyard_demo_shadow:PLUGIN\n")
    monkeypatch.syspath_prepend(str(later))
    monkeypatch.syspath_prepend(str(site))  # site comes first: its copy wins
    install(site, "shipyard_demo_shadow", "[console_scripts]\ndemo = shipyard_demo_shadow:main\n")
    assert [p.name for p in entry_points("shipyard.hooks") if "shadow" in p.value] == []


def test_installing_a_package_is_seen_at_once(cache_home, site):
    assert not [p for p in entry_points("shipyard.hooks") if p.name == "late"]
    install(site, "shipyard_demo_late", "[shipyard.hooks]\nlate = shipyard_demo_late:PLUGIN\n")
    assert [p.name for p in entry_points("shipyard.hooks") if p.name == "late"] == ["late"]


def test_a_damaged_or_unwritable_cache_falls_back_to_scanning(cache_home, site, monkeypatch):
    install(site, "shipyard_demo_three", "[shipyard.hooks]\nthree = shipyard_demo_three:PLUGIN\n")
    entry_points("shipyard.hooks")
    (cached,) = cache_home.glob("entry-points-*.json")
    cached.write_text("{not json")
    assert "three" in [p.name for p in entry_points("shipyard.hooks")]
    assert json.loads(cached.read_text())["format"] == 1  # rewritten whole

    monkeypatch.setenv("XDG_CACHE_HOME", str(site / "missing.txt" / "x"))
    (site / "missing.txt").write_text("a file where the cache folder would go")
    assert "three" in [p.name for p in entry_points("shipyard.hooks")]


def test_only_shipyard_groups_are_served():
    with pytest.raises(ValueError, match="shipyard"):
        entry_points("console_scripts")


def test_the_key_follows_sys_path(monkeypatch, tmp_path):
    before = _entry_points.environment_key()
    monkeypatch.setattr(sys, "path", [*sys.path, os.fspath(tmp_path)])
    assert _entry_points.environment_key() != before


def test_the_key_ignores_files_written_where_no_package_is_installed(monkeypatch, tmp_path):
    # python -m shipyard puts the project's folder on sys.path; each file a run writes
    # there changed the key and cost a rescan of every installed package
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setattr(sys, "path", [os.fspath(project), *sys.path])
    before = _entry_points.environment_key()
    (project / "data").mkdir()
    (project / "notes.txt").write_text("a file of the user's")
    assert _entry_points.environment_key() == before
    (project / "demo-1.0.dist-info").mkdir()  # a distribution there does count
    assert _entry_points.environment_key() != before


def test_cache_files_unused_for_a_month_are_removed(cache_home, site):
    cache_home.mkdir(parents=True)
    stale = cache_home / "packages-0123456789abcdef.json"
    stale.write_text("{}")
    month_ago = stale.stat().st_mtime - 31 * 24 * 3600
    os.utime(stale, (month_ago, month_ago))
    install(site, "shipyard_demo_four", "[shipyard.hooks]\nfour = shipyard_demo_four:PLUGIN\n")
    entry_points("shipyard.hooks")  # a cache miss writes, and prunes the folder
    assert not stale.exists()
    assert list(cache_home.glob("entry-points-*.json"))

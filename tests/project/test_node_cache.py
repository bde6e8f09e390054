"""The project's node cache on a small real project: what makes a node run again.

Every node function appends its name to ``calls.txt`` in the project, so the tests see
which nodes really ran. Sources are edited between runs the way a user edits them; the
project package is dropped from ``sys.modules`` so the next session imports the edit.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard.errors import ObjectStoreError, PipelineError
from shipyard.project import Session
from shipyard.runner import ThreadRunner

NODES = """
from pathlib import Path

from demo.helpers import summed

CALLS = Path(__file__).resolve().parents[2] / "calls.txt"


def called(name):
    with CALLS.open("a") as log:
        log.write(name + "\\n")


def scale(numbers, factor):
    called("scale")
    return [n * factor for n in numbers]


def total(scaled):
    called("total")
    return {"total": summed(scaled)}


def describe(total):
    called("describe")
    return f"total={total['total']}"


def shout(text, suffix):
    called("shout")
    return text.upper() + suffix
"""

PIPELINE = """
from shipyard import node, pipeline

from demo.nodes import describe, scale, shout, total


def create_pipeline():
    return pipeline([
        node(scale, ["numbers", "params:factor"], "scaled", name="scale"),
        node(total, "scaled", "total", name="total"),
        node(describe, "total", "description", name="describe"),
        node(shout, ["description", "params:suffix"], "loud", name="shout"),
    ])
"""

CATALOG = """
numbers:
  type: json
  filepath: data/numbers.json
scaled:
  type: json
  filepath: data/scaled.json
  versioned: true
total:
  type: json
  filepath: data/total.json
  versioned: true
loud:
  type: text
  filepath: data/loud.txt
  versioned: true
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "demo"
    write(root / "pyproject.toml", "[tool.shipyard]\npackage_name = 'demo'\n")
    write(root / "conf/base/parameters.yml", "factor: 2\nsuffix: '!'\nunused: 1\n")
    write(root / "conf/base/catalog.yml", CATALOG)
    (root / "conf/local").mkdir(parents=True)
    write(root / "data/numbers.json", "[1, 2, 3]")
    write(root / "src/demo/__init__.py", "")
    write(root / "src/demo/helpers.py", "def summed(values):\n    return sum(values)\n")
    write(root / "src/demo/nodes.py", NODES)
    write(root / "src/demo/pipeline_registry.py", _REGISTRY)
    write(root / "src/demo/pipelines/__init__.py", "")
    write(root / "src/demo/pipelines/main/__init__.py", "")
    write(root / "src/demo/pipelines/main/pipeline.py", PIPELINE)
    return root


_REGISTRY = """
from demo.pipelines.main.pipeline import create_pipeline


def register_pipelines():
    main = create_pipeline()
    return {"__default__": main, "main": main}
"""


def run(root: Path, **options) -> tuple[object, list[str]]:
    """A fresh session (re-importing the project's code) runs; returns the result and
    the nodes that really ran."""
    for name in [m for m in sys.modules if m == "demo" or m.startswith("demo.")]:
        del sys.modules[name]
    calls = root / "calls.txt"
    calls.unlink(missing_ok=True)
    params = options.pop("params", None)
    runner = options.pop("runner", None)
    result = Session.open(root, params=params).run(runner=runner, **options)
    ran = calls.read_text().split() if calls.exists() else []
    return result, ran


def stored_object(root: Path, dataset: str) -> Path:
    """The object file of the dataset's latest version, made writable for the test."""
    versioning = Session.open(root).versioning
    stored = versioning.store.local_path(versioning.index.latest(dataset).digest)
    stored.chmod(0o644)
    return stored


def read(root: Path, name: str):
    return json.loads((root / "data" / name).read_text())


def test_an_unchanged_rerun_restores_every_cachable_node(root):
    first, ran = run(root)
    assert ran == ["scale", "total", "describe", "shout"] and first.cached == ()
    second, ran = run(root)
    # describe writes a memory dataset, which cannot be restored: it always runs, and
    # shout, reading its plain string value, is a cache hit again.
    assert ran == ["describe"]
    assert second.cached == ("scale", "total", "shout")
    assert read(root, "total.json") == {"total": 12}
    assert (root / "data/loud.txt").read_text() == "TOTAL=12!"


def test_deleted_outputs_are_restored_from_the_store(root):
    run(root)
    for name in ("scaled.json", "total.json", "loud.txt"):
        (root / "data" / name).unlink()
    result, ran = run(root)
    assert "scale" not in ran and "total" not in ran
    assert read(root, "scaled.json") == [2, 4, 6]
    assert (root / "data/loud.txt").read_text() == "TOTAL=12!"
    assert result.cached == ("scale", "total", "shout")


def test_a_changed_parameter_reruns_its_node_and_what_its_output_changes(root):
    run(root)
    _, ran = run(root, params={"unused": 2})
    assert ran == ["describe"]  # a parameter no node reads changes nothing
    _, ran = run(root, params={"suffix": "?"})
    assert ran == ["describe", "shout"]
    _, ran = run(root, params={"factor": 3})
    assert ran == ["scale", "total", "describe", "shout"]
    assert read(root, "total.json") == {"total": 18}
    # Back to the first value: the first run's results are restored, nothing computed.
    result, ran = run(root)
    assert ran == ["describe"] and read(root, "total.json") == {"total": 12}
    assert "scale" in result.cached


def test_changed_input_data_reruns(root):
    run(root)
    write(root / "data/numbers.json", "[1, 2, 3, 4]")
    _, ran = run(root)
    assert ran == ["scale", "total", "describe", "shout"]
    assert read(root, "total.json") == {"total": 20}


def test_an_edited_function_or_helper_reruns_but_a_comment_elsewhere_does_not(root):
    run(root)
    nodes = root / "src/demo/nodes.py"
    nodes.write_text(nodes.read_text() + "\n# a note at the end of the module\n")
    _, ran = run(root)
    assert ran == ["describe"]

    nodes.write_text(nodes.read_text().replace("n * factor", "factor * n * 1"))
    _, ran = run(root)
    assert ran == ["scale", "describe"]  # same output bytes: total is still a hit

    helpers = root / "src/demo/helpers.py"
    helpers.write_text("def summed(values):\n    return sum(values) + 100\n")
    _, ran = run(root)
    assert ran == ["total", "describe", "shout"]
    assert read(root, "total.json") == {"total": 112}


def test_changed_output_settings_rerun_the_node(root):
    run(root)
    catalog = root / "conf/base/catalog.yml"
    catalog.write_text(
        catalog.read_text().replace(
            "  filepath: data/total.json\n",
            "  filepath: data/total.json\n  save_args: {indent: 4}\n",
        )
    )
    _, ran = run(root)
    assert "total" in ran and "scale" not in ran
    assert (root / "data/total.json").read_text().startswith("{\n    ")


def test_no_cache_runs_everything_and_still_remembers(root):
    run(root)
    _, ran = run(root, cache=False)
    assert ran == ["scale", "total", "describe", "shout"]
    write(root / "data/numbers.json", "[5]")
    run(root, cache=False)
    write(root / "data/numbers.json", "[1, 2, 3]")
    _, ran = run(root)  # the first run's results, remembered through the --no-cache runs
    assert ran == ["describe"]


def test_refresh_runs_the_named_nodes_and_downstream_only_if_changed(root):
    run(root)
    result, ran = run(root, refresh=["scale"])
    assert ran == ["scale", "describe"]
    assert "total" in result.cached


def test_refresh_of_an_unknown_node_names_the_closest(root):
    run(root)
    with pytest.raises(PipelineError, match="--refresh names node 'scal'") as info:
        run(root, refresh=["scal"])
    assert "Did you mean 'scale'" in str(info.value)
    assert "shipyard pipeline show" in info.value.hint


def test_a_node_marked_cache_false_always_runs(root):
    pipeline = root / "src/demo/pipelines/main/pipeline.py"
    pipeline.write_text(pipeline.read_text().replace('name="total")', 'name="total", cache=False)'))
    run(root)
    _, ran = run(root)
    assert ran == ["total", "describe"]


def test_a_missing_object_is_a_warning_and_the_node_runs(root, caplog):
    run(root)
    (root / "data/scaled.json").unlink()
    stored_object(root, "scaled").unlink()
    with caplog.at_level(logging.WARNING, logger="shipyard.cache"):
        _, ran = run(root)
    assert ran[0] == "scale"
    assert "cannot be restored, so it runs" in caplog.text
    assert read(root, "scaled.json") == [2, 4, 6]


def test_the_thread_runner_uses_the_cache_too(root):
    run(root)
    result, ran = run(root, runner=ThreadRunner(max_workers=2))
    assert ran == ["describe"] and set(result.cached) == {"scale", "total", "shout"}


def test_a_damaged_cache_file_is_named_with_the_fix(root):
    run(root)
    (root / ".shipyard/node-cache.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ObjectStoreError, match=r"node-cache\.db") as info:
        run(root)
    assert "Delete the file" in info.value.hint
    assert read(root, "total.json") == {"total": 12}  # nothing was lost


def test_results_are_recorded_per_fingerprint(root):
    run(root)
    with sqlite3.connect(root / ".shipyard/node-cache.db") as db:
        rows = db.execute("SELECT node, outputs FROM results ORDER BY node").fetchall()
    assert [node for node, _ in rows] == ["scale", "shout", "total"]
    assert set(json.loads(rows[0][1])) == {"scaled"}


def test_a_corrupt_object_is_never_restored(root, caplog):
    run(root)
    (root / "data/scaled.json").unlink()
    stored_object(root, "scaled").write_text("[666]")
    with caplog.at_level(logging.WARNING, logger="shipyard.cache"):
        _, ran = run(root)
    assert ran[0] == "scale" and "corrupt" in caplog.text
    assert read(root, "scaled.json") == [2, 4, 6]


def test_versions_record_the_run_that_saved_them(root):
    first, _ = run(root)
    index = Session.open(root).versioning.index
    assert index.latest("scaled").run_id == first.run_id
    run(root, params={"factor": 3})
    back, ran = run(root)  # restored from the cache: a new version, made by this run
    assert "scale" not in ran
    assert index.latest("scaled").run_id == back.run_id
    assert [v.run_id for v in index.versions("scaled")][-1] == first.run_id

"""``shipyard runs compare / diff / plot`` on two real runs of the generated project (with
different --params), as a user runs them; plus two notebook runs in-process."""

from __future__ import annotations

import json
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests.conftest import run_cli
from typer.testing import CliRunner

import shipyard
from shipyard.cli._runs import app
from shipyard.metadata import MetadataStore, runs

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def churn(tmp_path_factory) -> tuple[Path, str, str]:
    """The generated project after `shipyard run` and `shipyard run --params model.C=0.25`."""
    tmp = tmp_path_factory.mktemp("compare")
    root = tmp / "churn"
    assert run_cli("new", str(root), "--no-git", cwd=tmp).returncode == 0
    for params in ([], ["--params", "model.C=0.25"]):
        ran = run_cli("run", *params, cwd=root)
        assert ran.returncode == 0, ran.stderr
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        newest, oldest = (record.id for record in runs.search(conn))
    store.close()
    return root, oldest, newest


def test_compare_highlights_what_differs_and_hides_equal_rows(churn):
    root, first, second = churn
    shown = run_cli("runs", "compare", first, second, cwd=root)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any("params.model.C" in line and "1.0" in line and "0.25" in line for line in lines)
    assert not any("params.data.seed" in line for line in lines)
    assert "equal rows hidden: --all shows them" in shown.stderr
    everything = run_cli("runs", "compare", first, second, "--all", cwd=root)
    assert "params.data.seed" in everything.stdout and "status" in everything.stdout
    as_json = json.loads(run_cli("runs", "compare", first, second, "--json", cwd=root).stdout)
    compared = as_json["compare"]
    assert compared["runs"] == [first, second]
    rows = {row["key"]: row for row in compared["rows"]}
    assert rows["params.model.C"] == {
        "key": "params.model.C",
        "values": [1.0, 0.25],
        "differs": True,
    }
    assert rows["params.data.seed"]["differs"] is False
    assert rows["status"]["values"] == ["finished", "finished"]
    assert "metrics.roc_auc" in rows
    differing = [row["differs"] for row in compared["rows"]]
    assert differing == sorted(differing, reverse=True)


def test_diff_names_the_changed_param_metrics_and_data_versions(churn):
    root, first, second = churn
    shown = run_cli("runs", "diff", first, second, cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "Params" in shown.stdout and "model.C" in shown.stdout
    assert "Data written" in shown.stdout and "model" in shown.stdout
    changes = json.loads(run_cli("runs", "diff", first, second, "--json", cwd=root).stdout)["diff"]
    assert changes["runs"] == [first, second]
    assert changes["params"] == {
        "changed": {"model.C": {"old": 1.0, "new": 0.25}},
        "added": {},
        "removed": {},
    }
    for change in changes["metrics"]["changed"].values():
        assert change["delta"] == pytest.approx(change["new"] - change["old"])
    assert "model" in changes["outputs"]["changed"]
    assert changes["code"] == {} and changes["packages"]["added"] == {}


def test_plot_writes_an_svg_and_an_html_page(churn, tmp_path):
    root, first, second = churn
    made = run_cli("runs", "plot", first, second[:12], "--metric", "roc_auc", cwd=root)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    assert path == root / ".shipyard" / "plots" / f"roc_auc-{first}.svg"
    chart = ET.parse(path).getroot()
    texts = [element.text for element in chart.iter("{http://www.w3.org/2000/svg}text")]
    assert "roc_auc by step" in texts
    legend = [text for text in texts if text and len(text) >= 8 and text[:2] == first[:2]]
    assert len(legend) == 2
    assert first.startswith(legend[0]) and second.startswith(legend[1])
    opened = tmp_path / "opened.txt"
    viewer = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        f"import sys, pathlib; pathlib.Path({str(opened)!r}).write_text(sys.argv[1])"
    )
    page = run_cli(
        "runs", "plot", first, "-m", "roc_auc", "-o", str(tmp_path / "auc.html"), "--open",
        cwd=root, env={"BROWSER": viewer + " %s"},
    )  # fmt: skip
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "auc.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert opened.read_text() == (tmp_path / "auc.html").resolve().as_uri()


def test_bad_input_is_refused_with_the_fix_and_nothing_written(churn, tmp_path):
    root, first, second = churn
    plots = root / ".shipyard" / "plots"
    before = sorted(plots.iterdir()) if plots.exists() else []
    unknown = run_cli("runs", "plot", first, second, "--metric", "roc_au", cwd=root)
    assert unknown.returncode != 0
    assert "No run of" in unknown.stderr and "'roc_au'" in unknown.stderr
    assert "Did you mean 'roc_auc'" in unknown.stderr and "accuracy" in unknown.stderr
    suffix = run_cli("runs", "plot", first, "-m", "roc_auc", "-o", "chart.png", cwd=root)
    assert suffix.returncode != 0
    assert "'.png'" in suffix.stderr and ".svg or .html" in suffix.stderr
    assert "--output chart.svg" in suffix.stderr
    assert not (root / "chart.png").exists()
    assert (sorted(plots.iterdir()) if plots.exists() else []) == before
    missing = run_cli("runs", "compare", first, "zzzz9999", cwd=root)
    assert missing.returncode != 0
    assert "No run id starts with 'zzzz9999'" in missing.stderr and "runs list" in missing.stderr


def invoke(*args):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def notebook_runs(project, monkeypatch):
    """Two start_run runs in the demo project that recorded the same param and metric."""
    monkeypatch.chdir(project)
    made = []
    for _ in range(2):
        with shipyard.start_run() as run:
            run.log_params({"C": 1})
            run.log_metric("auc", 0.5)
        made.append(run.id)
    return made


def test_diff_of_runs_that_recorded_the_same_says_no_differences(notebook_runs):
    first, second = notebook_runs
    result = invoke("diff", first, second)
    assert result.exit_code == 0, result.output
    assert f"No differences between runs {first} and {second}" in result.output
    table = json.loads(invoke("compare", first, second, "--json").output)["compare"]
    # a duration is measured, so it differs between any two runs; nothing else does here
    assert [row["key"] for row in table["rows"] if row["differs"]] == ["duration_s"]
    assert {row["key"] for row in table["rows"]} == {
        "status", "pipeline", "duration_s", "git_commit", "params.C", "metrics.auc",
    }  # fmt: skip


def test_compare_refuses_one_run_and_the_same_run_twice(notebook_runs):
    first, _ = notebook_runs
    alone = invoke("compare", first)
    assert "at least 2 runs; 1 given" in alone.exception.message
    twice = invoke("compare", first, first[:10])
    assert "named twice" in twice.exception.message
    assert "Name different runs" in twice.exception.hint
    same = invoke("diff", first, first)
    assert "named twice" in same.exception.message

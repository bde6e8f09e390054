"""Comparing runs, diffing two, metric histories (tracking._compare) and the SVG chart
(tracking._chart), over a real SQLite store filled through start_run and the repositories."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

import shipyard
from shipyard.errors import MetadataError, RunNotFoundError
from shipyard.ids import new_id
from shipyard.metadata import (
    MetadataStore,
    environments,
    experiments,
    lineage,
    metrics,
    params,
    runs,
)
from shipyard.metadata.lineage import Edge
from shipyard.metadata.metrics import MetricPoint
from shipyard.metadata.runs import RunRecord
from shipyard.tracking._chart import Series, html_page, nice_ticks, render_svg
from shipyard.tracking._compare import (
    compare_runs,
    diff_runs,
    metric_histories,
    resolve_runs,
    short_ids,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def store(project, monkeypatch):
    monkeypatch.chdir(project)
    opened = MetadataStore.open(project_root=project)
    yield opened
    opened.close()


@pytest.fixture
def two_runs(store):
    """Two notebook runs that share some params and metrics and differ in others."""
    with shipyard.start_run(name="low") as low:
        low.log_params({"model": {"C": 0.1, "kernel": "rbf"}, "seed": 1, "old_only": "x"})
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            low.log_metric("val/loss", loss, step=step)
        low.log_metrics({"auc": 0.7, "n": 3, "broken": math.nan})
    with shipyard.start_run(name="high") as high:
        high.log_params({"model": {"C": 1.0, "kernel": "rbf"}, "seed": 1.0, "new_only": True})
        for step, loss in enumerate([0.8, math.nan, math.inf, 0.2]):
            high.log_metric("val/loss", loss, step=step)
        high.log_metrics({"auc": 0.9, "n": 3, "broken": math.nan})
    return low.id, high.id


def test_compare_puts_differing_rows_first_with_the_values_of_each_run(store, two_runs):
    low, high = two_runs
    with store.connect() as conn:
        table = compare_runs(conn, [low[:-2], high])
    assert [record.id for record in table.runs] == [low, high]
    rows = {row.key: row for row in table.rows}
    assert rows["params.model.C"].values == (0.1, 1.0) and rows["params.model.C"].differs
    assert rows["params.old_only"].values == ("x", None) and rows["params.old_only"].differs
    assert rows["metrics.auc"].values == (0.7, 0.9) and rows["metrics.auc"].differs
    assert rows["metrics.val/loss"].values == (0.3, 0.2)
    assert rows["pipeline"].values == ("low", "high")
    # Equal: NaN equals NaN, 1 equals 1.0, the same string, the same status.
    for key in ("metrics.broken", "params.seed", "params.model.kernel", "status", "metrics.n"):
        assert not rows[key].differs, key
    assert rows["status"].values == ("finished", "finished")
    flags = [row.differs for row in table.rows]
    assert flags == sorted(flags, reverse=True), "differing rows come first"
    keys = [row.key for row in table.rows if row.differs]
    assert keys.index("params.model.C") < keys.index("metrics.auc"), "params before metrics"


def test_a_run_named_twice_or_alone_is_refused(store, two_runs):
    low, high = two_runs
    with store.connect() as conn:
        with pytest.raises(MetadataError) as twice:
            compare_runs(conn, [low, high, low[:-1]])
        assert low in twice.value.message and f"'{low[:-1]}'" in twice.value.message
        assert "different runs" in twice.value.hint
        with pytest.raises(MetadataError) as alone:
            compare_runs(conn, [low])
        assert "at least 2 runs; 1 given" in alone.value.message
        assert "two or more" in alone.value.hint


def test_an_unknown_or_ambiguous_prefix_names_the_nearest_ids(store, two_runs):
    low, high = two_runs
    with store.connect() as conn:
        with pytest.raises(RunNotFoundError) as unknown:
            resolve_runs(conn, [low, low[:6] + "zzzz"], at_least=2)
        assert "Nearest ids" in unknown.value.message and "runs list" in unknown.value.hint
        common = next(i for i in range(len(low)) if low[i] != high[i])
        if common >= 4:  # made in the same second: their ids share a prefix
            with pytest.raises(RunNotFoundError) as ambiguous:
                resolve_runs(conn, [low[:common], high], at_least=2)
            assert "ambiguous" in ambiguous.value.message
    with store.connect() as conn:  # nothing was written by the failed calls
        assert len(runs.search(conn)) == 2


def add_run(conn, experiment_id, *, environment_id, commit, dirty=False, **extra) -> str:
    run_id = new_id()
    record = RunRecord(
        id=run_id,
        experiment_id=experiment_id,
        pipeline="training",
        status="finished",
        environment_id=environment_id,
        git_commit=commit,
        git_branch="main",
        git_dirty=dirty,
        git_diff_digest="blake3:abc" if dirty else None,
        **extra,
    )
    runs.create(conn, record)
    runs.finish(conn, run_id, "finished", ended_at=record.started_at + timedelta(seconds=2))
    return run_id


def test_diff_groups_params_metrics_data_code_and_packages(store):
    with store.begin() as conn:
        experiment_id = experiments.get_or_create(conn, "churn")
        environments.upsert(
            conn, "env-a", python="3.11.7", platform="Linux",
            packages={"numpy": "1.26.4", "pandas": "2.2.0", "tqdm": "4.66"}, conda=None,
        )  # fmt: skip
        environments.upsert(
            conn, "env-b", python="3.12.1", platform="Linux",
            packages={"numpy": "2.0.0", "pandas": "2.2.0", "polars": "1.0"}, conda=None,
        )  # fmt: skip
        old = add_run(conn, experiment_id, environment_id="env-a", commit="a" * 40)
        new = add_run(conn, experiment_id, environment_id="env-b", commit="b" * 40, dirty=True)
        params.log(conn, old, {"model": {"C": 1.0}, "gone": 3, "same": "x"})
        params.log(conn, new, {"model": {"C": 0.5}, "added": [1, 2], "same": "x"})
        metrics.log_batch(conn, old, [MetricPoint("auc", 0.8), MetricPoint("f1", 1)])
        metrics.log_batch(conn, new, [MetricPoint("auc", 0.85)])
        lineage.add(
            conn,
            [
                Edge(old, "clean", "raw", "v1", "blake3:1", "in"),
                Edge(new, "clean", "raw", "v2", "blake3:1", "in"),  # same bytes, new version
                Edge(old, "split", "features", "f1", "blake3:f", "in"),
                Edge(new, "split", "features", "f2", "blake3:g", "in"),
                Edge(old, "train", "model", "m1", "blake3:m1", "out"),
                Edge(new, "train", "model", "m2", "blake3:m2", "out"),
                Edge(new, "report", "report", "r2", "blake3:r", "out"),
            ],
        )
    with store.connect() as conn:
        changes = diff_runs(conn, old[:12], new)
    assert (changes.old.id, changes.new.id) == (old, new)
    assert changes.params == {
        "changed": {"model.C": {"old": 1.0, "new": 0.5}},
        "added": {"added": [1, 2]},
        "removed": {"gone": 3},
    }
    assert changes.metrics["changed"]["auc"]["delta"] == pytest.approx(0.05)
    assert changes.metrics["removed"] == {"f1": 1.0}
    assert changes.inputs["changed"] == {
        "features": {"old": "f1", "new": "f2", "same_content": False},
        "raw": {"old": "v1", "new": "v2", "same_content": True},
    }
    assert changes.outputs["changed"]["model"] == {"old": "m1", "new": "m2", "same_content": False}
    assert changes.outputs["added"] == {"report": "r2"}
    assert changes.code == {
        "commit": {"old": "a" * 40, "new": "b" * 40},
        "dirty": {"old": False, "new": True},
        "diff_digest": {"old": None, "new": "blake3:abc"},
    }
    assert changes.environment == {"python": {"old": "3.11.7", "new": "3.12.1"}}
    assert changes.packages == {
        "changed": {"numpy": {"old": "1.26.4", "new": "2.0.0"}},
        "added": {"polars": "1.0"},
        "removed": {"tqdm": "4.66"},
    }
    assert not changes.identical
    assert set(changes.to_dict()) == {
        "params", "metrics", "inputs", "outputs", "code", "environment", "packages",
    }  # fmt: skip


def test_two_runs_that_recorded_the_same_things_are_identical(store):
    with shipyard.start_run() as first:
        first.log_params({"C": 1})
        first.log_metric("auc", math.nan)
    with shipyard.start_run() as second:
        second.log_params({"C": 1})
        second.log_metric("auc", math.nan)
    with store.connect() as conn:
        changes = diff_runs(conn, first.id, second.id)
    assert changes.identical, changes.to_dict()


def test_metric_histories_are_by_step_and_an_unknown_metric_lists_the_known(store, two_runs):
    low, high = two_runs
    with store.connect() as conn:
        records = resolve_runs(conn, [low, high], at_least=1)
        found = metric_histories(conn, records, "val/loss")
        assert [p.step for p in found[high]] == [0, 1, 2, 3]
        assert math.isnan(found[high][1].value) and found[high][2].value == math.inf
        with pytest.raises(MetadataError) as unknown:
            metric_histories(conn, records, "val/los")
    message = unknown.value.message
    assert "'val/los'" in message and low in message and "Did you mean 'val/loss'" in message
    assert unknown.value.hint == "Their metrics are: auc, broken, n, val/loss."


def test_short_ids_are_distinct_and_at_least_eight_characters():
    assert short_ids(["01m8hm1tm5fhnfff", "01m8hm1tmgpnep2m"]) == ["01m8hm1tm5", "01m8hm1tmg"]
    assert short_ids(["abcdefghijk", "zbcdefghijk"]) == ["abcdefgh", "zbcdefgh"]


@pytest.mark.parametrize(
    ("low", "high"), [(0.03, 0.97), (0, 1000), (-3.5, 2.25), (5, 5), (0, 0), (1e-9, 3e-9)]
)
def test_nice_ticks_cover_the_range_with_round_even_steps(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and len(ticks) >= 2
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in {1, 2, 5}
    assert 2 <= len(ticks) <= 12


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_the_chart_is_valid_xml_with_a_line_and_markers_per_run_and_escaped_text():
    svg = render_svg(
        [
            Series("run <a> & 'b'", [(0, 0.9), (1, 0.5), (2, 0.3)]),
            Series("second", [(0, 0.8), (1, math.nan), (2, math.inf), (3, -math.inf), (4, 0.2)]),
        ],
        title='loss <"val/loss"> & more',
    )
    root = parse(svg)
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert 'loss <"val/loss"> & more' in texts
    assert "run <a> & 'b'" in texts and "second" in texts
    lines = root.findall(f"{SVG}polyline")
    # the first run is one line; the second breaks at NaN: (0) alone, then 2..4
    assert [len(line.get("points").split()) for line in lines] == [3, 3]
    tips = [element.findtext(f"{SVG}title") for element in root.iter(f"{SVG}path")]
    assert "second step 2: inf" in tips and "second step 3: -inf" in tips
    circles = [element.findtext(f"{SVG}title") for element in root.iter(f"{SVG}circle")]
    assert "second step 0: 0.8" in circles and not any("nan" in (t or "") for t in circles)
    # infinities are clipped to the plot's top and bottom edges, not drawn off the chart
    tops = [float(p.split(",")[1]) for p in lines[1].get("points").split()]
    assert min(tops) >= 0 and max(tops) <= 440


def test_a_single_point_is_a_marker_and_no_runs_is_still_a_chart():
    root = parse(render_svg([Series("only", [(7, 0.5)])], title="auc"))
    assert root.findall(f"{SVG}polyline") == []
    tips = [c.findtext(f"{SVG}title") for c in root.iter(f"{SVG}circle")]
    assert [tip for tip in tips if tip] == ["only step 7: 0.5"]
    parse(render_svg([], title="nothing"))


def test_the_html_page_holds_the_chart_and_escapes_its_title():
    svg = render_svg([Series("a", [(0, 1.0), (1, 2.0)])], title="a<b")
    page = html_page(svg, title="a<b")
    assert page.startswith("<!DOCTYPE html>") and "<title>a&lt;b</title>" in page
    assert svg in page

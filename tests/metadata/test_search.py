"""runs.search: the filter language and sorting, against results computed in Python."""

from __future__ import annotations

import math

import pytest
from tests.metadata.populate import T0, populate

from shipyard.errors import MetadataError
from shipyard.ids import new_id
from shipyard.metadata import experiments, params, runs


def _ids(found) -> list[str]:
    return [run.id for run in found]


@pytest.fixture
def many(store):
    experiment = f"search-{new_id()}"
    return experiment, populate(store, experiment, 3000)


def test_filter_and_sort_over_thousands_of_runs(store, many):
    experiment, made = many
    where = (
        "metrics.auc > 0.5 and params.C >= 1 and tags.team = 'ds' "
        "and attributes.pipeline != 'scoring'"
    )
    expected = [
        r
        for r in made
        if not math.isnan(r.metrics.get("auc", math.nan))
        and r.metrics["auc"] > 0.5
        and isinstance(r.params["C"], int | float)
        and r.params["C"] >= 1
        and r.tags["team"] == "ds"
        and r.pipeline != "scoring"
    ]
    expected.sort(key=lambda r: r.metrics["auc"], reverse=True)
    assert len(expected) > 100
    with store.connect() as conn:
        found = runs.search(
            conn, where=where, sort="-metrics.auc", experiment=experiment, limit=10_000
        )
        assert _ids(found) == [r.id for r in expected]
        top = runs.search(conn, where=where, sort="-metrics.auc", experiment=experiment, limit=5)
        assert _ids(top) == [r.id for r in expected[:5]]
        ascending = runs.search(
            conn, where=where, sort="metrics.auc", experiment=experiment, limit=10_000
        )
        assert _ids(ascending) == [r.id for r in reversed(expected)]


def test_default_order_is_newest_first_and_filters_by_column(store, many):
    experiment, made = many
    with store.connect() as conn:
        found = runs.search(
            conn, experiment=experiment, pipeline="training", status="failed", limit=10_000
        )
    expected = [r for r in made if r.pipeline == "training" and r.status == "failed"]
    assert _ids(found) == [r.id for r in reversed(expected)]


def test_sort_puts_runs_without_the_value_last_both_ways(store, many):
    experiment, made = many
    with_auc = [r for r in made if not math.isnan(r.metrics.get("auc", math.nan))]
    with store.connect() as conn:
        for sort, reverse in (("metrics.auc", False), ("-metrics.auc", True)):
            found = runs.search(conn, sort=sort, experiment=experiment, limit=10_000)
            assert len(found) == len(made)
            head = sorted(with_auc, key=lambda r: r.metrics["auc"], reverse=reverse)
            assert _ids(found[: len(head)]) == [r.id for r in head]
            assert {r.id for r in found[len(head) :]} == {r.id for r in made} - {r.id for r in head}


def test_params_sort_numbers_numerically_then_text(store, many):
    experiment, made = many
    with store.connect() as conn:
        found = runs.search(conn, sort="params.C", experiment=experiment, limit=10_000)
    by_id = {r.id: r for r in made}
    values = [by_id[r.id].params["C"] for r in found]
    numbers = [v for v in values if not isinstance(v, str)]
    assert numbers == sorted(numbers) and 2 in numbers and 10 in numbers
    assert values[len(numbers) :] == ["auto"] * (len(values) - len(numbers))


def test_params_compare_by_the_literal_type(store, many):
    experiment, made = many
    with store.connect() as conn:
        numeric = runs.search(conn, where="params.C > 1.5", experiment=experiment, limit=10_000)
        text = runs.search(conn, where="params.C = 'auto'", experiment=experiment, limit=10_000)
        kernel = runs.search(
            conn, where='params.kernel = "rbf"', experiment=experiment, limit=10_000
        )
    assert set(_ids(numeric)) == {r.id for r in made if r.params["C"] in (2, 10)}
    assert set(_ids(text)) == {r.id for r in made if r.params["C"] == "auto"}
    assert set(_ids(kernel)) == {r.id for r in made if r.params["kernel"] == "rbf"}


def test_nested_params_booleans_tags_and_times(store):
    experiment = f"small-{new_id()}"
    with store.begin() as conn:
        experiment_id = experiments.get_or_create(conn, experiment)
        old = runs.RunRecord(new_id(), experiment_id, started_at=T0, git_dirty=False)
        new = runs.RunRecord(
            new_id(), experiment_id, started_at=T0.replace(month=6), git_dirty=True
        )
        for record in (old, new):
            runs.create(conn, record)
        params.log(conn, old.id, {"model": {"C": 0.5}, "early_stop": True})
        params.log(conn, new.id, {"model": {"C": "0.5"}, "early_stop": False, "café": "crème"})
        runs.set_tags(conn, new.id, {"priority": "1"})

    def search(where: str) -> list[str]:
        with store.connect() as conn:
            return _ids(runs.search(conn, where=where, experiment=experiment))

    assert search("params.model.C = 0.5") == [old.id]  # the string "0.5" is not a number
    assert search("params.model.C = '0.5'") == [new.id]
    assert search("params.early_stop = true") == [old.id]
    assert search("PARAMS.early_stop = FALSE AND git_dirty = true") == [new.id]
    assert search("tags.priority = 1") == [new.id]
    assert search("params.café = 'crème'") == [new.id]
    assert search("started_at >= '2026-03-01'") == [new.id]
    assert search("attributes.started_at < '2026-01-31T13:00+01:00'") == [old.id]
    assert search(f"id = '{old.id}'") == [old.id]


@pytest.mark.parametrize(
    ("where", "column", "expected"),
    [
        ("metrics.auc 0.8", 13, "expected an operator (=, !=, <, <=, >, >=), found '0.8'"),
        ("metrics.auc >", 14, "expected a value: a number, 'text', true or false, found the end"),
        ("metrics.auc > 0.8 or params.C = 1", 19, "found 'or' (only 'and' is supported)"),
        ("metrics.auc > 0.8 and", 22, "expected a key such as metrics.auc"),
        ("tags.team = 'ds", 13, "the string that starts here has no closing '"),
        ("metrics.auc > 0.8 ; drop table runs", 19, "unexpected character ';'"),
        ("metrics.auc = 'high'", 15, "metrics.auc compares with a number"),
    ],
)
def test_syntax_errors_name_the_column_and_what_was_expected(store, where, column, expected):
    with store.connect() as conn, pytest.raises(MetadataError) as caught:
        runs.search(conn, where=where)
    message = caught.value.message
    assert f"Invalid filter at column {column}: " in message
    assert expected in message
    assert message.endswith(" " * (column + 1) + "^")  # a caret under the column
    assert "metrics.auc > 0.8" in caught.value.hint


def test_unknown_names_list_the_valid_ones(store):
    with store.connect() as conn:
        with pytest.raises(MetadataError) as caught:
            runs.search(conn, where="attributes.pipline = 'x'")
        assert "unknown attribute 'pipline'. Did you mean 'pipeline'?" in caught.value.message
        assert "status, started_at" in caught.value.message
        with pytest.raises(MetadataError, match="unknown prefix 'metric_s'"):
            runs.search(conn, where="metric_s.auc > 1")
        with pytest.raises(MetadataError, match=r"unknown key 'auc'\. Keys start with metrics\."):
            runs.search(conn, where="auc > 1")
        with pytest.raises(MetadataError, match="Invalid sort key at column 14: expected one key"):
            runs.search(conn, sort="-metrics.auc desc")


def test_a_filter_is_data_not_sql(store):
    record_experiment = f"inject-{new_id()}"
    with store.begin() as conn:
        experiment_id = experiments.get_or_create(conn, record_experiment)
        runs.create(conn, runs.RunRecord(new_id(), experiment_id))
    with store.connect() as conn:
        found = runs.search(
            conn, where="tags.`x' OR 1=1 --` = 'y'' OR ''1''=''1'", experiment=record_experiment
        )
        assert found == []
        assert len(runs.search(conn, experiment=record_experiment)) == 1

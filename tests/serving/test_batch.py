"""Batch prediction on a real project made from the template, with registered models:
Parquet and CSV in and out, exact chunks, 2-d predictions, signature failures that leave
nothing behind, and the tracked run with its params, metrics and lineage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from tests.serving.conftest import FEATURES, customers, make_project

from shipyard.errors import DatasetError, ModelError, ModelNotFoundError, SignatureError
from shipyard.metadata import lineage, metrics, params, runs
from shipyard.models import ModelRegistry
from shipyard.objects import Digest, hash_file
from shipyard.serving._batch import BatchResult, predict_file
from shipyard.tracking._lineage import upstream
from shipyard.tracking._stores import tracking_for


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("batch") / "shop")


@pytest.fixture
def folder(project, request) -> Path:
    """A fresh folder inside the project for one test's files."""
    path = project / "data" / "07_model_output" / request.node.name.replace("[", "-").strip("]")
    path.mkdir(parents=True)
    return path


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def expected_churn(project: Path, frame: pd.DataFrame) -> np.ndarray:
    return ModelRegistry.for_project(project).load("churn:1").predict(frame[FEATURES])


@pytest.mark.parametrize(
    ("source", "target"),
    [("parquet", "parquet"), ("csv", "csv"), ("parquet", "csv"), ("csv", "parquet")],
)
def test_every_row_is_predicted_in_order_in_exact_chunks(project, folder, source, target):
    frame = customers(2500)
    path = write(frame, folder / f"new.{source}")
    result = predict_file(
        "models:/churn@champion",
        path,
        folder / f"scored.{target}",
        chunk_size=1000,
        project=project,
        progress=False,
    )
    assert isinstance(result, BatchResult)
    assert (result.rows, result.model, result.version) == (2500, "churn", 1)
    assert result.output == folder / f"scored.{target}"
    assert result.rows_per_s == pytest.approx(result.rows / result.seconds)
    scored = read(result.output)
    assert list(scored.columns) == [
        *frame.columns,
        "prediction",
        "request_id",
        "row",
        "model_version",
    ]
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    np.testing.assert_allclose(scored["charges"], frame["charges"])
    assert scored["prediction"].tolist() == expected_churn(project, frame).tolist()
    # chunks of 1000, 1000 and 500 rows: one request id each, rows counted from 0 in each
    sizes = scored.groupby("request_id", sort=False).size()
    assert sizes.tolist() == [1000, 1000, 500]
    assert scored["row"].tolist() == [*range(1000), *range(1000), *range(500)]
    assert set(scored["model_version"]) == {1}
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_csv_blocks_smaller_than_a_chunk_are_joined_into_exact_chunks(project, folder):
    # The block size is estimated from the first MiB; longer rows later fill blocks with
    # fewer rows than a chunk, and the chunks must still be exact.
    frame = customers(45_000)
    frame.loc[30_000:, "customer_id"] = frame.loc[30_000:, "customer_id"].str.pad(300, "left", "x")
    path = write(frame, folder / "growing.csv")
    result = predict_file(
        "churn", path, folder / "scored.parquet", chunk_size=20_000, project=project, progress=False
    )
    scored = pd.read_parquet(result.output)
    assert scored.groupby("request_id", sort=False).size().tolist() == [20_000, 20_000, 5_000]
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()


def test_each_column_of_2d_predictions_gets_its_own_column(project, folder):
    frame = customers(50)
    path = write(frame, folder / "new.parquet")
    result = predict_file("spend", path, folder / "scored.parquet", project=project, progress=False)
    scored = pd.read_parquet(result.output)
    assert [c for c in scored.columns if c.startswith("prediction")] == [
        "prediction_0",
        "prediction_1",
    ]
    np.testing.assert_allclose(scored["prediction_0"], frame["tenure"] + frame["charges"])
    np.testing.assert_allclose(scored["prediction_1"], -frame["tenure"], atol=1e-6)


def test_a_mismatch_in_chunk_3_names_the_rows_and_columns_and_writes_nothing(project, folder):
    frame = customers(3500)
    frame.loc[2100, "charges"] = np.nan  # the signature says charges has no nulls
    path = write(frame, folder / "new.parquet")
    output = folder / "scored.parquet"
    output.write_bytes(b"the previous predictions")
    with pytest.raises(SignatureError) as caught:
        predict_file(
            "churn@champion", path, output, chunk_size=1000, project=project, progress=False
        )
    message = caught.value.message
    assert str(path) in message
    assert "rows 2,001-3,000 (chunk 3)" in message
    assert "column 'charges' has 1 null value(s) but is not nullable" in message
    assert "shipyard models show churn:1" in caught.value.hint
    assert output.read_bytes() == b"the previous predictions"
    assert sorted(p.name for p in folder.iterdir()) == ["new.parquet", "scored.parquet"]
    with tracking_for(project).store.connect() as conn:
        failed = runs.search(conn, status="failed")
    assert any("chunk 3" in (run.error or "") for run in failed)


def test_a_csv_value_of_the_wrong_type_is_a_clear_error(project, folder):
    frame = customers(300).astype({"tenure": str})
    frame.loc[250, "tenure"] = "twelve"
    path = write(frame, folder / "new.csv")
    with pytest.raises(DatasetError, match=r"new\.csv cannot be read.*twelve"):
        predict_file(
            "churn", path, folder / "scored.csv", chunk_size=100, project=project, progress=False
        )
    assert not (folder / "scored.csv").exists()


def test_the_run_records_params_metrics_and_lineage(project, folder):
    path = write(customers(1200), folder / "new.parquet")
    first = predict_file(
        "churn@champion",
        path,
        folder / "a.parquet",
        chunk_size=500,
        project=project,
        progress=False,
    )
    second = predict_file("churn:1", path, folder / "b.csv", project=project, progress=False)
    registry = ModelRegistry.for_project(project)
    registered = registry.version("churn", 1)
    model_version = registry.index.find("models:/churn", Digest.parse(registered.digest))
    relative = f"data/07_model_output/{folder.name}"
    with tracking_for(project).store.connect() as conn:
        record = runs.get(conn, first.run_id)
        logged = params.of_run(conn, first.run_id)
        values = metrics.latest(conn, first.run_id)
        edges = lineage.of_run(conn, first.run_id)
        reread = lineage.of_run(conn, second.run_id)
        graph = upstream(conn, f"{relative}/a.parquet", index=registry.index)
    assert (record.name, record.status, record.env) == ("predict", "finished", "local")
    assert logged["model"] == "churn" and logged["version"] == 1
    assert logged["model_ref"] == "churn@champion" and logged["chunk_size"] == 500
    assert logged["input"] == str(path) and logged["output"] == str(folder / "a.parquet")
    assert values["rows"] == 1200
    assert values["seconds"] == pytest.approx(first.seconds)
    assert values["rows_per_s"] == pytest.approx(first.rows_per_s)
    assert [(e.dataset, e.direction, e.digest) for e in edges] == [
        (f"{relative}/new.parquet", "in", str(hash_file(path))),
        ("models:/churn", "in", registered.digest),
        (f"{relative}/a.parquet", "out", str(hash_file(folder / "a.parquet"))),
    ]
    assert model_version is not None and edges[1].version_id == model_version.id
    # the same input content is the same version the next time it is read
    assert [e.version_id for e in reread if e.direction == "in"] == [
        e.version_id for e in edges if e.direction == "in"
    ]
    assert set(graph.nodes) == {
        f"data:{relative}/a.parquet@{edges[2].version_id}",
        f"run:{first.run_id}",
        f"data:{relative}/new.parquet@{edges[0].version_id}",
        f"data:models:/churn@{edges[1].version_id}",
    }


def test_a_catalog_dataset_is_read_from_its_file_with_its_version(project, folder):
    catalog = project / "conf" / "base" / "catalog.yml"
    entry = {"type": "parquet", "filepath": "data/01_raw/arrivals.parquet", "versioned": True}
    catalog.write_text(yaml.safe_dump({"arrivals": entry}))
    from shipyard.project import Session

    session = Session.open(project)
    session.catalog.save("arrivals", customers(40, seed=3))
    version = session.versioning.index.latest("arrivals")
    result = predict_file(
        "churn", "arrivals", folder / "scored.parquet", project=project, progress=False
    )
    assert result.rows == 40
    with tracking_for(project).store.connect() as conn:
        inputs = [e for e in lineage.of_run(conn, result.run_id) if e.direction == "in"]
    assert ("arrivals", version.id) in [(e.dataset, e.version_id) for e in inputs]


def make_input(folder: Path, name: str) -> Path:
    return write(customers(10), folder / name)


@pytest.mark.parametrize(
    ("arguments", "error", "text"),
    [
        (("churn", "missing.parquet", "out.parquet"), DatasetError, "does not exist"),
        (("churn", "rows.txt", "out.parquet"), DatasetError, "not a Parquet or CSV file"),
        (("churn", "rows.parquet", "out.json"), DatasetError, "not a Parquet or CSV file"),
        (("churn", "rows.parquet", "rows.parquet"), DatasetError, "is the input file"),
        (("churn", "rows.parquet", "nowhere/out.parquet"), DatasetError, "does not exist"),
        (("churn", "not_a_dataset", "out.parquet"), DatasetError, "neither a file nor a dataset"),
        (("churn@nobody", "rows.parquet", "out.parquet"), ModelNotFoundError, "no alias"),
        (("churn:2", "rows.parquet", "out.parquet"), ModelNotFoundError, "version"),
        (("no/such", "rows.parquet", "out.parquet"), ModelError, "not a model reference"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    project, folder, arguments, error, text
):
    model, given, output = arguments
    make_input(folder, "rows.parquet")
    (folder / "rows.txt").write_text("tenure\n1\n")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(error, match=text) as caught:
        predict_file(model, folder / given, folder / output, project=project, progress=False)
    assert caught.value.hint
    assert sorted(p.name for p in folder.iterdir()) == before


def test_columns_the_output_would_add_are_refused(project, folder):
    path = write(customers(10).assign(request_id="x"), folder / "again.parquet")
    with pytest.raises(DatasetError, match="already has the column"):
        predict_file("churn", path, folder / "out.parquet", project=project, progress=False)
    assert not (folder / "out.parquet").exists()


def test_an_empty_file_is_refused(project, folder):
    path = write(customers(0), folder / "empty.parquet")
    with pytest.raises(DatasetError, match="holds no rows"):
        predict_file("churn", path, folder / "out.parquet", project=project, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == ["empty.parquet"]


def test_relative_paths_start_at_the_current_folder(project, folder, monkeypatch):
    make_input(folder, "rows.csv")
    monkeypatch.chdir(folder)
    result = predict_file("churn", "rows.csv", "out.parquet", project=project, progress=False)
    assert result.output == folder / "out.parquet"
    assert pq.read_metadata(result.output).num_rows == 10


def test_progress_lines_go_to_stderr(project, folder, capfd):
    path = make_input(folder, "rows.parquet")
    predict_file("churn", path, folder / "out.parquet", chunk_size=4, project=project)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "[4/10] rows predicted",
        "[8/10] rows predicted",
        "[10/10] rows predicted",
    ]

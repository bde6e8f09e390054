"""The endpoint over real HTTP on loopback: every route, every refusal, the logs, tokens,
CORS, a model that raises, and a swap under steady load with no failed request."""

from __future__ import annotations

import io
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.serving.conftest import COLUMNS, register_model, training_frame

from shipyard.models import package
from shipyard.serving._log import read_log
from shipyard.serving._run import running


def records(n: int = 3, seed: int = 5) -> list[dict[str, float]]:
    X, _ = training_frame(n, seed)
    return X.to_dict(orient="records")


def expected(registry, rows: list[dict[str, float]], ref: str = "churn@champion") -> list[int]:
    model = registry.load(ref)
    return [int(value) for value in model.predict(pd.DataFrame(rows))]


def test_predict_answers_every_body_form_with_ids_and_version(champion, make_server, registry):
    rows = records()
    frame = pd.DataFrame(rows)
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    bodies = [
        ({"json": {"records": rows}}),
        ({"json": {"columns": COLUMNS, "data": frame.to_numpy().tolist()}}),
        ({"json": {"dataframe_split": {"columns": COLUMNS, "data": frame.to_numpy().tolist()}}}),
        ({"content": frame.to_csv(index=False), "headers": {"content-type": "text/csv"}}),
        (
            {
                "content": parquet.getvalue(),
                "headers": {"content-type": "application/vnd.apache.parquet"},
            }
        ),
    ]
    with running(make_server()) as url, httpx.Client(base_url=url) as client:
        for body in bodies:
            response = client.post("/v1/models/churn/predict", **body)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["model"] == "churn" and answer["version"] == champion
            assert answer["predictions"] == expected(registry, rows)
            assert response.headers["x-request-id"] == answer["request_id"]
        given = client.post(
            "/v1/models/churn/predict",
            json={"records": rows[:1]},
            headers={"x-request-id": "order-42"},
        )
        assert given.json()["request_id"] == "order-42"


def test_refusals_name_the_problem_and_never_500(champion, make_server):
    server = make_server(max_body_bytes=200_000, max_rows=1_000)
    with running(server) as url, httpx.Client(base_url=url) as client:

        def post(content, content_type="application/json"):
            return client.post(
                "/v1/models/churn/predict", content=content, headers={"content-type": content_type}
            )

        wrong = records(2)
        wrong[0]["f0"] = "high"
        del wrong[1]["f5"]
        refused = client.post("/v1/models/churn/predict", json={"records": wrong})
        assert refused.status_code == 422
        details = refused.json()["details"]
        assert {item["column"] for item in details} >= {"f0", "f5"}
        assert refused.json()["request_id"]

        malformed = post(b'{"records": [{"f0": 1,,}]}')
        assert malformed.status_code == 400
        assert "char" in malformed.json()["error"] or "column" in malformed.json()["error"]

        deep = post(b"[" * 10_000 + b"]" * 10_000)
        assert deep.status_code in (400, 413)

        assert post(b"\x80\x04K\x01.", "application/python-pickle").status_code == 415
        too_big = post(b'{"records": [' + b" " * 300_000 + b"]}")
        assert too_big.status_code == 413
        assert "200,000" in too_big.json()["error"]
        rows = {"columns": COLUMNS, "data": [[0.0] * len(COLUMNS)] * 5_000}
        too_many = client.post("/v1/models/churn/predict", json=rows)
        assert too_many.status_code == 413

        infinite = post("f0,f1,f2,f3,f4,f5\ninf,0,0,0,0,0\n", "text/csv")
        assert infinite.status_code == 422
        assert "f0" in infinite.text

        other = client.post("/v1/models/fraud/predict", json={"records": records(1)})
        assert other.status_code == 404
        assert "churn" in other.json()["hint"]
        # the server is still fine after all of that
        assert client.post("/v1/models/churn/predict", json={"records": records(1)}).is_success


def test_a_model_that_raises_gives_500_with_the_request_id(registry, make_server, tmp_path, caplog):
    class Fragile:
        def predict(self, X):
            if (X["f0"] > 100).any():
                raise ValueError("f0 out of range")
            return np.zeros(len(X), dtype=int)

    X, _ = training_frame()
    folder = tmp_path / "fragile"
    package(Fragile(), example=X.head(), flavor="python").save(folder)
    version = registry.register("churn", folder).version
    registry.trust("churn", version)
    with running(make_server(f"churn:{version}")) as url, httpx.Client(base_url=url) as client:
        row = records(1)
        row[0]["f0"] = 1_000.0
        failed = client.post("/v1/models/churn/predict", json={"records": row})
        assert failed.status_code == 500
        request_id = failed.json()["request_id"]
        assert request_id in caplog.text and "f0 out of range" in caplog.text
        assert client.post("/v1/models/churn/predict", json={"records": records(1)}).is_success


def test_open_inference_protocol(champion, make_server, registry):
    rows = records(4)
    frame = pd.DataFrame(rows)
    body = {
        "id": "req-1",
        "inputs": [
            {"name": name, "shape": [4], "datatype": "FP64", "data": frame[name].tolist()}
            for name in COLUMNS
        ],
    }
    with running(make_server()) as url, httpx.Client(base_url=url) as client:
        answer = client.post("/v2/models/churn/infer", json=body).json()
        assert answer["id"] == "req-1" and answer["model_name"] == "churn"
        (output,) = answer["outputs"]
        assert output["data"] == expected(registry, rows) and output["shape"] == [4]
        metadata = client.get("/v2/models/churn").json()
        assert [tensor["name"] for tensor in metadata["inputs"]] == COLUMNS
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/v2").json()["name"] == "shipyard"


def test_predictions_and_feedback_are_logged(champion, make_server, tmp_path):
    server = make_server()
    with running(server) as url, httpx.Client(base_url=url) as client:
        answer = client.post("/v1/models/churn/predict", json={"records": records(3)}).json()
        feedback = client.post(
            "/v1/feedback", json={"request_id": answer["request_id"], "row": 0, "label": 1}
        )
        assert feedback.json() == {
            "request_id": feedback.json()["request_id"],
            "received": 1,
            "logged": 1,
        }
        bad = client.post("/v1/feedback", json={"feedback": [{"label": 1, "rows": 2}]})
        assert bad.status_code == 422
        assert len(bad.json()["details"]) >= 2
    # shutting down flushed both logs
    predictions = read_log(tmp_path / "logs" / "predictions")
    assert (predictions["request_id"] == answer["request_id"]).sum() == 3
    assert {f"input.{name}" for name in COLUMNS} <= set(predictions.columns)
    labels = read_log(tmp_path / "logs" / "feedback")
    assert labels["request_id"].tolist() == [answer["request_id"]]


def test_operational_routes(champion, make_server):
    with running(make_server()) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json()["version"] == champion
        described = client.get("/v1/models/churn").json()
        assert described["version"] == champion and "champion" in described["aliases"]
        assert [c["name"] for c in described["signature"]["inputs"]] == COLUMNS
        client.post("/v1/models/churn/predict", json={"records": records(2)})
        metrics = client.get("/metrics").text
        assert 'shipyard_requests_total{endpoint="predict",status="200"} 1' in metrics
        assert 'shipyard_prediction_rows_total{endpoint="predict"} 2' in metrics
        assert "shipyard_request_duration_seconds_bucket" in metrics
        assert "/v1/models/{name}/predict" in client.get("/openapi.json").json()["paths"]
        assert client.get("/docs").status_code == 200


def test_bearer_tokens_and_cors(champion, make_server):
    server = make_server(tokens={"s3cret"}, cors_origins=("https://app.example",))
    with running(server) as url, httpx.Client(base_url=url) as client:
        body = {"records": records(1)}
        refused = client.post("/v1/models/churn/predict", json=body)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        wrong = client.post(
            "/v1/models/churn/predict", json=body, headers={"authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        allowed = client.post(
            "/v1/models/churn/predict",
            json=body,
            headers={"authorization": "Bearer s3cret", "origin": "https://app.example"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert client.get("/health").status_code == 200  # probes need no token
    with running(make_server()) as url:
        plain = httpx.post(
            f"{url}/v1/models/churn/predict", json=body, headers={"origin": "https://evil.example"}
        )
        assert plain.status_code == 200
        assert "access-control-allow-origin" not in plain.headers


def test_log_write_failures_keep_serving_and_are_counted(champion, registry, tmp_path):
    from shipyard.serving import ModelServer
    from shipyard.serving._log import PredictionLog

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    log = PredictionLog(blocker / "predictions", flush_interval_s=0.05)
    server = ModelServer("churn@champion", registry, prediction_log=log)
    with running(server) as url, httpx.Client(base_url=url) as client:
        for _ in range(5):
            assert client.post("/v1/models/churn/predict", json={"records": records(2)}).is_success
        deadline = time.monotonic() + 10
        while log.stats.dropped_rows < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        metrics = client.get("/metrics").text
    assert log.stats.dropped_rows == 10 and log.stats.last_error
    assert "shipyard_prediction_log_dropped_rows 10.0" in metrics


@pytest.mark.timeout(120)
def test_the_alias_moves_under_load_and_no_request_fails(champion, make_server, registry, tmp_path):
    server = make_server(watch_interval_s=0.1)
    failures: list[str] = []
    seen: list[list[int]] = [[] for _ in range(4)]  # the versions each client got, in order
    stop = threading.Event()

    def hammer(url: str, versions: list[int]) -> None:
        with httpx.Client(base_url=url) as client:
            while not stop.is_set():
                try:
                    response = client.post("/v1/models/churn/predict", json={"records": records(2)})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    versions.append(response.json()["version"])

    with running(server) as url:
        clients = [threading.Thread(target=hammer, args=(url, versions)) for versions in seen]
        for thread in clients:
            thread.start()
        time.sleep(0.5)
        new = register_model(registry, tmp_path, C=0.01)
        registry.promote("churn", new, "champion")
        deadline = time.monotonic() + 30
        while not all(v and v[-1] == new for v in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for thread in clients:
            thread.join()
        metrics = httpx.get(f"{url}/metrics").text
    assert failures == []
    for versions in seen:
        assert versions[0] == champion and versions[-1] == new
        # a client's requests are sequential: once one was answered by the new version,
        # every later one was too
        assert set(versions[versions.index(new) :]) == {new}
    assert f'shipyard_model_swaps_total{{model="churn",version="{new}"}} 1' in metrics


def test_a_version_that_fails_to_load_is_not_swapped_in(champion, make_server, registry, tmp_path):
    class Broken:
        """Answers while being packaged, fails once saved."""

        saved = False

        def predict(self, X):
            if self.saved:
                raise RuntimeError("cannot predict")
            return np.zeros(len(X), dtype=int)

    X, _ = training_frame()
    folder = tmp_path / "broken"
    broken = Broken()
    built = package(broken, example=X.head(), flavor="python")
    broken.saved = True
    built.save(folder)
    server = make_server()
    server.load()
    version = registry.register("churn", folder).version
    registry.trust("churn", version)
    registry.promote("churn", version, "champion")
    assert server.check_for_update() is None
    assert server.current.version == champion and server.rejected == version

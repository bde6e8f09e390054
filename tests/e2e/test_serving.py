"""``shipyard serve`` as a real process on a generated project: startup errors, slow
clients, SIGTERM with a request in flight, and SIGKILL with the log being written."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.conftest import run_cli
from tests.e2e.conftest import serving

from shipyard.serving._log import read_log
from shipyard.serving._run import free_port

pytestmark = pytest.mark.timeout(180)


def rows(project: Path, n: int = 3) -> list[dict]:
    """Rows the churn model takes: its input example."""
    from shipyard.models import load_model

    example = load_model("churn", project=project).input_example()
    return example.head(n).to_dict(orient="records")


def configure(project: Path, text: str) -> None:
    (project / "conf" / "base" / "serving.yml").write_text(text)


def test_startup_errors_are_plain_messages(project):
    unknown = run_cli("serve", "fraud", "--port", str(free_port()), cwd=project)
    assert unknown.returncode != 0
    assert "fraud" in unknown.stderr and "Traceback" not in unknown.stderr
    configure(project, "max_rows: 10\nauth_token: [web]\n")
    typo = run_cli("serve", "churn", "--port", str(free_port()), cwd=project)
    assert typo.returncode != 0
    assert "auth_token" in typo.stderr and "auth_tokens" in typo.stderr
    assert "Traceback" not in typo.stderr


def test_sigterm_lets_the_request_in_flight_finish_and_flushes_the_log(project):
    body = pd.DataFrame(rows(project)).to_json(orient="split", index=False).encode()
    body = b'{"dataframe_split": ' + body + b"}"
    with serving(project) as (url, process):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            head = (
                f"POST /v1/models/churn/predict HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            conn.sendall(head.encode() + body[:10])
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert process.poll() is None, "the server quit with a request in flight"
            conn.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        # uvicorn drains, shuts the app down, then re-raises the signal it caught
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    logged = read_log(project / "data" / "09_logs" / "predictions")
    assert len(logged) == 3


def test_sigkill_while_logging_leaves_a_readable_log(project):
    configure(project, "prediction_log: {flush_interval_s: 0.05}\n")
    with serving(project) as (url, process), httpx.Client(base_url=url) as client:
        body = {"records": rows(project, 1)}
        for _ in range(200):
            assert client.post("/v1/models/churn/predict", json=body).is_success
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    folder = project / "data" / "09_logs" / "predictions"
    logged = read_log(folder)
    assert 0 < len(logged) <= 200
    assert len(pd.read_parquet(folder)) == len(logged)


def test_slow_clients_do_not_hold_up_others_and_slow_bodies_time_out(project):
    configure(project, "body_timeout_s: 1\n")
    with serving(project) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        slow = []
        for _ in range(50):  # slowloris: headers that never end
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(b"POST /v1/models/churn/predict HTTP/1.1\r\nHost: x\r\n")
            slow.append(conn)
        try:
            with httpx.Client(base_url=url, timeout=5) as client:
                for _ in range(20):
                    started = time.monotonic()
                    answer = client.post(
                        "/v1/models/churn/predict", json={"records": rows(project)}
                    )
                    assert answer.status_code == 200
                    assert time.monotonic() - started < 1.0
            # a body that stops arriving is cut off
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(
                    b"POST /v1/models/churn/predict HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
                )
                started = time.monotonic()
                answer = conn.recv(65536)
                assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
                assert time.monotonic() - started < 5
        finally:
            for conn in slow:
                conn.close()


def test_two_workers_share_the_port(project):
    with serving(project, "--workers", "2") as (url, _), httpx.Client(base_url=url) as client:
        for _ in range(10):
            answer = client.post("/v1/models/churn/predict", json={"records": rows(project)})
            assert answer.status_code == 200 and answer.json()["version"] == 1


def test_tokens_from_credentials_pii_from_the_catalog_and_a_json_access_log(project):
    configure(project, "auth_tokens: [web_app]\npii: {mode: mask}\n")
    (project / "conf" / "local" / "credentials.yml").write_text("web_app: {token: s3cret}\n")
    catalog = project / "conf" / "base" / "catalog.yml"
    catalog.write_text(
        catalog.read_text().replace(
            "features:\n  type: parquet\n",
            "features:\n  type: parquet\n  metadata: {pii: [tenure_months]}\n",
        )
    )
    with serving(project) as (url, process), httpx.Client(base_url=url) as client:
        body = {"records": rows(project, 2)}
        assert client.post("/v1/models/churn/predict", json=body).status_code == 401
        answer = client.post(
            "/v1/models/churn/predict", json=body, headers={"authorization": "Bearer s3cret"}
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    access = [json.loads(line) for line in stderr.splitlines() if line.startswith('{"request_id"')]
    assert {"request_id", "method", "path", "status", "ms"} <= set(access[-1])
    assert [entry["status"] for entry in access if entry["path"].endswith("/predict")] == [401, 200]
    logged = read_log(project / "data" / "09_logs" / "predictions")
    assert logged["input.tenure_months"].tolist() == ["***", "***"]
    assert logged["input.monthly_charges"].notna().all()

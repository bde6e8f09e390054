"""Every bad input of the foundation gives a message that names the problem and a hint,
exits 1 without a traceback, and leaves what is stored intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def assert_user_error(result, *fragments: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert "hint:" in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def metrics_of(project: Path) -> str:
    return (project / "data/08_reporting/metrics.json").read_text()


def test_malformed_yaml_shows_line_and_column(project):
    append(project / "conf/base/parameters.yml", "\nbroken: [1, 2\n")
    result = run_cli("run", cwd=project)
    assert_user_error(result, "parameters.yml", "line")


def test_unknown_dataset_type_suggests_the_closest(project):
    append(project / "conf/base/catalog.yml", "\nextra:\n  type: parqet\n  filepath: x.parquet\n")
    result = run_cli("catalog", "list", cwd=project)
    assert_user_error(result, "parqet", "parquet", "catalog.yml")


def test_unknown_key_in_an_entry_names_file_entry_and_allowed_keys(project):
    append(project / "conf/base/catalog.yml", "\nextra:\n  type: csv\n  filepth: x.csv\n")
    result = run_cli("catalog", "list", cwd=project)
    assert_user_error(result, "filepth", "extra", "filepath", "catalog.yml")


def test_unknown_param_in_params_override(project):
    before = metrics_of(project)
    result = run_cli("run", "--params", "model.CC=0.5", cwd=project)
    assert_user_error(result, "model.CC", "model.C")
    assert metrics_of(project) == before


def test_unknown_pipeline_lists_the_ones_that_exist(project):
    result = run_cli("run", "--pipeline", "trainig", cwd=project)
    assert_user_error(result, "trainig", "training", "data_processing")


def test_node_input_that_nothing_provides(project):
    nodes = project / "src/churn/pipelines/training/pipeline.py"
    nodes.write_text(nodes.read_text().replace('"X_test"', '"X_holdout"', 1))
    result = run_cli("run", "--pipeline", "training", cwd=project)
    assert_user_error(result, "X_holdout")


def test_a_tampered_model_package_refuses_to_load(project):
    weights = next((project / "data/06_models/model/model").iterdir())
    weights.chmod(0o644)
    weights.write_bytes(weights.read_bytes() + b"\0")
    tampered = weights.read_bytes()
    result = run_cli(
        "run", "--pipeline", "training", "--from-nodes", "evaluate_model", "--no-cache",
        cwd=project,
    )  # fmt: skip
    assert_user_error(result, "model", weights.name, "changed")
    assert weights.read_bytes() == tampered  # nothing was loaded, nothing overwritten
    # the registered model is a separate, intact copy
    assert run_cli("models", "show", "churn", cwd=project).returncode == 0


def test_dataset_path_leaving_the_project(project):
    append(
        project / "conf/base/catalog.yml",
        "\nescape:\n  type: csv\n  filepath: ../../outside.csv\n",
    )
    result = run_cli("catalog", "describe", "escape", cwd=project)
    assert_user_error(result, "escape", "outside.csv", "allow_outside_project")


def test_missing_credentials_never_print_secrets(project):
    (project / "conf/local/credentials.yml").write_text(
        "warehouse:\n  con: sqlite:///secret-token-123.db\n"
    )
    append(
        project / "conf/base/catalog.yml",
        "\nscores:\n  type: sql_table\n  table_name: scores\n  credentials: lake\n",
    )
    result = run_cli("catalog", "describe", "scores", cwd=project)
    assert_user_error(result, "lake", "scores")
    assert "secret-token-123" not in result.stderr + result.stdout


def test_node_that_raises_is_named_and_debug_shows_the_traceback(project):
    nodes = project / "src/churn/pipelines/training/nodes.py"
    append(nodes, "\n\ndef _boom(*args, **kwargs):\n    raise ValueError('bad model')\n")
    nodes.write_text(nodes.read_text().replace("def evaluate_model(", "def _old_eval(", 1))
    append(nodes, "\n\nevaluate_model = _boom\n")
    before = metrics_of(project)
    result = run_cli("run", "--pipeline", "training", cwd=project)
    assert_user_error(result, "evaluate_model", "bad model", "--from-nodes evaluate_model")
    assert metrics_of(project) == before
    debug = run_cli("--debug", "run", "--pipeline", "training", cwd=project)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "ValueError: bad model" in debug.stderr


def test_cycle_names_the_cycle(project):
    registry = project / "src/churn/pipeline_registry.py"
    registry.write_text(
        "from shipyard import node, pipeline\n\n\n"
        "def register_pipelines():\n"
        "    cyclic = pipeline([node(abs, 'a', 'b', name='n1'), node(abs, 'b', 'a', name='n2')])\n"
        "    return {'__default__': cyclic}\n"
    )
    result = run_cli("run", cwd=project)
    assert_user_error(result, "n1", "n2")


def test_outside_a_project(tmp_path):
    result = run_cli("run", cwd=tmp_path)
    assert_user_error(result, "No Shipyard project", "shipyard new")


def test_usage_error_exits_2(project):
    result = run_cli("run", "--runner", "warp", cwd=project)
    assert result.returncode == 2
    assert "warp" in result.stderr


def test_ctrl_c_stops_the_run_cleanly_and_says_how_to_resume(project):
    import os
    import signal
    import subprocess
    import sys

    nodes = project / "src/churn/pipelines/training/nodes.py"
    # evaluate_model announces itself, then hangs: once its line is seen, train_model is
    # recorded as done (the next node only starts after that), with no timing involved.
    source = nodes.read_text().replace(
        '    """Measure the model',
        '    print("evaluate_model started", file=sys.stderr, flush=True)\n'
        '    time.sleep(60)\n    """Measure the model',
        1,
    )
    nodes.write_text(source + "\n\nimport sys  # noqa: E402\nimport time  # noqa: E402\n")
    model_file = project / "data/06_models/model/shipyard-model.yaml"
    model_before = model_file.stat().st_mtime_ns
    metrics_before = metrics_of(project)
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "run", "--pipeline", "training", "--no-cache"],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "evaluate_model started" in line:
            break
    else:
        pytest.fail("the run ended before evaluate_model started:\n" + "".join(seen))
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=30) == 1
    assert "interrupted after 1 of 3 nodes" in rest
    assert "--from-nodes evaluate_model" in rest
    assert "Traceback" not in rest
    assert model_file.stat().st_mtime_ns > model_before
    assert metrics_of(project) == metrics_before

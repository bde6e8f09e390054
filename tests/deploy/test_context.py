"""Build contexts of a generated churn project: the serving image of churn@champion and
the pipelines image. The image's own entrypoint is run here, against the context (``/app``
mapped to it), so what the image would run is proven to run where no Docker engine is;
an engine, when there is one, builds it for real."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from importlib.metadata import version as installed_version
from pathlib import Path

import httpx
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.conftest import churn_project

from shipyard.__about__ import __version__
from shipyard.deploy._build import (
    BuildContext,
    build,
    check_tag,
    docker_available,
)
from shipyard.deploy._context import model_context, pipeline_context, without_credentials
from shipyard.deploy._requirements import environment_requirements, pinned_requirements
from shipyard.deploy._secrets import find_secrets, is_secret_name
from shipyard.errors import ConfigError, DeployError, ModelNotFoundError, PipelineNotFoundError
from shipyard.models import ModelRegistry
from shipyard.project import Session

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

#: The endpoint's token: in conf/local only, so it must never reach a context.
SECRET = "tok-7f1c9e-from-conf-local-only"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """churn v1 trained and promoted to champion; the endpoint needs the token `web_app`,
    whose value is in conf/local/credentials.yml."""
    root = churn_project(tmp_path_factory.mktemp("deploy") / "churn", champion=True)
    (root / "conf/local/credentials.yml").write_text(f"web_app:\n  token: {SECRET}\n")
    (root / "conf/base/serving.yml").write_text("auth_tokens: [web_app]\n")
    return root


def registry_of(project: Path) -> tuple[Session, ModelRegistry]:
    session = Session.open(project)
    return session, ModelRegistry.for_session(session)


@pytest.fixture(scope="module")
def context(pristine, tmp_path_factory) -> BuildContext:
    """The serving image's context of churn@champion, written once for the module."""
    root = tmp_path_factory.mktemp("context")
    shutil.copytree(pristine, root / "churn")
    session, registry = registry_of(root / "churn")
    serving = session.config.get("serving")
    return model_context(registry, "churn@champion", root / "image", serving=serving)


# --- reading a Dockerfile -------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of every instruction, continuation lines joined."""
    found, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, rest = (current + line).strip().partition(" ")
        found.append((keyword.upper(), rest.strip()))
        current = ""
    return found


def runtime_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    steps = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def exec_form(arguments: str) -> list[str]:
    """The argv of an exec-form instruction (its RUN --mount flags left out)."""
    return json.loads(arguments[arguments.index("[") :])


def image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    return dict(
        word.split("=", 1)
        for keyword, rest in stage
        if keyword == "ENV"
        for word in shlex.split(rest)
    )


def labels_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    return dict(
        word.split("=", 1)
        for keyword, rest in stage
        if keyword == "LABEL"
        for word in shlex.split(rest)
    )


def on_this_machine(argument: str, context: BuildContext, scratch: Path) -> str:
    """An image path as the context holds it: /app is the context, /tmp a scratch folder."""
    for prefix, local in (("/app", context.folder), ("/tmp", scratch)):
        if argument == prefix or argument.startswith(prefix + "/"):
            return str(local / argument[len(prefix) :].lstrip("/"))
    return argument


def process_env(
    stage: list[tuple[str, str]], context: BuildContext, scratch: Path
) -> dict[str, str]:
    """This process's environment with the image's ENV over it, paths mapped."""
    env = {key: value for key, value in os.environ.items() if key != "SHIPYARD_ENV"}
    for key, value in image_env(stage).items():
        env[key] = on_this_machine(value, context, scratch)
    return env


def local_command(argv: list[str], context: BuildContext, scratch: Path) -> list[str]:
    head = [sys.executable, "-m", "shipyard"] if argv[0] == "shipyard" else [argv[0]]
    return head + [on_this_machine(argument, context, scratch) for argument in argv[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_docker(folder: Path, *, output: str = "", stderr: str = "", exit_code: int = 0) -> Path:
    """A `docker` executable that records its argv (one JSON line per call) and answers
    with ``output``; its folder goes first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "calls.jsonl"
    script = folder / "docker"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(record)!r}, 'a') as calls:\n"
        "    calls.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"sys.stdout.write({output!r})\n"
        f"sys.stderr.write({stderr!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return record


def calls(record: Path) -> list[list[str]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


# --- the serving image's context ------------------------------------------------------------


def test_the_context_holds_the_bundle_pinned_requirements_and_a_shipyard_wheel(context):
    folder = context.folder
    document = json.loads((folder / "bundle/deploy.json").read_text())
    for name in ("Dockerfile", ".dockerignore", "requirements.txt", "README.md"):
        assert (folder / name).is_file(), name
    assert (folder / "bundle/model/shipyard-model.yaml").is_file()
    assert (folder / "bundle/conf/serving.yml").is_file()
    assert (document["model"], document["version"]) == ("churn", 1)
    wheels = list((folder / "wheels").iterdir())
    assert len(wheels) == 1 and wheels[0].name.startswith("shipyard-")
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
        assert f"Version: {__version__}" in wheel.read(metadata).decode()
    assert "shipyard/deploy/_context.py" in names  # the Shipyard that wrote the context
    pinned = (folder / "requirements.txt").read_text().splitlines()
    pinned = [line for line in pinned if line and not line.startswith("#")]
    assert pinned == [r for r in document["requirements"] if not r.startswith("shipyard==")]
    assert pinned and all("==" in line for line in pinned)
    assert any(line.startswith("scikit-learn==") for line in pinned)
    assert context.image_tag == "churn:1"
    assert context.dockerfile == folder / "Dockerfile"
    assert context.build_command == (
        "docker", "build", "--progress=plain", "--file", str(folder / "Dockerfile"),
        "--tag", "churn:1", str(folder),
    )  # fmt: skip


def test_the_dockerfile_pins_the_python_runs_as_a_user_and_checks_health(context):
    document = json.loads((context.folder / "bundle/deploy.json").read_text())
    steps = instructions(context.dockerfile)
    base = f"python:{document['python']}-slim-bookworm"
    assert [rest for keyword, rest in steps if keyword == "FROM"] == [f"{base} AS builder", base]
    assert len(document["python"].split(".")) == 3  # major.minor.patch
    text = context.dockerfile.read_text()
    assert "--pin-digest is not available offline" in text
    stage = runtime_stage(context.dockerfile)
    keywords = [keyword for keyword, _ in stage]
    assert keywords.count("USER") == 1
    assert dict(stage)["USER"] == "10001:10001"
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert dict(stage)["WORKDIR"] == "/app"
    assert dict(stage)["EXPOSE"] == "8080"
    assert exec_form(dict(stage)["ENTRYPOINT"]) == [
        "shipyard", "serve", "/app/bundle", "--host", "0.0.0.0", "--port", "8080"
    ]  # fmt: skip
    health = exec_form(dict(stage)["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert health[:2] == ["python", "-c"] and "http://127.0.0.1:8080/health" in health[2]
    runs = [exec_form(rest) for keyword, rest in steps if keyword == "RUN"]
    assert ["shipyard", "deploy", "check", "/app/bundle"] in runs
    # every RUN, ENTRYPOINT and HEALTHCHECK is exec form: no shell ever parses them
    for keyword, rest in steps:
        if keyword in {"RUN", "ENTRYPOINT", "CMD"}:
            assert isinstance(exec_form(rest), list), rest
    copied = [rest.split()[0] for keyword, rest in steps if keyword == "COPY"]
    assert sorted(copied) == ["bundle/", "requirements.txt", "wheels/"]
    env = image_env(stage)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["SHIPYARD_LOG_DIR"] == "/app/logs"
    assert "SHIPYARD_CREDENTIALS_FILE" not in env


def test_the_labels_name_the_model_version_run_and_digest(context):
    document = json.loads((context.folder / "bundle/deploy.json").read_text())
    labels = labels_of(runtime_stage(context.dockerfile))
    assert labels == dict(context.labels)
    assert labels["ai.shipyard.model"] == "churn"
    assert labels["ai.shipyard.model.version"] == "1"
    assert labels["org.opencontainers.image.version"] == "1"
    assert labels["ai.shipyard.digest"] == document["digest"]
    assert labels["ai.shipyard.run_id"] == document["run_id"]
    assert labels["org.opencontainers.image.title"] == "churn"
    assert labels["org.opencontainers.image.created"].endswith("+00:00")


def test_no_secret_from_conf_local_reaches_the_context(context):
    for path in context.folder.rglob("*"):
        assert "local" not in path.relative_to(context.folder).parts
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    serving = yaml.safe_load((context.folder / "bundle/conf/serving.yml").read_text())
    assert serving == {"auth_tokens": ["web_app"]}  # named, not valued
    readme = (context.folder / "README.md").read_text()
    assert "`web_app`" in readme and "SHIPYARD_CREDENTIALS_FILE" in readme
    assert "-p 8080:8080" in readme and "/app/logs" in readme and "docker push" in readme


def test_a_literal_secret_in_the_serving_configuration_is_refused(project, tmp_path):
    _, registry = registry_of(project)
    out = tmp_path / "image"
    with pytest.raises(ConfigError, match=r"the serving configuration: api_key") as caught:
        model_context(registry, "churn@champion", out, serving={"api_key": "k-123456"})
    assert "k-123456" not in caught.value.message
    assert "conf/local/credentials.yml" in caught.value.hint
    assert not out.exists()


@pytest.mark.parametrize(
    ("requirements", "named"),
    [
        (["scikit-learn==1.5.2", "numpy"], "'numpy'"),
        (["pandas>=2.0", "scipy==1.13.0"], "'pandas>=2.0'"),
        (["numpy==2.*"], "'numpy==2.*'"),
        (["skops @ https://example.com/skops.whl"], "skops @"),
        (["not a requirement!"], "'not a requirement!'"),
    ],
)
def test_requirements_that_are_not_pinned_are_refused_naming_them(requirements, named):
    with pytest.raises(ConfigError, match="not all pinned") as caught:
        pinned_requirements(requirements, source="churn version 3")
    assert named in caught.value.message and "churn version 3" in caught.value.message
    assert "register the model again" in caught.value.hint.lower()


def test_pinned_requirements_keep_markers_and_leave_shipyard_out():
    assert pinned_requirements(
        ["shipyard==0.1.0", "scikit-learn==1.5.2", 'numpy==2.1.0; python_version >= "3.11"'],
        source="churn",
    ) == ["scikit-learn==1.5.2", 'numpy==2.1.0; python_version >= "3.11"']


@pytest.mark.parametrize(
    ("tag", "named"),
    [
        ("Churn:4", "'Churn' has capital letters"),
        ("churn:", "gives no tag"),
        ("a b", "' '"),
        ("churn:4;rm -rf /", "';'"),
        ("churn:$(id)", "'$'"),
        ("churn:.4", "the tag '.4'"),
        ("-churn", "'-churn'"),
        ("registry:99999/churn", "port '99999'"),
        ("churn@sha256:abc", "digest"),
    ],
)
def test_invalid_tags_are_refused_naming_the_bad_part(tag, named, project, tmp_path):
    with pytest.raises(ConfigError) as caught:
        check_tag(tag)
    assert named in caught.value.message
    _, registry = registry_of(project)
    with pytest.raises(ConfigError, match="is not a valid image name"):
        model_context(registry, "churn@champion", tmp_path / "image", tag=tag)
    assert not (tmp_path / "image").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "tag",
    [
        "churn:4",
        "churn",
        "registry.example.com:5000/ml/churn:4",
        "localhost/churn:latest",
        "ghcr.io/team/churn-model_v2:1.0.0-rc1",
        "churn@sha256:" + "a" * 64,
        "[::1]:5000/churn:1",
    ],
)
def test_valid_tags_are_accepted(tag):
    assert check_tag(tag) == tag


_COMPONENT = st.from_regex(r"[a-z0-9]{1,8}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,8}){0,2}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    domain=st.sampled_from(["", "localhost/", "registry.example.com/", "reg.io:5000/"]),
    path=st.lists(_COMPONENT, min_size=1, max_size=3),
    tag=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)),
)
def test_every_reference_of_the_grammar_is_accepted(domain, path, tag):
    # a first component holding "." names a registry host, as Docker reads it
    assume(domain or len(path) == 1 or "." not in path[0])
    reference = domain + "/".join(path) + (f":{tag}" if tag else "")
    assert check_tag(reference) == reference


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_an_accepted_reference_never_holds_shell_syntax(text):
    try:
        check_tag(text)
    except ConfigError:
        return
    assert not set(text) & set(" \t\n;&|$`'\"()<>*?!#~\\{}")


def test_shell_metacharacters_reach_docker_as_one_argument_and_never_run(
    project, tmp_path, monkeypatch
):
    _, registry = registry_of(project)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "ctx;touch pwned1 && $(touch pwned2) `touch pwned3`"
    built = model_context(registry, "churn@champion", folder, tag="churn:4")
    assert isinstance(built.build_command, tuple)
    assert str(folder) in built.build_command  # verbatim, one argument
    record = fake_docker(tmp_path / "bin", output="#1 building\n#2 done\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    streamed: list[str] = []
    build(built, stream=streamed.append)
    assert calls(record) == [list(built.build_command[1:])]
    assert streamed == ["#1 building", "#2 done"]
    assert not list(tmp_path.rglob("pwned*"))
    assert (folder / "Dockerfile").is_file()


def test_a_failed_build_shows_its_last_lines_and_a_hint(context, tmp_path, monkeypatch):
    fake_docker(
        tmp_path / "bin",
        output="#7 [builder 5/5] RUN pip wheel\n"
        "ERROR: No matching distribution found for numpy==99.0\n",
        exit_code=1,
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    streamed: list[str] = []
    with pytest.raises(DeployError, match="exit code 1") as caught:
        build(context, stream=streamed.append)
    assert "No matching distribution found for numpy==99.0" in caught.value.message
    assert "requirements.txt" in caught.value.hint
    assert len(streamed) == 2


def test_docker_available_says_why_not(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert docker_available() == "no `docker` command on PATH"
    record = fake_docker(
        tmp_path / "down",
        stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?\n",
        exit_code=1,
    )
    monkeypatch.setenv("PATH", str(tmp_path / "down"))
    reason = docker_available()
    assert reason is not None and "not reachable" in reason
    assert "Cannot connect to the Docker daemon" in reason
    assert calls(record) == [["version", "--format", "{{.Server.Version}}"]]
    fake_docker(tmp_path / "up", output="27.3.1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "up"))
    assert docker_available() is None


def test_a_folder_that_is_not_empty_is_kept_unless_forced(project, tmp_path):
    _, registry = registry_of(project)
    out = tmp_path / "image"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty") as caught:
        model_context(registry, "churn@champion", out)
    assert str(out) in caught.value.message and "--force" in caught.value.hint
    assert (out / "keep.txt").read_text() == "mine"
    model_context(registry, "churn@champion", out, force=True)
    assert (out / "Dockerfile").is_file() and not (out / "keep.txt").exists()
    with pytest.raises(ConfigError, match="Refusing to replace"):
        model_context(registry, "churn@champion", project.parent, force=True)
    assert (project / "pyproject.toml").is_file()
    assert not list(tmp_path.glob(".image.*.tmp"))  # no staging folder left behind


def test_an_unknown_model_is_the_registrys_own_error(project, tmp_path):
    _, registry = registry_of(project)
    with pytest.raises(ModelNotFoundError):
        model_context(registry, "churn@nobody", tmp_path / "image")
    with pytest.raises(ModelNotFoundError):
        model_context(registry, "prices:1", tmp_path / "image")
    assert not (tmp_path / "image").exists()


def test_the_image_builds_with_a_docker_engine(context, tmp_path):
    reason = docker_available()
    if reason is not None:
        pytest.skip(f"no Docker engine here: {reason}; the image build was not tested")
    tag = f"shipyard-test-churn:{os.getpid()}"
    command = list(context.build_command)
    command[command.index("--tag") + 1] = tag
    lines: list[str] = []
    build(replace(context, image_tag=tag, build_command=tuple(command)), stream=lines.append)
    inspected = subprocess.run(
        ["docker", "image", "inspect", tag, "--format", "{{json .Config.Labels}}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert (
        json.loads(inspected.stdout)["ai.shipyard.digest"] == context.labels["ai.shipyard.digest"]
    )
    subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True, check=False)


# --- the image's commands, run here ---------------------------------------------------------


def test_the_images_build_time_check_passes_here(context, tmp_path):
    """Every `RUN ["shipyard", ...]` of the Dockerfile (the digest check), with /app
    mapped to the context."""
    steps = instructions(context.dockerfile)
    runs = [exec_form(rest) for keyword, rest in steps if keyword == "RUN"]
    shipyard_runs = [argv for argv in runs if argv[0] == "shipyard"]
    assert shipyard_runs
    for argv in shipyard_runs:
        done = subprocess.run(
            local_command(argv, context, tmp_path),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"


def test_the_images_entrypoint_serves_the_model_here(context, tmp_path):
    """The image's exact ENTRYPOINT and ENV, /app mapped to the context, the credentials
    file mounted as the README says: /ready, /health, a prediction of the bundle's input
    example, the prediction log in SHIPYARD_LOG_DIR, and the HEALTHCHECK command."""
    stage = runtime_stage(context.dockerfile)
    entrypoint = exec_form(dict(stage)["ENTRYPOINT"])
    port = free_port()
    entrypoint[entrypoint.index("--port") + 1] = str(port)
    env = process_env(stage, context, tmp_path)
    credentials = tmp_path / "secrets" / "credentials.yml"
    credentials.parent.mkdir()
    credentials.write_text(f"web_app:\n  token: {SECRET}\n")
    env["SHIPYARD_CREDENTIALS_FILE"] = str(credentials)
    workdir = on_this_machine(dict(stage)["WORKDIR"], context, tmp_path)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        local_command(entrypoint, context, tmp_path),
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    records = json.loads((context.folder / "bundle/model/input_example.json").read_text())
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.25)
        assert httpx.get(f"{url}/health").status_code == 200
        body = {"records": records}
        refused = httpx.post(f"{url}/v1/models/churn/predict", json=body)
        assert refused.status_code == 401
        answer = httpx.post(
            f"{url}/v1/models/churn/predict",
            json=body,
            headers={"authorization": f"Bearer {SECRET}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 1
        assert len(answer.json()["predictions"]) == len(records) > 0
        health = exec_form(dict(stage)["HEALTHCHECK"].split(" CMD ", 1)[1])
        probe = [sys.executable, health[1], health[2].replace(":8080/", f":{port}/")]
        assert subprocess.run(probe, timeout=30, check=False).returncode == 0
        logs = Path(env["SHIPYARD_LOG_DIR"]) / "predictions"
        deadline = time.monotonic() + 20
        while not list(logs.rglob("*.parquet")):
            assert time.monotonic() < deadline, f"no prediction log under {logs}"
            time.sleep(0.25)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    down = [sys.executable, health[1], health[2].replace(":8080/", f":{port}/")]
    assert subprocess.run(down, capture_output=True, timeout=30, check=False).returncode != 0


# --- the pipelines image --------------------------------------------------------------------


def test_the_pipelines_context_holds_the_project_without_local_config_or_data(project, tmp_path):
    session, _ = registry_of(project)
    built = pipeline_context(session, tmp_path / "pipes", pipeline="data_processing")
    folder = built.folder
    held = {path.relative_to(folder).as_posix() for path in folder.rglob("*")}
    assert {"pyproject.toml", "conf/base/catalog.yml", "conf/prod/parameters.yml"} <= held
    assert "src/churn/pipelines/data_processing/nodes.py" in held
    assert not any(
        part in {"local", "data", ".shipyard", ".git", "__pycache__", "notebooks"}
        for path in held
        for part in Path(path).parts
    ), sorted(held)
    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    pinned = [
        line
        for line in (folder / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert all("==" in line for line in pinned)
    versions = dict(line.split("==") for line in pinned)
    for name in ("scikit-learn", "pandas", "numpy", "fastapi"):
        assert versions[name] == installed_version(name), name
    assert not any(line.lower().startswith("shipyard==") for line in pinned)
    stage = runtime_stage(built.dockerfile)
    keywords = [keyword for keyword, _ in stage]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert exec_form(dict(stage)["ENTRYPOINT"]) == [
        "shipyard", "run", "--env", "prod", "--pipeline", "data_processing"
    ]  # fmt: skip
    assert dict(stage)["HEALTHCHECK"] == "NONE"  # a batch job, said explicitly
    assert built.image_tag == "churn-pipelines:0.1.0"
    assert built.labels["ai.shipyard.pipeline"] == "data_processing"
    assert labels_of(stage) == dict(built.labels)


def test_the_pipelines_entrypoint_runs_here(project, tmp_path):
    """The pipelines image's exact entrypoint and ENV in the context (/app mapped): the
    pipeline runs on the copied code and conf/prod, writing into data/."""
    session, _ = registry_of(project)
    built = pipeline_context(session, tmp_path / "pipes", pipeline="data_processing")
    stage = runtime_stage(built.dockerfile)
    env = process_env(stage, built, tmp_path)
    done = subprocess.run(
        local_command(exec_form(dict(stage)["ENTRYPOINT"]), built, tmp_path),
        cwd=on_this_machine(dict(stage)["WORKDIR"], built, tmp_path),
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"data_processing.*\(env\s+prod\)", done.stdout + done.stderr, re.S)
    assert (built.folder / "data/05_model_input/X_train.parquet").is_file()


def test_a_literal_secret_in_the_copied_config_is_refused_naming_the_key(project, tmp_path):
    session, _ = registry_of(project)
    parameters = project / "conf/base/parameters.yml"
    parameters.write_text(parameters.read_text() + "\napi:\n  token: abc-literal-123\n")
    out = tmp_path / "pipes"
    with pytest.raises(ConfigError, match=r"conf/base/parameters\.yml: api\.token") as caught:
        pipeline_context(session, out)
    assert "abc-literal-123" not in caught.value.message
    assert "conf/local/credentials.yml" in caught.value.hint
    assert not out.exists()
    parameters.write_text(
        parameters.read_text().replace("abc-literal-123", "${oc.env:API_TOKEN,none}")
    )
    (project / "conf/prod/credentials.yml").write_text("warehouse:\n  con: sqlite:///x.db\n")
    with pytest.raises(ConfigError, match=r"conf/prod/credentials\.yml: warehouse\.con"):
        pipeline_context(session, out)
    (project / "conf/prod/credentials.yml").write_text(
        "warehouse:\n  con: ${oc.env:WAREHOUSE_URL}\n"
    )
    assert pipeline_context(session, out).dockerfile.is_file()


def test_the_pipelines_image_refuses_local_and_unknown_envs_and_pipelines(project, tmp_path):
    session, _ = registry_of(project)
    with pytest.raises(ConfigError, match="--env local"):
        pipeline_context(session, tmp_path / "a", env="local")
    with pytest.raises(ConfigError, match="'staging'") as caught:
        pipeline_context(session, tmp_path / "a", env="staging")
    assert "prod" in caught.value.hint
    with pytest.raises(PipelineNotFoundError):
        pipeline_context(session, tmp_path / "a", pipeline="nope")
    with pytest.raises(ConfigError, match="inside"):
        pipeline_context(session, project / "src" / "image")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"db": {"password": "hunter2", "user": "ml"}}, ["db.password"]),
        ({"api": {"token": "${oc.env:API_TOKEN}"}}, []),
        ({"auth_tokens": ["web_app"], "salt_credentials": "pii_salt"}, []),
        ({"s3": {"aws_secret_access_key": "AKIA..."}}, ["s3.aws_secret_access_key"]),
        ({"clientSecret": "x1", "apiKey": 12345}, ["clientSecret", "apiKey"]),
        ({"sales": {"con": "postgresql://me:pw@db/shop"}}, ["sales.con (a URL with a password)"]),
        ({"sales": {"con": "postgresql://me:${oc.env:PW}@db/shop"}}, []),
        ({"tokens": {"token": True, "password": ""}}, []),
        ({"password": ["one", "two"]}, ["password[0]", "password[1]"]),
    ],
)
def test_find_secrets(document, expected):
    assert find_secrets(document) == expected


def test_a_credentials_file_counts_every_literal():
    assert find_secrets({"warehouse": {"con": "x", "n": 1}}, every_value=True) == [
        "warehouse.con",
        "warehouse.n",
    ]


def test_environment_requirements_pin_what_is_installed():
    pins = environment_requirements(["pandas", 'tzdata; sys_platform == "win32"'])
    versions = dict(line.split("==") for line in pins)
    assert versions["pandas"] == installed_version("pandas")
    assert versions["numpy"] == installed_version("numpy")  # pandas needs it
    assert "tzdata" not in versions  # a Windows-only requirement, for a Linux image
    with pytest.raises(ConfigError, match="no-such-package-here is not installed"):
        environment_requirements(["pandas", "no-such-package-here"])
    with pytest.raises(ConfigError, match="is installed, not pandas<1"):
        environment_requirements(["pandas<1"])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ci:ghp_token@github.com/acme/churn.git", "https://github.com/acme/churn.git"),
        ("https://github.com/acme/churn.git", "https://github.com/acme/churn.git"),
        ("git@github.com:acme/churn.git", "git@github.com:acme/churn.git"),
        ("ssh://git@host:2222/acme/churn", "ssh://host:2222/acme/churn"),
    ],
)
def test_the_source_label_never_carries_a_remotes_credentials(url, expected):
    assert without_credentials(url) == expected


def test_one_rule_names_secrets_for_every_generator_and_check():
    named = ["password", "db_password", "apiKey", "AWS_SECRET_ACCESS_KEY", "token", "pwd"]
    plain = ["monkey", "keyboard", "tokenizer_path", "user", "passage"]
    assert all(is_secret_name(key) for key in named)
    assert not any(is_secret_name(key) for key in plain)

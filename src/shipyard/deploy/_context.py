"""Docker build contexts: a registered model as an image that serves it, and the project's
pipelines as an image that runs them (docs/deployment.md).

A context is a folder ``docker build`` needs nothing else for::

    Dockerfile          multi-stage: a builder makes wheels of the pinned requirements,
                        the runtime stage installs them without an index, as uid 10001
    .dockerignore
    requirements.txt    pinned ``name==version`` lines, Shipyard itself left out
    wheels/             a wheel of the Shipyard that wrote the context
    bundle/             (model) the verified model bundle: shipyard serve /app/bundle
    pyproject.toml, src/, conf/base/, conf/<env>/    (pipelines) the project's code and config
    README.md           how to build, run and push it

Nothing secret goes in: ``conf/local`` is never copied, the serving configuration names
credentials entries without values, and a configuration file that holds a literal
password, token or key is refused, naming the file and the key. Values that reach the
Dockerfile are JSON (exec-form instructions) or quoted labels, never shell text; the
build command is a list of arguments. A context is written into a temporary sibling
folder and renamed into place, so a failure leaves no half context.

>>> context = model_context(registry, "churn@champion", Path("build/churn"))  # doctest: +SKIP
>>> context.build_command  # doctest: +SKIP
('docker', 'build', '--progress=plain', '--file', '/…/build/churn/Dockerfile', '--tag',
 'churn:4', '/…/build/churn')
"""

from __future__ import annotations

import platform as platforms
import re
import shlex
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.__about__ import __version__
from shipyard.deploy._build import BuildContext, check_tag, shipyard_wheel
from shipyard.deploy._dockerfile import (
    USER_ID,
    base_comment,
    build_command,
    builder_stage,
    comment_lines,
    dockerignore,
    environment_lines,
    exec_form,
    install_stage,
    label_lines,
)
from shipyard.deploy._requirements import (
    environment_requirements,
    pinned_requirements,
    requirements_text,
)
from shipyard.deploy._secrets import find_secrets, refuse_secrets, secrets_in
from shipyard.errors import ConfigError, ProjectError
from shipyard.models._bundle import export_bundle

if TYPE_CHECKING:
    from shipyard.models._bundle import BundleInfo
    from shipyard.models._registry import ModelRegistry
    from shipyard.project import Session

__all__ = [
    "BuildContext",
    "check_tag",
    "model_context",
    "pipeline_context",
    "without_credentials",
]

APP = "/app"
PORT = 8080
BASE_IMAGE = "python:{python}-slim-bookworm"
_PYTHON_VERSION = re.compile(r"\d+\.\d+\.\d+")
_PLATFORM = re.compile(
    r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?(?:,[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?)*"
)
_COPY_IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.py[cod]", "*.egg-info", ".ipynb_checkpoints", ".DS_Store", ".env"
)


# --- the serving image --------------------------------------------------------------------


def model_context(
    registry: ModelRegistry,
    ref: str,
    folder: Path,
    *,
    tag: str | None = None,
    platform: str | None = None,
    serving: Mapping[str, Any] | None = None,
    pii: Mapping[str, str] | None = None,
    force: bool = False,
    base_image: str | None = None,
) -> BuildContext:
    """Write the build context of an image serving the version ``ref`` resolves to now.

    The image runs ``shipyard serve /app/bundle`` on port 8080 on the official slim
    Python image of the version the model was packaged with (``base_image`` replaces
    it), with the model's pinned requirements. ``serving`` is the serving configuration
    to bake in (it may name credentials entries, never hold their values); ``tag``
    defaults to ``MODEL:VERSION``. ``folder`` must be absent or empty unless ``force``.
    """
    tag = check_tag(tag) if tag is not None else None
    base = check_tag(base_image) if base_image is not None else None
    _check_platform(platform)
    folder = Path(folder).absolute()
    root = _project_root(registry.cache)
    _check_folder(folder, force=force, protected=[registry.cache, *_homes(root)])
    record = registry.resolve(ref)
    manifest = registry.manifest(record)
    described = f"{record.model} version {record.version}"
    requirements = pinned_requirements(manifest.requirements, source=described)
    base = base or _python_image(manifest.python, described)
    serving = dict(serving or {})
    refuse_secrets({"the serving configuration": find_secrets(serving)})
    tag = tag or _default_tag(record.model, str(record.version))
    with _staging(folder, force=force) as stage:
        info = export_bundle(
            registry, f"{record.model}:{record.version}", stage / "bundle", serving=serving, pii=pii
        )
        wheel = shipyard_wheel(stage / "wheels")
        labels = _model_labels(info, source=_source_url(root) if root else None)
        _write(stage / "requirements.txt", requirements_text(requirements, described))
        _write(stage / "Dockerfile", _model_dockerfile(info, base, wheel.name, labels))
        _write(stage / ".dockerignore", dockerignore())
        command = build_command(folder, tag, platform)
        _write(stage / "README.md", _model_readme(info, tag, command, serving))
    return BuildContext(folder, folder / "Dockerfile", tag, labels, command)


def _model_labels(info: BundleInfo, *, source: str | None) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.title": info.model,
        "org.opencontainers.image.description": (
            f"{info.model} version {info.version}, served by Shipyard"
        ),
        "org.opencontainers.image.version": str(info.version),
        "org.opencontainers.image.created": _now(),
        "org.opencontainers.image.revision": info.git_commit,
        "org.opencontainers.image.source": source,
        "ai.shipyard.model": info.model,
        "ai.shipyard.model.version": str(info.version),
        "ai.shipyard.run_id": info.run_id,
        "ai.shipyard.digest": info.digest,
        "ai.shipyard.flavor": info.flavor,
        "ai.shipyard.version": __version__,
    }
    return {key: value for key, value in labels.items() if value}


def _model_dockerfile(info: BundleInfo, base: str, wheel: str, labels: Mapping[str, str]) -> str:
    bundle, logs = f"{APP}/bundle", f"{APP}/logs"
    health = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=4)"
    )
    lines = [
        *comment_lines(
            f"Serves {info.model} version {info.version} (digest {info.digest}) with "
            "`shipyard serve`. Written by `shipyard deploy docker`; README.md shows how to "
            "build, run and push it. Needs BuildKit (the default builder since Docker 23)."
        ),
        "#",
        *base_comment(base, f"the Python {info.model} was packaged with"),
        "",
        *builder_stage(base, wheel),
        "",
        "# --- runtime: the wheels installed without an index, the bundle, a non-root user -----",
        f"FROM {base}",
        "",
        *environment_lines(
            (
                "SHIPYARD_LOG_DIR",
                f"{APP}/logs",
                "where the prediction and feedback logs go (mount a volume there to keep them)",
            ),
        ),
        "# SHIPYARD_CREDENTIALS_FILE is left unset: give it at run time, with the path of a",
        "# credentials file mounted from a secret (README.md). Nothing secret is in the image.",
        "",
        *install_stage(wheel),
        "",
        f"WORKDIR {APP}",
        "COPY bundle/ /app/bundle/",
        "# Every file of the model package is checked against its digest while the image is",
        "# built, and again whenever the server loads it.",
        f"RUN {exec_form(['shipyard', 'deploy', 'check', bundle])}",
        "RUN " + exec_form(["install", "-d", "-o", str(USER_ID), "-g", str(USER_ID), logs]),
        "",
        *label_lines(labels),
        "",
        f"USER {USER_ID}:{USER_ID}",
        f'VOLUME ["{APP}/logs"]',
        f"EXPOSE {PORT}",
        "# /health answers 200 while the process runs; /ready once the model is loaded.",
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\",
        f"    CMD {exec_form(['python', '-c', health])}",
        "# Arguments given to `docker run IMAGE ...` are appended, e.g. --workers 2.",
        "ENTRYPOINT "
        + exec_form(["shipyard", "serve", bundle, "--host", "0.0.0.0", "--port", str(PORT)]),
    ]
    return "\n".join(lines) + "\n"


def _model_readme(
    info: BundleInfo, tag: str | None, command: tuple[str, ...], serving: Mapping[str, Any]
) -> str:
    image = tag or f"{info.model}:{info.version}"
    entries = _credential_entries(serving)
    if entries:
        credentials = (
            "The serving configuration names these credentials entries: "
            + ", ".join(f"`{name}`" for name in entries)
            + ". Their values are not in the image: write them in a YAML file like "
            "`conf/local/credentials.yml` (`api: {token: ...}`), mount it read-only and "
            "point `SHIPYARD_CREDENTIALS_FILE` at it:\n\n"
            "```bash\n"
            f"docker run --rm -p {PORT}:{PORT} -v {info.model}-logs:{APP}/logs \\\n"
            '  -v "$PWD/credentials.yml:/run/secrets/shipyard-credentials.yml:ro" \\\n'
            "  -e SHIPYARD_CREDENTIALS_FILE=/run/secrets/shipyard-credentials.yml \\\n"
            f"  {image}\n"
            "```\n"
        )
    else:
        credentials = (
            "The serving configuration names no credentials entries, so the image needs no "
            "secret. If you add `auth_tokens` to it, mount the credentials file and set "
            "`SHIPYARD_CREDENTIALS_FILE` (below).\n"
        )
    return f"""# {info.model} version {info.version}: a serving image

Built from the model bundle in `bundle/` (digest `{info.digest}`, run `{info.run_id}`,
flavor `{info.flavor}`, Python {info.python}), by `shipyard deploy docker`.

## Build

```bash
{shlex.join(command)}
shipyard deploy check {shlex.quote(str(command[-1]))}   # the same checks, without an engine
```

## Run

```bash
docker run --rm -p {PORT}:{PORT} -v {info.model}-logs:{APP}/logs {image}
curl localhost:{PORT}/ready
curl -X POST localhost:{PORT}/v1/models/{info.model}/predict \\
  -H 'content-type: application/json' -d @request.json   # {{"records": [...]}}
```

The container listens on port {PORT} (`/health`, `/ready`, `/metrics`,
`/v1/models/{info.model}/predict`, `/v2/models/{info.model}/infer`) and runs as uid
{USER_ID}. Arguments after the image name are passed to `shipyard serve`
(`--workers 2`, `--log-level debug`).

{credentials}
| environment variable | what it does |
|---|---|
| `SHIPYARD_LOG_DIR` | where the prediction and feedback logs go (`{APP}/logs`, a volume) |
| `SHIPYARD_CREDENTIALS_FILE` | a mounted YAML file of credentials (tokens, PII salt) |
| `PYTHONUNBUFFERED`, `PYTHONDONTWRITEBYTECODE` | set to 1: logs as they happen, no .pyc files |
| `XDG_CACHE_HOME` | `/tmp/shipyard-cache`: Shipyard's caches, writable with a read-only root |

Volume: `{APP}/logs` holds the prediction and feedback logs (Parquet, by model and hour);
mount a named volume or a folder writable by uid {USER_ID} to keep them.

## Push

```bash
docker tag {image} registry.example.com/ml/{image}
docker push registry.example.com/ml/{image}
```

or write the context again with `--tag registry.example.com/ml/{image}` and push that.
`docker inspect` shows the labels `ai.shipyard.run_id` and `ai.shipyard.digest`:
`shipyard runs show RUN_ID` and `shipyard lineage` lead from a running container to the
data and code the model came from.
"""


def _credential_entries(serving: Mapping[str, Any]) -> list[str]:
    """The credentials entries a serving configuration names (tokens, the PII salt)."""
    names = [str(name) for name in serving.get("auth_tokens") or ()]
    pii = serving.get("pii")
    if isinstance(pii, Mapping) and pii.get("salt_credentials"):
        names.append(str(pii["salt_credentials"]))
    return list(dict.fromkeys(names))


# --- the pipelines image ------------------------------------------------------------------


def pipeline_context(
    session: Session,
    folder: Path,
    *,
    pipeline: str = "__default__",
    env: str = "prod",
    tag: str | None = None,
    force: bool = False,
) -> BuildContext:
    """Write the build context of an image that runs ``shipyard run --env ENV --pipeline
    PIPELINE`` on the project of ``session``: its pyproject.toml, src/, conf/base/ and
    conf/ENV/ (never conf/local, data/, .shipyard/ or .git), with its dependencies pinned
    to the versions installed here. A configuration file holding a literal secret is
    refused. ``tag`` defaults to ``PROJECT-pipelines:VERSION``.
    """
    tag = check_tag(tag) if tag is not None else None
    settings = session.settings
    root = settings.project_root.absolute()
    conf = _inside(settings.conf_source.absolute(), root, "the configuration folder")
    _check_env(settings.conf_source, env)
    folder = Path(folder).absolute()
    for source in (root / "src", settings.conf_source.absolute()):
        if folder.is_relative_to(source):
            raise ConfigError(
                f"The build context folder {folder} is inside {source}, which it copies.",
                hint="Write the context outside src/ and conf/, e.g. build/pipelines.",
            )
    _check_folder(folder, force=force, protected=_homes(root))
    session.pipeline(pipeline)  # an unknown name lists the ones that exist
    conf_folders = [settings.conf_source / "base", settings.conf_source / env]
    refuse_secrets(secrets_in(conf_folders, root))
    project = _project_table(root / "pyproject.toml")
    requirements = environment_requirements(
        project.get("dependencies") or (), exclude=[str(project.get("name", ""))]
    )
    python = platforms.python_version()
    base = _python_image(python, "the Python running Shipyard here")
    name = str(project.get("name") or settings.package_name)
    version = str(project.get("version") or "latest")
    tag = tag or _default_tag(f"{name}-pipelines", version)
    source = _source_url(root)
    with _staging(folder, force=force) as stage:
        shutil.copy2(root / "pyproject.toml", stage / "pyproject.toml")
        if (root / "src").is_dir():
            shutil.copytree(root / "src", stage / "src", ignore=_COPY_IGNORED)
        for conf_folder in conf_folders:
            shutil.copytree(conf_folder, stage / conf / conf_folder.name, ignore=_COPY_IGNORED)
        wheel = shipyard_wheel(stage / "wheels")
        labels = {
            "org.opencontainers.image.title": f"{name} pipelines",
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.created": _now(),
            "org.opencontainers.image.revision": _git_commit(root),
            "org.opencontainers.image.source": source,
            "ai.shipyard.project": name,
            "ai.shipyard.pipeline": pipeline,
            "ai.shipyard.env": env,
            "ai.shipyard.version": __version__,
        }
        labels = {key: value for key, value in labels.items() if value}
        entrypoint = ["shipyard", "run", "--env", env, "--pipeline", pipeline]
        writable = [f"{APP}/data", f"{APP}/{_inside(settings.shipyard_dir, root, 'shipyard_dir')}"]
        _write(stage / "requirements.txt", requirements_text(requirements, f"project {name}"))
        _write(
            stage / "Dockerfile",
            _pipeline_dockerfile(
                name,
                base=base,
                wheel=wheel.name,
                conf=conf,
                labels=labels,
                entrypoint=entrypoint,
                writable=writable,
            ),
        )
        _write(stage / ".dockerignore", dockerignore())
        command = build_command(folder, tag, None)
        _write(
            stage / "README.md",
            _pipeline_readme(
                name, tag=tag, command=command, env=env, pipeline=pipeline, writable=writable
            ),
        )
    return BuildContext(folder, folder / "Dockerfile", tag, labels, command)


def _pipeline_dockerfile(
    name: str,
    *,
    base: str,
    wheel: str,
    conf: str,
    labels: Mapping[str, str],
    entrypoint: list[str],
    writable: list[str],
) -> str:
    lines = [
        *comment_lines(
            f"Runs the pipelines of {name}: {shlex.join(entrypoint)}. Written by `shipyard "
            "deploy docker --pipeline`; README.md shows how to build and run it. Needs "
            "BuildKit (the default builder since Docker 23)."
        ),
        "#",
        *base_comment(base, "the Python whose installed versions requirements.txt pins"),
        "",
        *builder_stage(base, wheel),
        "",
        "# --- runtime: the wheels installed without an index, the project, a non-root user ---",
        f"FROM {base}",
        "",
        *environment_lines(),
        "# SHIPYARD_DB (the team's metadata store) and credentials are given at run time;",
        "# nothing secret is in the image (README.md).",
        "",
        *install_stage(wheel),
        "",
        f"WORKDIR {APP}",
        "COPY pyproject.toml /app/pyproject.toml",
        "COPY src/ /app/src/",
        f"COPY {conf}/ /app/{conf}/",
        "# The run writes its data and its metadata store here: mount volumes to keep them.",
        f"RUN {exec_form(['install', '-d', '-o', str(USER_ID), '-g', str(USER_ID), *writable])}",
        "",
        *label_lines(labels),
        "",
        f"USER {USER_ID}:{USER_ID}",
        f"VOLUME {exec_form(writable)}",
        "# A run ends when its pipeline does: there is no endpoint to probe.",
        "HEALTHCHECK NONE",
        "# Arguments given to `docker run IMAGE ...` are appended, e.g. --params model.C=0.5.",
        f"ENTRYPOINT {exec_form(entrypoint)}",
    ]
    return "\n".join(lines) + "\n"


def _pipeline_readme(
    name: str,
    *,
    tag: str | None,
    command: tuple[str, ...],
    env: str,
    pipeline: str,
    writable: list[str],
) -> str:
    image = tag or f"{name}-pipelines:latest"
    mounts = " ".join(f'-v "$PWD/{path.removeprefix(APP + "/")}:{path}"' for path in writable)
    return f"""# {name}: the pipelines image

Runs `shipyard run --env {env} --pipeline {pipeline}` on the project's code and its
`conf/base` and `conf/{env}` configuration. `conf/local` (this machine's credentials),
`data/` and the metadata store are not in the image.

## Build

```bash
{shlex.join(command)}
```

## Run

```bash
docker run --rm {mounts} {image}
docker run --rm {mounts} {image} --params model.C=0.5      # arguments are appended
docker run --rm --entrypoint shipyard {image} monitor MODEL --once   # the monitor
```

The container runs as uid {USER_ID}: mounted folders must be writable by it (or add
`--user "$(id -u):$(id -g)"`).

| environment variable | what it does |
|---|---|
| `SHIPYARD_DB` | the team's metadata store (PostgreSQL URL); default: in the volume |
| `PYTHONUNBUFFERED`, `PYTHONDONTWRITEBYTECODE` | set to 1: logs as they happen, no .pyc files |
| `XDG_CACHE_HOME` | `/tmp/shipyard-cache`: Shipyard's caches, writable with a read-only root |

**Credentials** the catalog names are read from `conf/{env}/credentials.yml`: mount the
file there read-only (`-v "$PWD/credentials.yml:{APP}/conf/{env}/credentials.yml:ro"`), or
write it with `${{oc.env:VAR}}` values and pass the variables with `-e`.

## Push

```bash
docker tag {image} registry.example.com/ml/{image}
docker push registry.example.com/ml/{image}
```
"""


# --- checks and the folder ----------------------------------------------------------------


def _check_platform(platform: str | None) -> None:
    if platform is not None and not _PLATFORM.fullmatch(platform):
        raise ConfigError(
            f"{platform!r} is not a platform Docker understands.",
            hint="Give OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64 (comma-separated "
            "for several).",
        )


def _python_image(python: str, what: str) -> str:
    if not _PYTHON_VERSION.fullmatch(python):
        raise ConfigError(
            f"{what} is Python {python!r}, which has no official python:X.Y.Z-slim image.",
            hint="Give the base image explicitly (base_image='python:3.11.9-slim-bookworm').",
        )
    return BASE_IMAGE.format(python=python)


def _default_tag(name: str, version: str) -> str | None:
    candidate = f"{name.lower()}:{version}"
    try:
        return check_tag(candidate)
    except ConfigError:
        return None


def _check_env(conf_source: Path, env: str) -> None:
    if env in {"local", "base"}:
        raise ConfigError(
            f"An image cannot run with --env {env}: conf/{env} "
            + (
                "holds this machine's credentials and is never copied into an image."
                if env == "local"
                else "is always read; the run environment goes over it."
            ),
            hint="Run the image in an environment of its own, e.g. --env prod (conf/prod).",
        )
    if not (conf_source / env).is_dir():
        known = sorted(
            child.name
            for child in conf_source.iterdir()
            if child.is_dir() and child.name not in {"base", "local"}
        )
        raise ConfigError(
            f"There is no configuration environment {env!r}: {conf_source / env} does not exist.",
            hint=f"Create it (it may be empty) or pick one of: {', '.join(known) or 'none'}.",
        )


def _check_folder(folder: Path, *, force: bool, protected: Iterable[Path]) -> None:
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"Cannot write the build context into {folder}: it is a file.",
            hint="Give a new or empty folder.",
        )
    if folder.is_dir() and any(folder.iterdir()):
        if not force:
            raise ConfigError(
                f"Cannot write the build context into {folder}: it exists and is not empty.",
                hint="Give a new or empty folder, or pass --force to replace what it holds.",
            )
        for path in protected:
            if path.absolute().is_relative_to(folder):
                raise ConfigError(
                    f"Refusing to replace {folder}: it holds {path}.",
                    hint="Write the context into a folder of its own, e.g. build/churn.",
                )


def _homes(root: Path | None) -> list[Path]:
    """Folders a forced context must never replace: the project, the current folder, home."""
    return [path for path in (root, Path.cwd(), Path.home()) if path is not None]


@contextmanager
def _staging(folder: Path, *, force: bool) -> Iterator[Path]:
    """A temporary sibling of ``folder`` to write into, renamed into place at the end (an
    older context is removed only then, with ``force``); removed on any failure."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        yield stage
        _readable(stage)
        if folder.is_dir():
            if force:
                shutil.rmtree(folder)
            else:
                folder.rmdir()  # empty: checked before
        stage.rename(folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _readable(root: Path) -> None:
    """Folders 755 and files 644: the image's non-root user reads what COPY puts there,
    whatever the umask was when the context was written."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _inside(path: Path, root: Path, what: str) -> str:
    try:
        return path.absolute().relative_to(root).as_posix()
    except ValueError:
        raise ConfigError(
            f"{what} {path} is outside the project {root}, so it cannot go in the image.",
            hint="Keep conf_source and shipyard_dir inside the project folder.",
        ) from None


def _project_root(cache: Path) -> Path | None:
    from shipyard.settings import find_project_root

    try:
        return find_project_root(Path(cache))
    except ProjectError:
        return None


def _project_table(pyproject: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{pyproject} cannot be read: {exc}") from exc
    project = document.get("project")
    return dict(project) if isinstance(project, Mapping) else {}


def _git_commit(root: Path) -> str | None:
    from shipyard.tracking._capture import capture_git

    return capture_git(root).commit


def _source_url(root: Path) -> str | None:
    """The project's ``origin`` remote (for the source label), credentials removed."""
    from shipyard.tracking._capture import _git, _in_work_tree

    if not _in_work_tree(root):
        return None
    url = _git(root, "remote", "get-url", "origin")
    return without_credentials(url) if url else None


def without_credentials(url: str) -> str:
    """``url`` without the user name and password or token a remote URL may carry.

    >>> without_credentials("https://ci:ghp_secret@github.com/acme/churn.git")
    'https://github.com/acme/churn.git'
    """
    from urllib.parse import urlsplit, urlunsplit

    with suppress(ValueError):
        parts = urlsplit(url)
        if parts.scheme and "@" in parts.netloc:
            return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

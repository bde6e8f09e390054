"""Checks of compose files and Kubernetes manifests: the mistakes that only show when a
stack starts (a selector that matches no pod, an autoscaler aimed at a missing
Deployment, a healthcheck run by a shell, a password written in clear)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shipyard.deploy._rules import Found, cron_problem, image_problem, image_unpinned
from shipyard.deploy._secrets import is_interpolated, is_secret_name

__all__ = ["check_compose", "check_kubernetes"]

_COMPOSE_PORT = re.compile(
    r"(?:(?:[0-9.]+|\[[0-9a-fA-F:]+\]):)?(?:(?P<host>\d+(?:-\d+)?)?:)?"
    r"(?P<container>\d+(?:-\d+)?)(?:/(?:tcp|udp|sctp))?"
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


def check_compose(path: Path, rel: str, documents: list[Any], found: Found) -> None:
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


def _check_compose_port(rel: str, where: str, port: Any, found: Found) -> None:
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


def _check_healthcheck(rel: str, where: str, healthcheck: Any, found: Found) -> None:
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


def _check_environment(rel: str, where: str, environment: Any, found: Found) -> None:
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


def _check_env_files(base: Path, rel: str, where: str, env_file: Any, found: Found) -> None:
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


def check_kubernetes(manifests: list[tuple[str, int, Any]], found: Found) -> None:
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


def _check_deployment(rel: str, where: str, doc: dict, pods: dict, found: Found) -> None:
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


def _check_service(rel: str, where: str, doc: dict, pods: dict, found: Found) -> None:
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


def _check_hpa(rel: str, where: str, doc: dict, pods: dict, found: Found) -> None:
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


def _check_cronjob(rel: str, where: str, doc: dict, pods: dict, found: Found) -> None:
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


def _check_data(rel: str, where: str, doc: dict, pods: dict, found: Found) -> None:
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


def _check_pod(rel: str, where: str, pod: Any, found: Found, *, serving: bool) -> None:
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


def _check_probes(rel: str, at: str, container: dict, found: Found, *, serving: bool) -> None:
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

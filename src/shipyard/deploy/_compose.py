"""A docker-compose stack for a team: the endpoint, the monitoring scheduler, PostgreSQL
for the metadata store and MinIO as the S3-compatible object store.

``docker-compose.yml`` holds no secret. The endpoint's named secrets (``secret_env``)
come from ``secrets.env`` through ``env_file``; the database and object-store passwords
are ``${VAR:?...}`` interpolations, so compose refuses to start until they are set
(``docker compose --env-file secrets.env up -d``). Beside the stack,
``secrets.env.example`` lists every name with an empty value.

Every service restarts unless stopped, and each has a healthcheck as an exec-form list:
the endpoint's calls ``/health`` with Python's ``urllib`` (its image has Python, not
curl). The endpoint gets 40 s to stop, since it drains requests for up to 30 s after
SIGTERM; its prediction logs live on a named volume that the monitor reads, read-only,
where the project's catalog looks for them (``data/09_logs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipyard.deploy._k8s import (
    LOGS_PATH,
    MONITOR_LOGS_PATH,
    dump_yaml,
    secrets_example,
    validate_spec,
    write_files,
)
from shipyard.deploy._spec import DeploySpec

__all__ = ["COMPOSE_FILE", "MINIO_IMAGE", "POSTGRES_IMAGE", "compose_documents", "write_compose"]

COMPOSE_FILE = "docker-compose.yml"
SECRETS_FILE = "secrets.env"
#: Pinned, so that a stack started next year runs the same servers.
POSTGRES_IMAGE = "postgres:16.4-bookworm"
MINIO_IMAGE = "minio/minio:RELEASE.2024-12-18T13-15-44Z"
_DB_USER = _DB_NAME = "shipyard"
# Read by compose itself (interpolation), so they must be set when it starts.
_STACK_SECRETS = ("POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")


def _required(variable: str) -> str:
    # Compose stops with this message when the variable is unset or empty.
    message = f"set {variable} in {SECRETS_FILE}, then docker compose --env-file {SECRETS_FILE}"
    return f"${{{variable}:?{message}}}"


def _literal(value: str) -> str:
    # Compose interpolates $ in every value; $$ is a literal dollar.
    return value.replace("$", "$$")


def compose_documents(spec: DeploySpec) -> dict[str, Any]:
    """The ``docker-compose.yml`` mapping for ``spec``. :class:`ConfigError` if the spec
    is not usable (see :func:`~shipyard.deploy._k8s.validate_spec`)."""
    validate_spec(spec)
    services = {"endpoint": _endpoint(spec)}
    if spec.pipeline_image:
        services["monitor"] = _monitor(spec)
    services["postgres"] = _postgres()
    services["minio"] = _minio()
    return {
        "name": spec.name,
        "services": services,
        "volumes": {"logs": {}, "postgres-data": {}, "minio-data": {}},
    }


def _environment(spec: DeploySpec) -> dict[str, str]:
    return {key: _literal(value) for key, value in spec.env.items()}


def _endpoint(spec: DeploySpec) -> dict[str, Any]:
    url = f"http://127.0.0.1:{spec.port}/health"
    probe = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=4)"
    service: dict[str, Any] = {
        "image": spec.image,
        "restart": "unless-stopped",
        "ports": [f"{spec.port}:{spec.port}"],
        "environment": {**_environment(spec), "SHIPYARD_LOG_DIR": LOGS_PATH},
    }
    if spec.secret_env:
        service["env_file"] = [SECRETS_FILE]
    service |= {
        "healthcheck": {
            "test": ["CMD", "python", "-c", probe],
            "interval": "10s",
            "timeout": "5s",
            "retries": 3,
            "start_period": "60s",
        },
        "stop_grace_period": "40s",
        "read_only": True,
        "tmpfs": ["/tmp"],
        "security_opt": ["no-new-privileges:true"],
        "volumes": [f"logs:{LOGS_PATH}"],
    }
    return service


def _monitor(spec: DeploySpec) -> dict[str, Any]:
    password = _required("POSTGRES_PASSWORD")
    service: dict[str, Any] = {
        "image": spec.pipeline_image,
        "restart": "unless-stopped",
        # entrypoint, not command: the pipelines image's entrypoint is `shipyard run`, and
        # compose appends a command to it.
        "entrypoint": ["shipyard", "monitor", spec.model_ref.strip(), "--watch"],
        "depends_on": {
            "postgres": {"condition": "service_healthy"},
            "minio": {"condition": "service_healthy"},
        },
        "environment": {
            **_environment(spec),
            "SHIPYARD_DB": f"postgresql+psycopg://{_DB_USER}:{password}@postgres:5432/{_DB_NAME}",
            "AWS_ACCESS_KEY_ID": _required("MINIO_ROOT_USER"),
            "AWS_SECRET_ACCESS_KEY": _required("MINIO_ROOT_PASSWORD"),
            "AWS_ENDPOINT_URL": "http://minio:9000",
        },
    }
    if spec.secret_env:
        service["env_file"] = [SECRETS_FILE]
    service["volumes"] = [f"logs:{MONITOR_LOGS_PATH}:ro"]
    return service


def _postgres() -> dict[str, Any]:
    return {
        "image": POSTGRES_IMAGE,
        "restart": "unless-stopped",
        "environment": {
            "POSTGRES_USER": _DB_USER,
            "POSTGRES_DB": _DB_NAME,
            "POSTGRES_PASSWORD": _required("POSTGRES_PASSWORD"),
        },
        # Published on this machine only: open it wider through your own network policy.
        "ports": ["127.0.0.1:5432:5432"],
        "healthcheck": {
            "test": ["CMD", "pg_isready", "--username", _DB_USER, "--dbname", _DB_NAME],
            "interval": "5s",
            "timeout": "5s",
            "retries": 10,
        },
        "volumes": ["postgres-data:/var/lib/postgresql/data"],
    }


def _minio() -> dict[str, Any]:
    return {
        "image": MINIO_IMAGE,
        "restart": "unless-stopped",
        "command": ["server", "/data", "--console-address", ":9001"],
        "environment": {
            "MINIO_ROOT_USER": _required("MINIO_ROOT_USER"),
            "MINIO_ROOT_PASSWORD": _required("MINIO_ROOT_PASSWORD"),
        },
        "ports": ["127.0.0.1:9000:9000", "127.0.0.1:9001:9001"],
        "healthcheck": {
            "test": ["CMD", "mc", "ready", "local"],
            "interval": "5s",
            "timeout": "5s",
            "retries": 10,
        },
        "volumes": ["minio-data:/data"],
    }


def write_compose(spec: DeploySpec, folder: Path, *, force: bool = False) -> list[Path]:
    """Write ``docker-compose.yml`` and ``secrets.env.example`` into ``folder``; returns
    the paths written.

    A non-empty ``folder`` is refused unless ``force``, which replaces the generated files
    and leaves any other file (such as a filled-in ``secrets.env``) alone.
    """
    documents = compose_documents(spec)
    text = dump_yaml(documents)
    names = tuple(dict.fromkeys((*_STACK_SECRETS, *spec.secret_env)))
    usage = f"docker compose --env-file {SECRETS_FILE} up -d"
    notes = (
        "POSTGRES_PASSWORD goes into a URL: use letters and digits only.",
        "MINIO_ROOT_PASSWORD needs 8 characters or more.",
    )
    example = secrets_example(spec, names, usage, notes=notes)
    files = {COMPOSE_FILE: text, f"{SECRETS_FILE}.example": example}
    return write_files(folder, files, owned=files, force=force)

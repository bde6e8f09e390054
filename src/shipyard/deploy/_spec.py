"""What a deployment is made of, whatever it is written for (Docker, compose, Kubernetes).

A :class:`DeploySpec` is plain data: the generators turn it into files, and nothing in it
is a secret. Secrets are *named* (``secret_env``: environment variables a Kubernetes
Secret or a compose env file provides at run time), never valued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DeploySpec", "Resources"]


@dataclass(frozen=True)
class Resources:
    """CPU and memory a container asks for and may use (Kubernetes quantities)."""

    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"


@dataclass(frozen=True)
class DeploySpec:
    """One served model and the jobs around it.

    ``name`` is a DNS-1123 label (``churn``); ``image`` serves the model (``shipyard
    serve /app/bundle``), ``pipeline_image`` holds the project and runs its pipelines and
    ``shipyard monitor`` (None: no monitoring job). ``model_ref`` is what the monitor
    checks (``churn@champion``).
    """

    name: str
    image: str
    model_ref: str
    model_version: int
    port: int = 8080
    replicas: int = 2
    min_replicas: int = 2
    max_replicas: int = 6
    target_cpu_percent: int = 70
    resources: Resources = field(default_factory=Resources)
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: tuple[str, ...] = ()
    pipeline_image: str | None = None
    monitor_schedule: str = "0 * * * *"
    labels: Mapping[str, str] = field(default_factory=dict)

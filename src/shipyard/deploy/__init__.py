"""Deployment: a registered model as a Docker image serving it, the project's pipelines
as an image running them, and compose and Kubernetes manifests around them
(docs/deployment.md). Nothing here needs a Docker engine except :func:`build`.

::

    context = model_context(registry, "churn@champion", Path("build/churn"), tag="churn:4")
    context.build_command     # ('docker', 'build', '--tag', 'churn:4', ...)
    write_k8s(spec, Path("deploy/k8s"))
    check_folder(Path("deploy/k8s")).ok

Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:
    from shipyard.deploy._build import build, docker_available
    from shipyard.deploy._check import CheckReport, Problem, check_folder
    from shipyard.deploy._compose import compose_documents, write_compose
    from shipyard.deploy._context import (
        BuildContext,
        check_tag,
        model_context,
        pipeline_context,
    )
    from shipyard.deploy._k8s import k8s_documents, write_k8s
    from shipyard.deploy._spec import DeploySpec, Resources

__all__ = [
    "BuildContext",
    "CheckReport",
    "DeploySpec",
    "Problem",
    "Resources",
    "build",
    "check_folder",
    "check_tag",
    "compose_documents",
    "docker_available",
    "k8s_documents",
    "model_context",
    "pipeline_context",
    "write_compose",
    "write_k8s",
]

_LAZY = {
    "BuildContext": "shipyard.deploy._context",
    "CheckReport": "shipyard.deploy._check",
    "DeploySpec": "shipyard.deploy._spec",
    "Problem": "shipyard.deploy._check",
    "Resources": "shipyard.deploy._spec",
    "build": "shipyard.deploy._build",
    "check_folder": "shipyard.deploy._check",
    "check_tag": "shipyard.deploy._context",
    "compose_documents": "shipyard.deploy._compose",
    "docker_available": "shipyard.deploy._build",
    "k8s_documents": "shipyard.deploy._k8s",
    "model_context": "shipyard.deploy._context",
    "pipeline_context": "shipyard.deploy._context",
    "write_compose": "shipyard.deploy._compose",
    "write_k8s": "shipyard.deploy._k8s",
}

__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)

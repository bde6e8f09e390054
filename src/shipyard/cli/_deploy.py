"""``shipyard deploy``: a registered model as a Docker image, a compose stack, or
Kubernetes manifests; ``check`` validates what they generated, without an engine."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._options import EnvOption, command_group
from shipyard.cli._output import say

__all__ = ["app"]

app = command_group(
    "Package a registered model (or the project's pipelines) as a Docker image, and "
    "write docker-compose and Kubernetes manifests for it (docs/deployment.md)."
)

ModelArgument = Annotated[
    str,
    typer.Argument(
        metavar="MODEL",
        help="The registered model: churn@champion, models:/churn@champion, churn:4.",
        show_default=False,
    ),
]
ImageOption = Annotated[
    str | None,
    typer.Option(
        "--image", help="The endpoint's image. Default: MODEL:VERSION.", show_default=False
    ),
]
PipelineImageOption = Annotated[
    str | None,
    typer.Option(
        "--pipeline-image",
        help="The project's image, for the monitoring job. Default: NAME-pipelines:VERSION.",
        show_default=False,
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Write into DIR even when it is not empty.")
]


@app.command("docker")
def docker(
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="[MODEL]",
            help="The model to serve (churn@champion); leave out with --pipeline.",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            "-t",
            help="The image's name and tag: churn:4, "
            "registry.example.com/ml/churn:4. Default: MODEL:VERSION.",
            show_default=False,
        ),
    ] = None,
    context_only: Annotated[
        Path | None,
        typer.Option(
            "--context-only",
            metavar="DIR",
            help="Write the build context into DIR and do not build.",
            show_default=False,
        ),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option("--platform", help="Target platform, e.g. linux/amd64.", show_default=False),
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline",
            "-p",
            metavar="NAME",
            help="Build the project's pipelines image instead (entrypoint "
            "`shipyard run --pipeline NAME`).",
            show_default=False,
        ),
    ] = None,
    run_env: Annotated[
        str,
        typer.Option(
            "--run-env",
            metavar="ENV",
            help="With --pipeline: the configuration environment the image runs in.",
        ),
    ] = "prod",
    force: ForceOption = False,
    env: EnvOption = None,
) -> None:
    """Build a Docker image serving MODEL, or running the project's pipelines.

    The context (Dockerfile, pinned requirements, the verified model bundle, a README)
    is written to --context-only DIR, or to a temporary folder that is built with the
    Docker engine when one answers. Without an engine, the context is kept and the exact
    `docker build` command is printed.
    """
    import tempfile

    from shipyard.deploy import build, docker_available, model_context, pipeline_context
    from shipyard.project import Session

    if (model is None) == (pipeline is None):
        raise typer.BadParameter("give a MODEL to serve, or --pipeline NAME (not both).")
    session = Session.open(env=env)
    folder = context_only or Path(tempfile.mkdtemp(prefix="shipyard-image-"))
    if pipeline is not None:
        context = pipeline_context(
            session, folder, pipeline=pipeline, env=run_env, tag=tag, force=force
        )
    else:
        from shipyard.models import ModelRegistry

        registry = ModelRegistry.for_session(session)
        context = model_context(
            registry,
            model,
            folder,
            tag=tag,
            platform=platform,
            serving=session.config.get("serving"),
            force=force,
        )
    command = shlex.join(context.build_command)
    say(f"build context: {context.folder}")
    if context_only is not None:
        say(f"build it with:\n  {command}")
        return
    reason = docker_available()
    if reason is not None:
        say(
            f"[yellow]No Docker engine here ({reason}).[/yellow] The context is ready; "
            f"build it where Docker runs with:\n  {command}"
        )
        return
    build(context, stream=lambda line: say(f"  {line}"))
    say(f"[green]built[/green] {context.image_tag}")


@app.command("compose")
def compose(
    model: ModelArgument,
    folder: Annotated[Path, typer.Argument(metavar="[DIR]", help="Where to write.")] = Path(
        "deploy/compose"
    ),
    image: ImageOption = None,
    pipeline_image: PipelineImageOption = None,
    force: ForceOption = False,
    env: EnvOption = None,
) -> None:
    """Write docker-compose.yml: the endpoint, the monitor scheduler, PostgreSQL for the
    metadata and an S3-compatible object store."""
    from shipyard.deploy import write_compose

    written = write_compose(_spec(model, image, pipeline_image, env), folder, force=force)
    for path in written:
        say(f"wrote {path}")
    say(
        f"fill in {folder / 'secrets.env'} (from secrets.env.example), then start it with:\n"
        f"  docker compose -f {folder / 'docker-compose.yml'} --env-file "
        f"{folder / 'secrets.env'} up -d"
    )


@app.command("k8s")
def k8s(
    model: ModelArgument,
    folder: Annotated[Path, typer.Argument(metavar="[DIR]", help="Where to write.")] = Path(
        "deploy/k8s"
    ),
    image: ImageOption = None,
    pipeline_image: PipelineImageOption = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="The Kubernetes namespace.", show_default=False),
    ] = None,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="Pods to start with.")] = 2,
    force: ForceOption = False,
    env: EnvOption = None,
) -> None:
    """Write Kubernetes manifests: Deployment, Service, HorizontalPodAutoscaler,
    ConfigMap, and a CronJob running `shipyard monitor MODEL --once`."""
    from dataclasses import replace

    from shipyard.deploy import write_k8s

    spec = replace(
        _spec(model, image, pipeline_image, env), replicas=replicas, min_replicas=min(replicas, 2)
    )
    for path in write_k8s(spec, folder, namespace=namespace, force=force):
        say(f"wrote {path}")
    say(f"apply them with: kubectl apply -f {folder}")


@app.command("check")
def check(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            help="A build context, a bundle, or a folder of compose or Kubernetes files.",
        ),
    ],
) -> None:
    """Validate generated files without an engine: the Dockerfile, every file it copies,
    compose and Kubernetes YAML, and a bundle's digests. Exits 1 on any error."""
    from shipyard.deploy import check_folder

    report = check_folder(folder)
    for problem in report.problems:
        colour = "red" if problem.severity == "error" else "yellow"
        say(
            f"[{colour}]{problem.severity}[/{colour}] {problem.file} {problem.where}: "
            f"{problem.message}"
        )
    say(f"checked: {', '.join(report.checked) or 'nothing'}")
    if not report.ok:
        raise typer.Exit(1)
    say(f"[green]ok[/green] {folder}")


def _spec(model: str, image: str | None, pipeline_image: str | None, env: str | None):
    """The deployment of MODEL as it resolves now."""
    from shipyard.deploy import DeploySpec
    from shipyard.models import ModelRegistry

    registry = ModelRegistry.for_project(env=env)
    record = registry.resolve(model)
    name = record.model.replace("_", "-").replace(".", "-")
    return DeploySpec(
        name=name,
        image=image or f"{name}:{record.version}",
        model_ref=model,
        model_version=record.version,
        pipeline_image=pipeline_image or f"{name}-pipelines:{record.version}",
    )

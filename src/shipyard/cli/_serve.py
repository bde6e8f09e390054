"""``shipyard serve``: a registered model as an HTTP inference endpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._options import EnvOption

__all__ = ["serve"]


def serve(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL",
            help="The model to serve: models:/churn@champion, churn:3, or churn (the newest "
            "version). An alias or a bare name is watched: when it moves, the new version "
            "is swapped in without a restart. A bundle folder (what `shipyard deploy "
            "docker` puts in an image) is served without a project.",
            show_default=False,
        ),
    ],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[
        int,
        typer.Option("--workers", "-w", min=1, help="Worker processes; each loads the model once."),
    ] = 1,
    log_level: Annotated[
        str, typer.Option("--log-level", metavar="LEVEL", help="debug, info, warning or error.")
    ] = "info",
    env: EnvOption = None,
) -> None:
    """Serve MODEL over HTTP until Ctrl-C or SIGTERM (requests in flight finish first).

    POST /v1/models/NAME/predict takes JSON ({"records": [...]} or {"columns": [...],
    "data": [...]}), CSV or Parquet; /v2/models/NAME/infer speaks the Open Inference
    Protocol; POST /v1/feedback records ground truth. /health, /ready, /metrics
    (Prometheus) and /docs (OpenAPI) are there too. Limits, logs, CORS and tokens are
    set in conf/base/serving.yml (docs/serving.md).
    """
    from shipyard.serving._run import serve as run_server

    run_server(model, host=host, port=port, workers=workers, env=env, log_level=log_level)

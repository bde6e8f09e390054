"""``shipyard predict MODEL --input FILE --output FILE``: batch prediction of a file.

The rows of a Parquet or CSV file (or of a catalog dataset stored in one) are predicted
chunk by chunk with a registered model and written, with the prediction column(s) and the
keys feedback joins on (``request_id``, ``row``, ``model_version``), to a new file. Each
call is a tracked run named ``predict`` (``shipyard runs show``), whose lineage links the
model version and the input to the output (``shipyard lineage OUTPUT``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._options import EnvOption, JsonOption, QuietOption
from shipyard.cli._output import emit_json, say

__all__ = ["predict"]


def predict(
    model: Annotated[
        str,
        typer.Argument(
            help="The model: models:/churn@champion, churn@champion, churn:3 or churn "
            "(the newest version).",
            metavar="MODEL",
        ),
    ],
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            metavar="FILE",
            help="The rows to predict: a .parquet or .csv file, or a catalog dataset name.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write the predictions: a .parquet or .csv file in a folder that "
            "exists; an existing file is replaced only when every row is predicted.",
            show_default=False,
        ),
    ],
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size", min=1, metavar="ROWS", help="Rows read and predicted at a time."
        ),
    ] = 100_000,
    env: EnvOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Predict every row of a file with a registered model and write the input's columns,
    the prediction column(s), request_id, row and model_version to another file. Each
    chunk is checked against the model's signature first; on any error nothing is
    written. The call is tracked as a run named `predict`."""
    from shipyard.serving._batch import predict_file

    result = predict_file(
        model, input_path, output, chunk_size=chunk_size, env=env, progress=not (quiet or as_json)
    )
    if as_json:
        emit_json("prediction", result.to_dict())
        return
    say(
        f"[green]✓[/green] Predicted {result.rows:,} rows with [bold]{result.model}[/] "
        f"version {result.version} in {result.seconds:.2f} s ({result.rows_per_s:,.0f} "
        f"rows/s) → {result.output}"
    )
    say(f"  run {result.run_id}: `shipyard runs show {result.run_id}`")

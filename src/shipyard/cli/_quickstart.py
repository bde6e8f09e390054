"""``shipyard quickstart``: the blueprint so far, end to end, on the embedded defaults.

Each stage is a small function over a shared context, so later capabilities add
stages (monitor, deploy) without touching the ones before them.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import QuietOption
from shipyard.cli._output import print_table, say

if TYPE_CHECKING:
    from shipyard.project import Session

__all__ = ["quickstart"]


@dataclass
class _Context:
    root: Path
    quiet: bool
    session: Session | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def quickstart(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Where to create the project (must be empty or absent). Default: a new "
            "temporary folder, printed at the start.",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Create the example churn project and run the blueprint on it, end to end."""
    root = directory or Path(tempfile.mkdtemp(prefix="shipyard-quickstart-"))
    context = _Context(root=root.resolve(), quiet=quiet)
    say(f"Shipyard quickstart in [bold]{context.root}[/bold]")
    started = time.perf_counter()
    for number, (title, stage) in enumerate(_STAGES, start=1):
        say(f"\n[bold cyan]{number}/{len(_STAGES)}[/bold cyan] {title}")
        stage_started = time.perf_counter()
        stage(context)
        say(f"  [dim]done in {time.perf_counter() - stage_started:.1f}s[/dim]")
    say(f"\n[green]✓[/green] Quickstart finished in {time.perf_counter() - started:.1f}s.")
    _next_steps(context)


def _create_project(context: _Context) -> None:
    from shipyard.lab import create_project

    project = create_project(context.root, name="churn")
    git = "a git repository with a first commit" if project.git_initialised else "no git"
    say(f"  project '{project.package_name}' from the template, {git}")


def _run_pipelines(context: _Context) -> None:
    from shipyard.cli._run import run_session
    from shipyard.project import Session, configure_logging, default_logging_config

    session = Session.open(context.root)
    configure_logging(
        session.config.logging_config() or default_logging_config(session.settings.package_name),
        quiet=context.quiet,
    )
    result = run_session(session, "__default__", quiet=context.quiet)
    context.session = session
    context.facts["first_run_s"] = result.duration_s
    say(
        f"  ran {len(result.completed)} nodes of data_processing + training "
        f"in {result.duration_s:.2f}s (run {result.run_id}); every dataset they wrote is "
        "now a version in .shipyard/"
    )


def _rerun_from_cache(context: _Context) -> None:
    from shipyard.cli._run import run_session
    from shipyard.project import Session

    session = context.session or Session.open(context.root)
    result = run_session(session, "__default__", quiet=context.quiet)
    first = context.facts["first_run_s"]
    say(
        f"  nothing changed, so {len(result.cached)} of {len(result.completed)} nodes were "
        f"restored from the node cache instead of running: {result.duration_s:.2f}s "
        f"instead of {first:.2f}s"
    )


def _show_results(context: _Context) -> None:
    from shipyard.project import Session

    session = context.session or Session.open(context.root)
    catalog = session.catalog
    metrics = catalog.load("metrics")
    print_table(
        "Model metrics on the held-out test set",
        ["metric", "value"],
        [
            (key, f"{value:.4f}" if isinstance(value, float) else value)
            for key, value in metrics.items()
        ],
    )
    written = [
        (name, catalog.describe(name).get("filepath"))
        for name in sorted(session.pipeline().datasets())
        if name in catalog and catalog.is_persistent(name)
    ]
    print_table("Datasets written", ["dataset", "file"], written)


def _explore_in_the_lab(context: _Context) -> None:
    from shipyard.cli._notebook import skip_iri_format_checker
    from shipyard.errors import MissingDependencyError
    from shipyard.lab import export_environment, run_notebook

    executed = context.root / "data" / "08_reporting" / "explore.ipynb"
    skip_iri_format_checker()
    try:
        done = run_notebook(context.root / "notebooks" / "explore.ipynb", output=executed)
    except MissingDependencyError as missing:
        say(f"  skipped the notebook: {missing.message} {missing.hint}")
    else:
        say(
            f"  notebooks/explore.ipynb ran headless in {done.duration_s:.1f}s as tracked run "
            f"{done.run_id}; the executed copy, plots included: "
            f"{executed.relative_to(context.root)}"
        )
    pinned = export_environment(context.root)
    say(
        f"  pinned the {pinned.packages} packages of this Python {pinned.python} in "
        "requirements.lock and environment.yml: `shipyard env check` compares another "
        "environment with them, `shipyard env create` rebuilds it"
    )


def _trace_model(context: _Context) -> None:
    from rich.console import Console

    from shipyard.objects import VersionIndex
    from shipyard.tracking._lineage import upstream
    from shipyard.tracking._stores import tracking_for

    tracking = tracking_for(context.root)  # the store the runs above were tracked in
    assert tracking is not None  # a project always has one
    index = VersionIndex(context.root / ".shipyard" / "versions.db")
    with tracking.store.connect() as conn:
        graph = upstream(conn, "churn_model", index=index)
    Console(highlight=False, width=160).print(graph.to_tree())
    page = context.root / "lineage.html"
    page.write_text(graph.to_html(), encoding="utf-8")
    say(f"  the same graph as a page: {page}")


def _promote_model(context: _Context) -> None:
    from shipyard.models import ModelRegistry
    from shipyard.models._card import render_html
    from shipyard.models._card_data import card_data

    registry = ModelRegistry.for_project(context.root)
    latest = registry.resolve("churn")
    promotion = registry.promote("churn", latest.version, "champion")
    for result in promotion.decision.results:
        say(f"  [green]pass[/green]  {result.gate}: {result.detail}")
    say(
        f"  the run registered [bold]churn[/bold] version {latest.version}; it passed the "
        "gates of conf/base/governance.yml and is now churn@champion"
    )
    model = registry.load("churn@champion")
    features = context.session.catalog.load("X_test") if context.session else None
    if features is not None:
        risk = model.predict_proba(features.head(3))[:, 1]
        say(f"  loaded models:/churn@champion: churn risk of 3 test customers {risk.round(2)}")
    card = context.root / "data" / "08_reporting" / "model_card.html"
    card.write_text(render_html(card_data(registry, promotion.version)), encoding="utf-8")
    say(f"  its model card: {card}")


def _serve_model(context: _Context) -> None:
    import json
    import logging
    import urllib.request

    from shipyard.serving import ModelServer
    from shipyard.serving._log import read_log
    from shipyard.serving._run import running

    session = context.session
    assert session is not None  # the pipelines ran in this quickstart
    customers = session.catalog.load("X_test").head(5)
    server = ModelServer.for_project("models:/churn@champion", context.root)

    def post(url: str, body: bytes, content_type: str = "application/json") -> dict[str, Any]:
        request = urllib.request.Request(url, body, {"content-type": content_type})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    # the server's own lines (one JSON line per request) would drown the story told here
    for name in ("shipyard.serving", "shipyard.serving.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with running(server) as url:
        say(f"  serving churn@champion at {url} (OpenAPI docs at {url}/docs)")
        predict = f"{url}/v1/models/churn/predict"
        body = customers.head(2).to_json(orient="records")
        answer = post(predict, f'{{"records": {body}}}'.encode())
        say(
            f"  POST {predict} with 2 customers as JSON records -> predictions "
            f"{answer['predictions']}, version {answer['version']}, request id "
            f"{answer['request_id']}"
        )
        scored = post(predict, customers.to_csv(index=False).encode(), "text/csv")
        say(f"  the same endpoint with 5 customers as CSV -> {scored['predictions']}")
        post(
            f"{url}/v1/feedback",
            json.dumps({"request_id": answer["request_id"], "row": 0, "label": 1}).encode(),
        )
        say("  POST /v1/feedback: the first customer did churn (ground truth for monitoring)")
    logged = read_log(context.root / "data" / "09_logs" / "predictions")
    print_table(
        "The prediction log (data/09_logs/predictions, catalog entry prediction_log)",
        ["request", "row", "version", "input.tenure_months", "prediction", "latency ms"],
        [
            (f"…{row.request_id[-6:]}", row.row, row.model_version, tenure, prediction, latency)
            for row, tenure, prediction, latency in zip(
                logged.itertuples(index=False),
                logged["input.tenure_months"],
                logged["output.prediction"],
                logged["latency_ms"].round(2),
                strict=True,
            )
        ],
    )
    say("  the server shut down cleanly: requests in flight finished, logs were flushed")


def _score_in_batch(context: _Context) -> None:
    from shipyard.serving import predict_file

    source = context.root / "data" / "05_model_input" / "X_test.parquet"
    target = context.root / "data" / "07_model_output" / "scored.parquet"
    result = predict_file(
        "models:/churn@champion", source, target, project=context.root, progress=False
    )
    say(
        f"  scored {result.rows:,} rows of X_test.parquet with churn version {result.version} "
        f"in {result.seconds:.2f}s -> {target.relative_to(context.root)} "
        f"(tracked as run {result.run_id}, with its lineage)"
    )


def _close_the_loop(context: _Context) -> None:
    import json
    import logging
    import urllib.request
    from datetime import UTC, datetime

    from shipyard.cli._run import run_session
    from shipyard.monitoring import Monitor
    from shipyard.project import Session
    from shipyard.serving import ModelServer
    from shipyard.serving._run import running

    # Prices rise by 30%: the latest extract of customers comes from a changed market.
    market = Session.open(context.root, params={"data": {"price_rise": 0.3, "seed": 7}})
    run_session(market, "data_processing", quiet=True)
    customers, churned = market.catalog.load("X_test"), market.catalog.load("y_test")
    say(
        f"  prices rose by 30%: a new extract of {len(customers):,} customers "
        "(data_processing with data.price_rise=0.3) is what the endpoint now sees"
    )

    def call(url: str, body: bytes | None = None) -> dict[str, Any]:
        request = urllib.request.Request(url, body, {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    for name in ("shipyard.serving", "shipyard.serving.access", "shipyard.monitoring"):
        logging.getLogger(name).setLevel(logging.ERROR)
    server = ModelServer.for_project("models:/churn@champion", context.root)
    started = datetime.now(UTC)
    with running(server) as url:
        served = call(f"{url}/v1/models/churn")["version"]
        context.facts["champion"] = served
        for first in range(0, len(customers), 100):
            batch = customers.iloc[first : first + 100]
            answer = call(
                f"{url}/v1/models/churn/predict",
                f'{{"records": {batch.to_json(orient="records")}}}'.encode(),
            )
            labels = churned["churned"].iloc[first : first + 100].tolist()
            feedback = [
                {"request_id": answer["request_id"], "row": row, "label": label}
                for row, label in enumerate(labels)
            ]
            call(f"{url}/v1/feedback", json.dumps({"feedback": feedback}).encode())
        say(
            f"  {len(customers):,} of them scored by churn v{served} at {url}, and whether "
            "each churned sent back through /v1/feedback"
        )
        _wait_for_logs(server, len(customers))
        check = Monitor(context.session or Session.open(context.root), "churn@champion").check(
            started, datetime.now(UTC)
        )
        result = check.result
        drifted = ", ".join(result.drifted_columns[:4]) or "none"
        say(
            f"  shipyard monitor: {result.rows:,} rows; input drift in {drifted} "
            f"({len(result.drifted_columns)} of {len(result.columns)} columns)"
        )
        if result.performance is not None:
            accuracy = result.performance.metrics.get("accuracy")
            baseline = result.performance.baseline.get("accuracy")
            if accuracy is not None and baseline is not None:
                say(
                    f"  accuracy on the labelled traffic {accuracy.value:.3f} "
                    f"(95% interval {accuracy.low:.3f}..{accuracy.high:.3f}) against "
                    f"{baseline:.3f} at training: {result.performance.status}"
                )
        for action in check.actions:
            say(f"  action {action.kind}: {action.status} {_action_outcome(action)}")
        promoted = next(
            (a.details or {} for a in check.actions if a.kind == "promote" and a.status == "done"),
            {},
        )
        if promoted.get("outcome") == "promoted":
            version = _wait_for_version(call, f"{url}/v1/models/churn", promoted["version"])
            context.facts["champion"] = version
            say(f"  the endpoint swapped to churn v{version} without a restart: the loop is closed")
    report = context.root / "data" / "08_reporting" / "drift.html"
    from shipyard.monitoring import write_report

    write_report(result, report)
    say(f"  the drift report: {report}")


def _prepare_deployment(context: _Context) -> None:
    from shipyard.deploy import DeploySpec, check_folder, write_compose, write_k8s

    version = context.facts.get("champion", 1)
    spec = DeploySpec(
        name="churn",
        image=f"churn:{version}",
        model_ref="churn@champion",
        model_version=version,
        pipeline_image=f"churn-pipelines:{version}",
    )
    for kind, write in (("k8s", write_k8s), ("compose", write_compose)):
        folder = context.root / "deploy" / kind
        written = write(spec, folder)
        report = check_folder(folder)
        verdict = "passes `shipyard deploy check`" if report.ok else "has problems"
        say(f"  deploy/{kind}: {', '.join(p.name for p in written)}; {verdict}")
    say(
        f"  the image of churn v{version}: `shipyard deploy docker churn@champion --tag "
        f"churn:{version}` (docs/deployment.md)"
    )


def _wait_for_logs(server: Any, rows: int, timeout_s: float = 30.0) -> None:
    """Until the server's log writer has put ``rows`` rows on disk."""
    deadline = time.monotonic() + timeout_s
    while server.prediction_log.stats.written_rows < rows and time.monotonic() < deadline:
        time.sleep(0.05)
    while server.feedback_log.stats.written_rows < rows and time.monotonic() < deadline:
        time.sleep(0.05)


def _wait_for_version(
    call: Callable[[str], dict[str, Any]], url: str, version: int, timeout_s: float = 30.0
) -> int:
    deadline = time.monotonic() + timeout_s
    served = call(url)["version"]
    while served != version and time.monotonic() < deadline:
        time.sleep(0.2)
        served = call(url)["version"]
    return served


def _action_outcome(action: Any) -> str:
    details = action.details or {}
    if action.error:
        return f"({action.error})"
    if action.kind == "retrain":
        return f"(run {details.get('run_id')} registered churn v{details.get('challenger')})"
    if action.kind == "evaluate" and "challenger_value" in details:
        return (
            f"({details['metric']} of v{details['challenger']} "
            f"{details['challenger_value']:.3f} against v{details['champion']} "
            f"{details['champion_value']:.3f} on the recent labelled traffic)"
        )
    if action.kind == "promote":
        return f"(v{details.get('version')} -> @{details.get('alias')}: {details.get('outcome')})"
    return f"({details.get('reason')})" if details.get("reason") else ""


def _next_steps(context: _Context) -> None:
    champion = context.facts.get("champion", 1)
    say(
        "\nWhere to look next:\n"
        f"  cd {context.root}\n"
        "  shipyard pipeline show          # the DAG of the default pipeline\n"
        "  shipyard catalog list           # datasets, their types and files\n"
        "  shipyard run --pipeline training --params model.C=0.5   # only training reruns\n"
        "  shipyard data versions model    # every model the runs produced\n"
        "  shipyard runs list              # the tracked runs, their params and metrics\n"
        "  shipyard lineage churn_model    # the model's lineage (--format html -o FILE)\n"
        "  shipyard models show churn@champion   # signature, metrics, lineage, history\n"
        "  shipyard serve models:/churn@champion  # the REST endpoint on port 8080\n"
        "  shipyard predict churn@champion -i new.parquet -o scored.parquet  # batch scoring\n"
        "  shipyard monitor churn@champion --report drift.html   # drift of the last 24h\n"
        "  shipyard monitor history churn  # drift over the checked windows, as a chart\n"
        f"  shipyard deploy docker churn@champion --tag churn:{champion}  # an image serving it\n"
        "  shipyard deploy k8s churn@champion deploy/k8s   # Deployment, Service, HPA, CronJob\n"
        "  shipyard deploy compose churn@champion deploy/compose  # endpoint, monitor, db, S3\n"
        '  pip install -e ".\\[test]" && pytest   # the project\'s own tests\n'
        "  shipyard lab                    # JupyterLab with the project loaded in every notebook\n"
        "  shipyard notebook run notebooks/explore.ipynb -p top_n=10   # headless, tracked\n"
        "  shipyard env check              # this environment against requirements.lock"
    )


_STAGES: list[tuple[str, Callable[[_Context], None]]] = [
    ("Create a project from the template", _create_project),
    ("Run the data_processing and training pipelines", _run_pipelines),
    ("Run them again: unchanged nodes come from the node cache", _rerun_from_cache),
    ("Look at the results", _show_results),
    (
        "Explore in the lab: the starter notebook as a tracked run, the environment pinned",
        _explore_in_the_lab,
    ),
    ("Trace the model back to its data and code", _trace_model),
    ("Promote the registered model to champion through its gates", _promote_model),
    ("Serve the champion over HTTP; every prediction is logged", _serve_model),
    ("Score a file in batch with the champion", _score_in_batch),
    (
        "Prices rise: monitoring finds the drift, retrains, and the endpoint swaps",
        _close_the_loop,
    ),
    ("Write Kubernetes and compose manifests for the champion", _prepare_deployment),
]

"""``shipyard models ...``: the model registry of the project (docs/registry.md).

Models are named ``churn@champion`` (an alias), ``churn:3`` or ``models:/churn/3`` (a
version), or ``churn`` (the newest version). Promotion runs the gates of
``conf/base/governance.yml`` and completes, waits for approvals, or is refused with reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import EnvOption, JsonOption, command_group
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from shipyard.metadata.registry import ModelVersionRecord
    from shipyard.models import ModelRegistry, Promotion

__all__ = ["app"]

app = command_group(
    "Registered models: register, list, show, promote through gates and approvals, "
    "history, model cards, export."
)

ModelArg = Annotated[str, typer.Argument(help="A model: churn@champion, churn:3 or churn.")]
NameArg = Annotated[str, typer.Argument(help="The registered model's name.")]
VersionArg = Annotated[int, typer.Argument(help="The version number.", min=1)]
AliasOption = Annotated[
    str, typer.Option("--alias", "-a", help="The alias to move: champion, challenger, ...")
]


@app.command("list")
def list_models(env: EnvOption = None, as_json: JsonOption = False) -> None:
    """List registered models: latest version, aliases, last change."""
    from shipyard.metadata import registry as repo

    registry = _registry(env)
    with registry.store.connect() as conn:
        models = repo.list_models(conn)
    if as_json:
        emit_json("models", [_plain(m) for m in models])
        return
    if not models:
        say("No registered models yet: add `register: NAME` to a `type: model` catalog entry.")
        return
    rows = [
        (
            m.name,
            m.latest_version,
            m.versions,
            ", ".join(f"{a}→{v}" for a, v in sorted(m.aliases.items())),
            _when(m.updated_at),
        )
        for m in models
    ]
    print_table("Registered models", ("name", "latest", "versions", "aliases", "updated"), rows)


@app.command("register")
def register(
    name: NameArg,
    from_run: Annotated[
        str | None, typer.Option("--from-run", help="The run (id or prefix) that saved the model.")
    ] = None,
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="The model dataset the run saved.")
    ] = "model",
    path: Annotated[
        Path | None, typer.Option("--path", help="A package folder to register instead.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="What it is.")] = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a model package as the next version of NAME: the version of DATASET a run
    saved (--from-run), or a package folder (--path)."""
    from shipyard.errors import ModelError

    if (from_run is None) == (path is None):
        raise ModelError(
            "Say where the model comes from: --from-run RUN or --path FOLDER (one of them).",
            hint="`shipyard runs list` shows the runs; a package folder holds shipyard-model.yaml.",
        )
    registry = _registry(env)
    if from_run is not None:
        record = registry.register_from_run(
            name, from_run, dataset=dataset, description=description
        )
    else:
        record = registry.register(name, path, description=description)  # type: ignore[arg-type]
    if as_json:
        emit_json("version", _plain(record))
        return
    say(f"Registered [bold]{record.model}[/] version {record.version} ({record.flavor}).")


@app.command("versions")
def versions(name: NameArg, env: EnvOption = None, as_json: JsonOption = False) -> None:
    """List the versions of a model, newest first."""
    from shipyard.metadata import registry as repo
    from shipyard.models._names import normalize_model_name

    registry = _registry(env)
    with registry.store.connect() as conn:
        found = repo.versions(conn, normalize_model_name(name))
    if as_json:
        emit_json("versions", [_plain(v) for v in found])
        return
    rows = [
        (
            v.version,
            ", ".join(v.aliases),
            v.flavor,
            _metrics_text(v.metrics, limit=3),
            v.run_id[:12] if v.run_id else None,
            v.created_by,
            _when(v.created_at),
        )
        for v in found
    ]
    columns = ("version", "aliases", "flavor", "metrics", "run", "by", "created")
    print_table(f"Versions of {name}", columns, rows)


@app.command("show")
def show(model: ModelArg, env: EnvOption = None, as_json: JsonOption = False) -> None:
    """Everything about one version: signature, metrics, lineage, approvals, history."""
    registry = _registry(env)
    details = _details(registry, registry.resolve(model))
    if as_json:
        emit_json("model", details)
        return
    version = details["version"]
    say(f"[bold]{version['model']}[/] version {version['version']}  ({version['flavor']})")
    say(f"  aliases: {', '.join(version['aliases']) or '-'}   trusted: {version['trusted']}")
    say(
        f"  run: {version['run_id'] or '-'}   by {version['created_by']} at {version['created_at']}"
    )
    say(f"  metrics: {_metrics_text(version['metrics']) or '-'}")
    signature = details["signature"] or {}
    for column in signature.get("inputs", []):
        nullable = " (nullable)" if column["nullable"] else ""
        say(f"  input  {column['name']}: {column['dtype']}{nullable}")
    for item in details["training_data"]:
        say(f"  from data {item['dataset']}@{item['version_id']}")
    for request in details["pending"]:
        given = len(request["approvals"])
        say(
            f"  [yellow]pending[/] promotion to '{request['alias']}' requested by "
            f"{request['requested_by']}: {given} approval(s) given"
        )
    for event in details["history"][-5:]:
        say(f"  {event['at']}  {event['kind']:<9} {event['alias'] or ''} by {event['actor']}")


@app.command("promote")
def promote(
    name: NameArg,
    version: VersionArg,
    alias: AliasOption = "champion",
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move ALIAS to VERSION through the alias's gates and approvals (governance.yml).
    A failed gate refuses with reasons; missing approvals leave a pending request."""
    registry = _registry(env)
    _report(registry.promote(name, version, alias), as_json)


@app.command("approve")
def approve(
    name: NameArg,
    version: VersionArg,
    alias: AliasOption = "champion",
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="Why.")] = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a pending promotion (your role must be one the policy names)."""
    registry = _registry(env)
    _report(registry.approve(name, version, alias, comment=comment), as_json)


@app.command("history")
def history(
    name: NameArg,
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Only this alias.")] = None,
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every registration, alias move, request, approval and refusal: who and when."""
    from shipyard.metadata import registry as repo
    from shipyard.models._names import normalize_model_name

    registry = _registry(env)
    with registry.store.connect() as conn:
        events = repo.history(conn, normalize_model_name(name), alias=alias)
    if as_json:
        emit_json("history", [_plain(e) for e in events])
        return
    rows = [
        (_when(e.at), e.kind, e.version, e.alias, e.actor, _event_detail(e.details)) for e in events
    ]
    print_table(f"History of {name}", ("when", "event", "version", "alias", "by", "details"), rows)


@app.command("card")
def card(
    model: ModelArg,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the card as an HTML page here.")
    ] = None,
    env: EnvOption = None,
) -> None:
    """Print the model card (Markdown); --html writes a self-contained page too."""
    from shipyard.models._card import render_html, render_markdown
    from shipyard.models._card_data import card_data

    registry = _registry(env)
    data = card_data(registry, registry.resolve(model))
    typer.echo(render_markdown(data))
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(data), encoding="utf-8")
        say(f"Wrote {html}")


@app.command("trust")
def trust(name: NameArg, version: VersionArg, env: EnvOption = None) -> None:
    """Mark a version trusted, so a package that carries code (the python flavor) loads
    without trusted=True. Only a governance officer may."""
    registry = _registry(env)
    record = registry.trust(name, version)
    say(f"{record.model} version {record.version} is now trusted.")


@app.command("export")
def export(
    model: ModelArg,
    to: Annotated[Path, typer.Argument(help="The folder to write (must not exist).")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="mlflow (an MLflow model folder) or onnx.")
    ] = "mlflow",
    env: EnvOption = None,
) -> None:
    """Export a version as an MLflow model folder or an ONNX file."""
    from shipyard.models._export import export_model

    registry = _registry(env)
    written = export_model(registry, registry.resolve(model), to, format=format)
    say(f"Wrote {written}")


def _registry(env: str | None) -> ModelRegistry:
    from shipyard.models import ModelRegistry

    return ModelRegistry.for_project(env=env)


def _details(registry: ModelRegistry, record: ModelVersionRecord) -> dict[str, Any]:
    from shipyard.metadata import registry as repo

    manifest = registry.manifest(record)
    with registry.store.connect() as conn:
        pending = repo.pending_requests(conn, record.model, version=record.version)
        events = repo.history(conn, record.model)
    return {
        "version": _plain(record),
        "signature": manifest.signature,
        "training_data": list(manifest.training_data),
        "requirements": list(manifest.requirements),
        "pending": [_plain(r) for r in pending],
        "history": [_plain(e) for e in events if e.version in (None, record.version)],
    }


def _report(promotion: Promotion, as_json: bool) -> None:
    decision = promotion.decision
    if as_json:
        emit_json(
            "promotion",
            {
                "outcome": decision.outcome,
                "model": promotion.version.model,
                "version": promotion.version.version,
                "alias": promotion.alias,
                "previous": promotion.previous,
                "reason": decision.reason,
                "gates": [r.to_dict() for r in decision.results],
                "request": _plain(promotion.request) if promotion.request else None,
            },
        )
        return
    for result in decision.results:
        mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
        say(f"  {mark}  {result.gate}: {result.detail}")
    record = promotion.version
    if decision.outcome == "promote":
        was = f" (was version {promotion.previous})" if promotion.previous else ""
        say(f"[bold]{record.model}@{promotion.alias}[/] is now version {record.version}{was}.")
    else:
        say(
            f"Promotion of {record.model} version {record.version} to '{promotion.alias}' is "
            f"[yellow]pending[/]: {decision.reason}"
        )


def _plain(record: Any) -> dict[str, Any]:
    from shipyard.metadata.registry import to_dict

    return to_dict(record)


def _metrics_text(metrics: dict[str, float] | None, *, limit: int | None = None) -> str:
    shown = sorted((metrics or {}).items())
    text = ", ".join(f"{k}={v:.4g}" for k, v in shown[:limit])
    return text + (", ..." if limit is not None and len(shown) > limit else "")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _event_detail(details: dict[str, Any] | None) -> str:
    if not details:
        return ""
    parts = []
    if "from" in details or "to" in details:
        parts.append(f"{details.get('from') or '-'} → {details.get('to')}")
    gates = details.get("gates") or []
    failed = [g["gate"] for g in gates if not g.get("passed")]
    if failed:
        parts.append("failed: " + "; ".join(failed))
    if details.get("comment"):
        parts.append(str(details["comment"]))
    return "  ".join(parts)

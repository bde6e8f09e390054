"""Model cards: what a model version is, what it is for, and how it came to be, as
Markdown and as a self-contained HTML page.

The registry gathers a :class:`CardData` from the package, the metadata store, the catalog
(PII tags) and ``governance.yml`` (``intended_use``); rendering is pure. A card has these
sections, in order: Model details, Intended use, Metrics, Training data and lineage,
Features (PII marked), Environment, Approvals, History. Whatever was not recorded reads
"not recorded"; rendering never fails on missing or empty data.

Every value comes from users (descriptions, comments, column names), so the HTML escapes
all of it and loads nothing from elsewhere (its Content-Security-Policy forbids scripts),
and the Markdown backslash-escapes the characters that would start HTML, links or cells.

>>> print(render_markdown(CardData(name="churn", version=4)).splitlines()[0])
# Model card: churn version 4
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["NOT_RECORDED", "CardData", "render_html", "render_markdown"]

NOT_RECORDED = "not recorded"
_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\<[]|`"})


@dataclass(frozen=True)
class CardData:
    """Everything a model card shows. Lists hold plain mappings:

    - ``evaluation_data``: ``{dataset, version_id}``
    - ``training_data``: ``{dataset, version_id, digest}``
    - ``features`` / ``outputs``: ``{name, dtype, nullable, pii, pii_kind}``
    - ``environment``: ``{python, packages: {name: version}}``
    - ``approvals``: ``{user, role, comment, at}``
    - ``history``: ``{kind, actor, at, alias, details}``
    """

    name: str
    version: int
    aliases: Sequence[str] = ()
    description: str | None = None
    intended_use: str | None = None
    flavor: str | None = None
    flavor_version: str | None = None
    created_at: datetime | str | None = None
    created_by: str | None = None
    run_id: str | None = None
    git_commit: str | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    evaluation_data: Sequence[Mapping[str, Any]] = ()
    training_data: Sequence[Mapping[str, Any]] = ()
    features: Sequence[Mapping[str, Any]] = ()
    outputs: Sequence[Mapping[str, Any]] = ()
    environment: Mapping[str, Any] = field(default_factory=dict)
    requirements: Sequence[str] = ()
    approvals: Sequence[Mapping[str, Any]] = ()
    history: Sequence[Mapping[str, Any]] = ()
    trusted: bool = False


# A card is sections of blocks; each kind of block renders to Markdown and to HTML.
@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Fields:
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Table:
    title: str | None
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


_Block = _Text | _Fields | _Table


def render_markdown(card: CardData) -> str:
    """The card as Markdown (GitHub-flavoured tables)."""
    lines = [f"# {_md(_title(card))}"]
    for title, blocks in _sections(card):
        lines += ["", f"## {title}"]
        for block in blocks:
            lines += ["", *_markdown_block(block)]
    return "\n".join(lines) + "\n"


def render_html(card: CardData) -> str:
    """The card as one self-contained HTML page: inline style, no scripts, all escaped."""
    title = html.escape(_title(card))
    body = "\n".join(
        f"<section>\n<h2>{html.escape(name)}</h2>\n"
        + "\n".join(_html_block(block) for block in blocks)
        + "\n</section>"
        for name, blocks in _sections(card)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{title}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _title(card: CardData) -> str:
    return f"Model card: {card.name} version {card.version}"


def _sections(card: CardData) -> list[tuple[str, list[_Block]]]:
    return [
        ("Model details", [_details(card)]),
        ("Intended use", [_Text(card.intended_use or NOT_RECORDED)]),
        ("Metrics", _metrics(card)),
        ("Training data and lineage", _lineage(card)),
        ("Features", _features(card)),
        ("Environment", _environment(card)),
        ("Approvals", [_approvals(card)]),
        ("History", [_history(card)]),
    ]


def _details(card: CardData) -> _Fields:
    flavor = " ".join(str(part) for part in (card.flavor, card.flavor_version) if part)
    return _Fields(
        (
            ("Name", _value(card.name)),
            ("Version", _value(card.version)),
            ("Aliases", ", ".join(map(str, card.aliases or ())) or "none"),
            ("Description", _value(card.description)),
            ("Flavor", _value(flavor)),
            ("Created", _value(card.created_at)),
            ("Created by", _value(card.created_by)),
            ("Trusted", "yes: may load files that run code" if card.trusted else "no"),
        )
    )


def _metrics(card: CardData) -> list[_Block]:
    metrics = card.metrics or {}
    rows = tuple((str(name), _value(metrics[name])) for name in sorted(metrics, key=str))
    evaluated = ", ".join(_data_ref(ref) for ref in _entries(card.evaluation_data))
    return [
        _Table(None, ("Metric", "Value"), rows),
        _Fields((("Evaluated on", _value(evaluated)),)),
    ]


def _lineage(card: CardData) -> list[_Block]:
    rows = tuple(
        (_value(ref.get("dataset")), _value(ref.get("version_id")), _value(ref.get("digest")))
        for ref in _entries(card.training_data)
    )
    fields = (("Run", _value(card.run_id)), ("Git commit", _value(card.git_commit)))
    return [_Fields(fields), _Table("Training data", ("Dataset", "Version", "Digest"), rows)]


def _features(card: CardData) -> list[_Block]:
    headers = ("Name", "Type", "Nullable", "PII")
    return [
        _Table("Inputs", headers, tuple(_column(column) for column in _entries(card.features))),
        _Table("Outputs", headers[:3], tuple(_column(c)[:3] for c in _entries(card.outputs))),
    ]


def _column(column: Mapping[str, Any]) -> tuple[str, ...]:
    nullable = column.get("nullable")
    kind = column.get("pii_kind")
    pii = (f"PII ({kind})" if kind else "PII") if column.get("pii") else "no"
    return (
        _value(column.get("name")),
        _value(column.get("dtype")),
        NOT_RECORDED if nullable is None else _value(bool(nullable)),
        pii,
    )


def _environment(card: CardData) -> list[_Block]:
    environment = card.environment or {}
    packages = environment.get("packages") or {}
    return [
        _Fields((("Python", _value(environment.get("python"))),)),
        _Table(
            "Packages",
            ("Package", "Version"),
            tuple((str(name), _value(packages[name])) for name in sorted(packages, key=str)),
        ),
        _Table("Requirements", ("Requirement",), tuple((str(r),) for r in card.requirements or ())),
    ]


def _approvals(card: CardData) -> _Table:
    keys = ("user", "role", "comment", "at")
    rows = tuple(
        tuple(_value(entry.get(key)) for key in keys) for entry in _entries(card.approvals)
    )
    return _Table(None, ("User", "Role", "Comment", "At"), rows)


def _history(card: CardData) -> _Table:
    rows = tuple(
        (
            _value(event.get("at")),
            _value(event.get("kind")),
            _value(event.get("actor")),
            _value(event.get("alias")),
            _details_text(event.get("details")),
        )
        for event in _entries(card.history)
    )
    return _Table(None, ("When", "Event", "Actor", "Alias", "Details"), rows)


def _details_text(details: Any) -> str:
    """An event's details in one line; gate results as "gate: passed/FAILED"."""
    if not isinstance(details, Mapping):
        return _value(details) if details else ""
    parts = []
    for key, value in details.items():
        if key == "gates" and isinstance(value, list):
            gates = (
                f"{gate.get('gate')}: {'passed' if gate.get('passed') else 'FAILED'}"
                for gate in _entries(value)
            )
            parts.append(f"gates: {'; '.join(gates) or 'none'}")
        else:
            parts.append(f"{key}: {_value(value)}")
    return ", ".join(parts)


def _entries(items: Sequence[Any] | None) -> list[Mapping[str, Any]]:
    """The mappings of a recorded list; anything else in it is skipped, not fatal."""
    return [item for item in items or () if isinstance(item, Mapping)]


def _data_ref(ref: Mapping[str, Any]) -> str:
    version = ref.get("version_id")
    return _value(ref.get("dataset")) + (f"@{version}" if version else "")


def _value(value: Any) -> str:
    """A recorded value as text; None and empty values read "not recorded"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return NOT_RECORDED
    if isinstance(value, Mapping):
        value = [f"{key}: {_value(item)}" for key, item in value.items()]
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value) or NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return (
        value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else str(value)
    )


def _md(text: str) -> str:
    """``text`` safe inside a Markdown line or table cell: no HTML, links or cell breaks."""
    return " ".join(text.split()).translate(_MARKDOWN_SPECIAL)


def _markdown_block(block: _Block) -> list[str]:
    if isinstance(block, _Text):
        paragraphs = [_md(p) for p in block.text.split("\n\n") if p.strip()]
        return "\n\n".join(paragraphs).split("\n")
    if isinstance(block, _Fields):
        return [f"- **{label}:** {_md(value)}" for label, value in block.rows]
    title = [f"**{block.title}**", ""] if block.title else []
    if not block.rows:
        return [*title, NOT_RECORDED]
    lines = ["| " + " | ".join(block.headers) + " |", "|" + "---|" * len(block.headers)]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in block.rows]
    return title + lines


def _html_block(block: _Block) -> str:
    escape = html.escape
    if isinstance(block, _Text):
        paragraphs = [p.strip() for p in block.text.split("\n\n") if p.strip()]
        return "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if isinstance(block, _Fields):
        rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in block.rows)
        return f"<dl>{rows}</dl>"
    title = f"<h3>{escape(block.title)}</h3>\n" if block.title else ""
    if not block.rows:
        return f'{title}<p class="missing">{NOT_RECORDED}</p>'
    head = "".join(f"<th>{escape(header)}</th>" for header in block.headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
    )
    return f"{title}<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


_STYLE = """
body { font-family: system-ui, sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem; background: #fff; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #d8dce3; padding-bottom: .3rem; }
h3 { font-size: 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e5e8ed;
         overflow-wrap: anywhere; vertical-align: top; }
.missing { color: #6b7280; font-style: italic; }
"""

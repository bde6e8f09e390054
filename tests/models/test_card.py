"""Model cards: every section from full data, "not recorded" from none, and escaping."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime
from html.parser import HTMLParser

import pytest

from shipyard.models._card import NOT_RECORDED, CardData, render_html, render_markdown

SECTIONS = [
    "Model details",
    "Intended use",
    "Metrics",
    "Training data and lineage",
    "Features",
    "Environment",
    "Approvals",
    "History",
]

FULL = CardData(
    name="churn",
    version=4,
    aliases=("champion", "challenger"),
    description="Gradient boosting on 30 days of activity.",
    intended_use="Predict which customers will cancel in 30 days; not for credit decisions.",
    flavor="sklearn",
    flavor_version="1.5.2",
    created_at=datetime(2024, 5, 1, 12, 30, 5, 123456),
    created_by="alice",
    run_id="0a1b2c3d",
    git_commit="9f8e7d6c",
    metrics={"f1": 0.71, "auc": 0.8412345},
    evaluation_data=[{"dataset": "model_input_table", "version_id": "v7"}],
    training_data=[{"dataset": "customers", "version_id": "v3", "digest": "blake3:ab12"}],
    features=[
        {"name": "email", "dtype": "string", "nullable": False, "pii": True, "pii_kind": "email"},
        {"name": "ssn", "dtype": "string", "nullable": True, "pii": True, "pii_kind": None},
        {"name": "age", "dtype": "int64", "nullable": False, "pii": False, "pii_kind": None},
    ],
    outputs=[{"name": "churn", "dtype": "int64", "nullable": False}],
    environment={"python": "3.11.7", "packages": {"scikit-learn": "1.5.2", "numpy": "1.26.4"}},
    requirements=["scikit-learn==1.5.2", "numpy==1.26.4"],
    approvals=[
        {"user": "carol", "role": "governance", "comment": "Fair enough.", "at": "2024-05-02"}
    ],
    history=[
        {"kind": "registered", "actor": "alice", "at": "2024-05-01", "alias": None, "details": {}},
        {
            "kind": "alias_set",
            "actor": "bob",
            "at": "2024-05-02",
            "alias": "champion",
            "details": {
                "gates": [
                    {"gate": "auc >= 0.8", "passed": True, "detail": "auc = 0.84"},
                    {"gate": "signature compatible with champion", "passed": False},
                ],
                "previous": 3,
            },
        },
    ],
    trusted=True,
)


def _section(markdown: str, title: str) -> str:
    """The Markdown of one section, heading excluded."""
    return markdown.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_markdown_has_every_section_in_order():
    markdown = render_markdown(FULL)
    assert markdown.startswith("# Model card: churn version 4\n")
    assert re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE) == SECTIONS


def test_markdown_of_a_full_card():
    markdown = render_markdown(FULL)
    details = _section(markdown, "Model details")
    assert "- **Aliases:** champion, challenger" in details
    assert "- **Flavor:** sklearn 1.5.2" in details
    assert "- **Created:** 2024-05-01 12:30:05" in details
    assert "- **Created by:** alice" in details
    assert "- **Trusted:** yes" in details
    assert "not for credit decisions." in _section(markdown, "Intended use")
    metrics = _section(markdown, "Metrics")
    assert metrics.index("| auc | 0.841234 |") < metrics.index("| f1 | 0.71 |")
    assert "- **Evaluated on:** model_input_table@v7" in metrics
    lineage = _section(markdown, "Training data and lineage")
    assert "- **Run:** 0a1b2c3d" in lineage
    assert "- **Git commit:** 9f8e7d6c" in lineage
    assert "| customers | v3 | blake3:ab12 |" in lineage
    features = _section(markdown, "Features")
    assert "| email | string | no | PII (email) |" in features
    assert "| ssn | string | yes | PII |" in features
    assert "| age | int64 | no | no |" in features
    assert "| churn | int64 | no |" in features
    environment = _section(markdown, "Environment")
    assert "- **Python:** 3.11.7" in environment
    assert environment.index("| numpy | 1.26.4 |") < environment.index("| scikit-learn |")
    assert "| scikit-learn==1.5.2 |" in environment
    assert "| carol | governance | Fair enough. | 2024-05-02 |" in _section(markdown, "Approvals")
    history = _section(markdown, "History")
    assert "| 2024-05-01 | registered | alice | not recorded |  |" in history
    assert (
        "| 2024-05-02 | alias_set | bob | champion | gates: auc >= 0.8: passed; "
        "signature compatible with champion: FAILED, previous: 3 |"
    ) in history
    assert NOT_RECORDED not in markdown.replace("| not recorded |", "")


@pytest.mark.parametrize(
    "card",
    [
        CardData(name="churn", version=1),
        CardData(
            name="churn",
            version=1,
            **{
                f.name: None for f in fields(CardData) if f.name not in {"name", "version"}
            },  # every optional field None, as a careless caller might pass
        ),
        CardData(
            name="churn",
            version=1,
            metrics={},
            features=[None, {}],  # type: ignore[list-item]
            environment={"packages": None},
            history=[{"details": {"gates": None}}, {"details": "moved by hand"}],
        ),
    ],
)
def test_an_empty_card_says_not_recorded_and_never_fails(card):
    markdown = render_markdown(card)
    assert re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE) == SECTIONS
    for title in SECTIONS:
        assert NOT_RECORDED in _section(markdown, title), title
    page = render_html(card)
    assert page.count("<section>") == len(SECTIONS)
    assert NOT_RECORDED in page


def test_html_is_one_self_contained_page():
    page = render_html(FULL)
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert "default-src 'none'" in page  # nothing may be loaded or run, even if injected
    assert not re.search(r"\b(src|href)=", page)
    assert "<script" not in page
    assert re.findall(r"<h2>(.+?)</h2>", page) == SECTIONS
    assert "<td>email</td><td>string</td><td>no</td><td>PII (email)</td>" in page
    assert "<dt>Evaluated on</dt><dd>model_input_table@v7</dd>" in page
    checker = _TagBalance()
    checker.feed(page)
    assert checker.open == []


HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)> | [click](javascript:x)'


def _hostile_card() -> CardData:
    return CardData(
        name="<b>churn</b>",
        version=2,
        description=HOSTILE,
        intended_use=HOSTILE,
        metrics={"<i>auc</i>": 0.9},
        features=[{"name": HOSTILE, "dtype": "string", "pii": True, "pii_kind": "<u>x</u>"}],
        approvals=[{"user": "carol", "role": "governance", "comment": HOSTILE, "at": None}],
        history=[{"kind": "alias_set", "actor": HOSTILE, "details": {"reason": HOSTILE}}],
    )


def test_html_escapes_everything_users_wrote():
    page = render_html(_hostile_card())
    assert "<script" not in page
    assert "<img" not in page
    assert "<b>" not in page and "<i>" not in page and "<u>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page
    assert "<title>Model card: &lt;b&gt;churn&lt;/b&gt; version 2</title>" in page
    checker = _TagBalance()
    checker.feed(page)
    assert checker.open == []
    assert checker.tags <= {
        "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3",
        "section", "dl", "dt", "dd", "p", "table", "thead", "tbody", "tr", "th", "td",
    }  # fmt: skip


def test_markdown_escapes_html_links_and_cell_breaks():
    markdown = render_markdown(_hostile_card())
    assert not re.search(r"(?<!\\)<", markdown)  # every '<' is escaped: no raw HTML
    assert "\\[click\\](javascript:x)" in markdown
    assert "# Model card: \\<b>churn\\</b> version 2" in markdown
    for line in markdown.splitlines():
        if line.startswith("| carol"):  # the approvals row keeps its four cells
            assert len(re.findall(r"(?<!\\)\|", line)) == 5


def test_multi_line_text_stays_in_its_place():
    card = CardData(
        name="churn",
        version=1,
        description="first line\nsecond line",
        intended_use="One paragraph.\n\nAnother one.",
    )
    markdown = render_markdown(card)
    assert "- **Description:** first line second line" in markdown
    assert "One paragraph.\n\nAnother one." in _section(markdown, "Intended use")
    assert "<p>One paragraph.</p>\n<p>Another one.</p>" in render_html(card)


class _TagBalance(HTMLParser):
    """Collects the tags of a page and checks every opened tag is closed in order."""

    VOID = frozenset({"meta"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open)
        self.open.pop()

"""The rules every deployment file follows, generated or checked: what an image
reference and a cron schedule are, and how problems are reported.

The generators (compose, Kubernetes) and :func:`shipyard.deploy.check_folder` use the same
definitions, so a generated file passes the check and a hand-edited one is held to the
same standard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["CheckReport", "Found", "Problem", "cron_problem", "image_problem", "image_unpinned"]

# The image reference grammar of the distribution project: [host[:port]/]path[:tag][@digest].
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?P<name>(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_CRON_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# label, lowest, highest, names (counted from lowest), whether '?' is allowed
_CRON_FIELDS = (
    ("minute", 0, 59, (), False),
    ("hour", 0, 23, (), False),
    ("day-of-month", 1, 31, (), True),
    ("month", 1, 12, _MONTHS, False),
    ("day-of-week", 0, 7, _DAYS, True),
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: ``where`` points inside it (a key path or a line)."""

    file: str
    where: str
    message: str
    severity: Literal["error", "warning"]


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_folder` looked at (``checked``) and what it found."""

    folder: Path
    checked: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def image_problem(image: object) -> str | None:
    """Why ``image`` is not a well-formed image reference, or None if it is one.

    >>> image_problem("ghcr.io/acme/churn:3"), image_problem("Churn:3") is not None
    (None, True)
    """
    if not isinstance(image, str) or not image:
        return "an image reference is non-empty text"
    match = _IMAGE.fullmatch(image)
    if match is None or len(match["name"]) > 255:
        return (
            "it is not [registry[:port]/]repository[:tag][@sha256:digest] with a lower-case "
            "repository (e.g. ghcr.io/acme/churn:3)"
        )
    return None


def image_unpinned(image: str) -> str | None:
    """Why a well-formed ``image`` is not pinned to one build (no tag, or ``latest``)."""
    match = _IMAGE.fullmatch(image)
    if match is None or match["digest"]:
        return None
    if match["tag"] is None:
        return "it has no tag, so it means 'latest'"
    if match["tag"] == "latest":
        return "'latest' changes under you"
    return None


def cron_problem(expression: object) -> str | None:
    """Why ``expression`` is not a 5-field cron schedule Kubernetes accepts, or None.

    >>> cron_problem("0 * * * *") is None, cron_problem("61 * * * *")
    (True, "minute field '61': 61 is outside 0-59")
    """
    if not isinstance(expression, str):
        return "a schedule is text such as '0 * * * *'"
    text = expression.strip()
    if text in _CRON_MACROS:
        return None
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "a time zone in the schedule is refused; set the CronJob's timeZone instead"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"it has {len(fields)} field{'s' * (len(fields) != 1)}; a cron schedule has 5: "
            "minute hour day-of-month month day-of-week"
        )
    for field, (label, low, high, names, question) in zip(fields, _CRON_FIELDS, strict=True):
        for item in field.split(","):
            problem = _cron_item(item, low, high, names, question)
            if problem:
                return f"{label} field '{field}': {problem}"
    return None


def _cron_item(
    item: str, low: int, high: int, names: tuple[str, ...], question: bool
) -> str | None:
    base, slash, step = item.partition("/")
    if slash and not (step.isascii() and step.isdigit() and int(step) > 0):
        return f"the step '{step}' is not a whole number from 1"
    if base == "*" or (base == "?" and question and not slash):
        return None
    first, dash, last = base.partition("-")
    values = []
    for part in (first, last) if dash else (first,):
        lowered = part.lower()
        if lowered in names:
            values.append(names.index(lowered) + low)
        elif part.isascii() and part.isdigit():
            values.append(int(part))
        else:
            return f"'{part or item}' is not a number" + (" or a name" if names else "")
        if not low <= values[-1] <= high:
            return f"{part} is outside {low}-{high}"
    if dash and values[0] > values[1]:
        return f"the range {base} runs backwards"
    return None


class Found(list[Problem]):
    """The problems of one check, collected as they are found."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def error(self, file: str, where: str, message: str) -> None:
        self.append(Problem(file, where, message, "error"))

    def warning(self, file: str, where: str, message: str) -> None:
        self.append(Problem(file, where, message, "warning"))

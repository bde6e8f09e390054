"""Where the prediction and feedback logs keep their rows: the layout on disk, shared.

``shipyard.serving`` writes the logs and ``shipyard.monitoring`` reads them, and the two
must not import each other; both import this module, so there is one definition of
the layout::

    root/model=<name>/hour=YYYY-MM-DDTHH/part-<id>.parquet

One folder per model and UTC hour (the hour of each row's ``timestamp``), any number of
part files in it. A part file is written whole under a dot-name and renamed, so the
``part-*.parquet`` pattern only ever matches complete files. Timestamps are
``timestamp[us, tz=UTC]``; in code they are microseconds since 1970 (:func:`epoch_us`).

>>> hour_folder(Path("logs"), "churn", epoch_us(datetime(2026, 11, 1, 8, 30)) // HOUR_US)
PosixPath('logs/model=churn/hour=2026-11-01T08')
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipyard.data._paths import local_path
from shipyard.errors import ConfigError, ModelError

__all__ = [
    "HOUR_FORMAT",
    "HOUR_US",
    "PART_PATTERN",
    "TIMESTAMP",
    "as_utc",
    "check_model_name",
    "epoch_us",
    "hour_folder",
    "hour_name",
    "log_root",
    "part_files",
]

#: The type of the logs' ``timestamp`` column.
TIMESTAMP = pa.timestamp("us", tz="UTC")
#: The hour folders' names: ``hour=`` and the UTC hour in this format.
HOUR_FORMAT = "%Y-%m-%dT%H"
HOUR_US = 3_600_000_000
#: What complete part files are called (the writer's temporary files start with a dot).
PART_PATTERN = "part-*.parquet"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# A model name in its stored spelling (shipyard.models._names.normalize_model_name returns
# it unchanged): lower-case ASCII letters, digits, '_', '-' and '.', not starting with '.'
# or '-', no '..', at most 200 characters. The models layer sits above this one, so the
# rule is restated here as a pattern; a test checks that both agree.
_STORED_NAME = re.compile(r"(?!.*\.\.)[a-z0-9_][a-z0-9_.-]{0,199}")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time is taken as UTC already, like the log's timestamps."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def epoch_us(moment: Any) -> int:
    """Microseconds since 1970 (UTC) of ``time.time_ns()`` or a datetime (naive = UTC).

    >>> epoch_us(datetime(1970, 1, 1, 0, 0, 1))
    1000000
    """
    if isinstance(moment, int):
        return moment // 1000
    return (as_utc(moment) - _EPOCH) // _MICROSECOND


def hour_name(hour: int) -> str:
    """The folder name's time part of UTC hour ``hour`` (hours since 1970)."""
    return time.strftime(HOUR_FORMAT, time.gmtime(hour * 3600))


def hour_folder(root: Path, model: str, hour: int) -> Path:
    """The folder of ``model``'s rows of UTC hour ``hour`` (hours since 1970)."""
    return Path(root) / f"model={model}" / f"hour={hour_name(hour)}"


def check_model_name(model: str) -> None:
    """Refuse a name that is not a stored model name: it becomes a folder name.

    >>> check_model_name("churn")
    >>> check_model_name("Churn")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    shipyard.errors.ModelError: Model name 'Churn' is not in its stored spelling 'churn'; ...
    """
    if isinstance(model, str) and _STORED_NAME.fullmatch(model):
        return
    spelling = (
        unicodedata.normalize("NFKC", model).strip().lower() if isinstance(model, str) else ""
    )
    if _STORED_NAME.fullmatch(spelling):
        raise ModelError(
            f"Model name {model!r} is not in its stored spelling {spelling!r}; the log refuses it.",
            hint="Log under the name the registry stores (lower case).",
        )
    raise ModelError(
        f"Model name {model!r} is not a model name the registry can store; the log refuses it.",
        hint=(
            "A model name uses ASCII letters, digits, '_', '-' and '.' (at most 200 "
            "characters), e.g. 'churn'; log under the name the registry stores."
        ),
    )


def part_files(
    root: Path, model: str | None, since_us: int | None, until_us: int | None
) -> list[Path]:
    """The complete part files under ``root`` whose hour overlaps ``[since_us, until_us)``.

    ``model`` None means every model's folder; a bound of None is open. Files are
    listed by hour, then by name; only the hour folders that overlap are listed, so
    the files of other hours are never opened. Folders that do not follow the layout
    are ignored.
    """
    root = Path(root)
    model_folders = [root / f"model={model}"] if model else sorted(root.glob("model=*"))
    parts = []
    for model_folder in model_folders:
        for folder in sorted(model_folder.glob("hour=*")):
            try:
                hour_start = epoch_us(
                    datetime.strptime(folder.name.removeprefix("hour="), HOUR_FORMAT)
                )
            except ValueError:
                continue  # not a folder this log wrote
            if since_us is not None and hour_start + HOUR_US <= since_us:
                continue
            if until_us is not None and hour_start >= until_us:
                continue
            parts.extend(sorted(folder.glob(PART_PATTERN)))
    return parts


def log_root(root: Path, catalog: Mapping[str, Mapping[str, Any]], dataset: str) -> Path:
    """The folder of log ``dataset`` in the project at ``root``: its catalog entry's
    filepath (which must stay inside the project), else ``data/09_logs/<dataset>``."""
    entry = catalog.get(dataset)
    if entry is None:
        return root / "data" / "09_logs" / dataset
    filepath = entry.get("filepath")
    if not isinstance(filepath, str):
        raise ConfigError(
            f"The catalog entry '{dataset}' has no filepath.",
            hint=f"Give '{dataset}' a filepath such as data/09_logs/{dataset}.",
        )
    return local_path(filepath, dataset, filepath, root, allow_outside=False)

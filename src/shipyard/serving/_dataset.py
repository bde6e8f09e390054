"""The ``serving_log`` catalog type: the prediction or feedback log the endpoint writes.

.. code-block:: yaml

    prediction_log:
      type: serving_log
      filepath: data/09_logs/predictions
      load_args: {model: churn, since: "2026-11-01"}   # optional filters

Loading gives one DataFrame of every complete part file (``model`` and ``hour`` come
from the folder names), sorted by time. The log is written only by ``shipyard serve``:
saving to it from a pipeline is refused, so nothing can rewrite what was served.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.data import FileDataset
from shipyard.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ServingLogDataset"]

_FILTERS = ("model", "since", "until")


class ServingLogDataset(FileDataset):
    """A folder of Parquet parts written by the endpoint (``type: serving_log``)."""

    _type_name = "serving_log"
    stores_folder = True

    def _load(self) -> pd.DataFrame:
        # pandas and pyarrow on first load: a catalog naming the log is built by every
        # command, most of which never read it.
        from shipyard.serving._log import read_log

        unknown = sorted(set(self._load_args) - set(_FILTERS))
        if unknown:
            raise DatasetError(
                f"The serving log at {self._filepath} has unknown load_args {unknown}.",
                hint=f"A serving log takes: {', '.join(_FILTERS)}.",
            )
        return read_log(
            Path(self.location.path),
            model=self._load_args.get("model"),
            since=_moment(self._load_args.get("since")),
            until=_moment(self._load_args.get("until")),
        )

    def _save(self, data: Any) -> None:
        raise DatasetError(
            f"The serving log at {self._filepath} is written only by `shipyard serve`; a "
            "pipeline cannot save to it.",
            hint="Write derived tables (joined labels, drift reports) to a dataset of their own.",
        )

    def _exists(self) -> bool:
        return Path(self.location.path).is_dir()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "load_args": dict(self._load_args)}


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    import pandas as pd

    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"A serving log's since/until is {value!r}, not a date or time.",
            hint='Write a date or an ISO 8601 time, e.g. since: "2026-11-01T08:00".',
        ) from exc
    return (moment.tz_localize("UTC") if moment.tzinfo is None else moment).to_pydatetime()

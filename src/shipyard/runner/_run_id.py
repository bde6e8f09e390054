"""Run ids: the sortable ids of :mod:`shipyard.ids`, under the name the runner exports."""

from __future__ import annotations

from shipyard.ids import new_id

__all__ = ["new_run_id"]

#: A new sortable, unique run id such as ``01jd6w3c5rk0b8x3z5m2n7q4tv``.
new_run_id = new_id

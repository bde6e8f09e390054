"""Peer side of bench/pipeline_overhead.py: one round of Kedro's SequentialRunner.

Runs in the peers venv (``.venv-peers/bin/python bench/peers/kedro_pipeline.py``), with
``kedro.pipeline`` node/pipeline, a ``kedro.io.DataCatalog`` holding one ``MemoryDataset``
input (the catalog creates the intermediates) and ``kedro.runner.SequentialRunner`` without
a hook manager, as in the peer baseline (shared/bench-peers/pipeline.py).

Modes:
  default_logging: as shipped. Importing kedro.runner/kedro.io applies Kedro's rich logging
      config, so every node writes 5 INFO lines to stderr (send stderr to a file or
      /dev/null: a terminal is slower).
  quiet: logging.getLogger("kedro").setLevel(WARNING), the engine alone.

Prints one JSON line (see bench/_pipeline_round.py for the fields).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _pipeline_round as R

DISTS = ("kedro", "kedro-telemetry")


class KedroEngine:
    name = "kedro"

    def __init__(self) -> None:
        import kedro.io
        import kedro.pipeline
        import kedro.runner

        self._io, self._pipeline, self._runner = kedro.io, kedro.pipeline, kedro.runner
        self._logger = logging.getLogger("kedro")
        self._default_level = self._logger.level

    def set_mode(self, mode: str) -> None:
        quiet = mode == "quiet"
        self._logger.setLevel(logging.WARNING if quiet else self._default_level)

    def build(self, shape: str, n: int) -> Any:
        node = self._pipeline.node
        nodes = [node(R.add1, src, dst, name=name) for src, dst, name in R.edges(shape, n)]
        pipe = self._pipeline.pipeline(nodes)
        pipe.nodes  # noqa: B018 - the sorted node list is part of building
        return pipe

    def catalog(self, first: str) -> Any:
        return self._io.DataCatalog(datasets={first: self._io.MemoryDataset(data=0)})

    def run(self, pipeline: Any, catalog: Any) -> None:
        self._runner.SequentialRunner().run(pipeline, catalog)

    def load(self, catalog: Any, name: str) -> Any:
        return catalog.load(name)


if __name__ == "__main__":
    R.worker_main(KedroEngine, DISTS)

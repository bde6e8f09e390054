"""Running nodes one after another in this process: the default, and the simplest to debug."""

from __future__ import annotations

from shipyard.runner._runner import Run, Runner

__all__ = ["SequentialRunner"]


class SequentialRunner(Runner):
    """Runs the nodes one at a time, in the pipeline's order, in this process.

    >>> SequentialRunner().run(training, catalog).completed  # doctest: +SKIP
    ('clean', 'train')
    """

    def _execute(self, run: Run) -> None:
        execute, node_done, restore_cached = run.steps.execute, run.node_done, run.restore_cached
        for node in run.pipeline.nodes:
            if not restore_cached(node):
                node_done(node, execute(node))

    def __repr__(self) -> str:
        return "SequentialRunner()"

"""Dynamic batching: the rows of requests that arrive together go to the model in one call.

Most of what a scikit-learn model spends on a one-row prediction is fixed cost (checking
the input, dispatching), not arithmetic: predicting 8 rows costs about what 1 row does.
When several requests are ready in the same turn of the event loop, their arrays are
stacked and predicted at once, and each request gets back its own slice. A request
never waits for company: the batch is predicted as soon as the requests already in hand
have been decoded (``call_soon``), so a lone request is predicted right away.

A batch that fails is predicted again request by request, so one request whose rows make
the model raise fails alone, with its own error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from shipyard.serving._server import Served

__all__ = ["Batcher"]


class Batcher:
    """Collects ``(served, matrix)`` submissions of one event loop and predicts them in
    batches of up to ``max_rows`` rows (a larger single request is predicted alone)."""

    def __init__(self, max_rows: int = 4096) -> None:
        self.max_rows = max_rows
        self._pending: list[tuple[Served, np.ndarray, asyncio.Future[Any]]] = []
        self._scheduled = False
        #: How many predict calls served how many requests, for the metrics.
        self.calls = 0
        self.requests = 0

    def submit(self, served: Served, matrix: np.ndarray) -> asyncio.Future[Any]:
        """The predictions for ``matrix`` (a future), from ``served``'s array predictor."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((served, matrix, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        while pending:
            # A swap may fall between two requests: a batch never mixes two versions.
            served = pending[0][0]
            batch, rows = [], 0
            for item in pending:
                if item[0] is served and (not batch or rows + len(item[1]) <= self.max_rows):
                    batch.append(item)
                    rows += len(item[1])
            taken = {id(item) for item in batch}
            pending = [item for item in pending if id(item) not in taken]
            self._predict(served, batch)

    def _predict(self, served: Served, batch: list[tuple[Any, np.ndarray, Any]]) -> None:
        predict = served.predict_matrix
        assert predict is not None  # only array-path requests are submitted
        self.calls += 1
        self.requests += len(batch)
        if len(batch) == 1:
            _settle(batch[0][2], predict, batch[0][1])
            return
        try:
            predictions = np.asarray(predict(np.vstack([item[1] for item in batch])))
        except Exception:  # one request's rows may be the cause: try each alone
            for _, matrix, future in batch:
                _settle(future, predict, matrix)
            return
        start = 0
        for _, matrix, future in batch:
            end = start + len(matrix)
            if not future.done():
                future.set_result(predictions[start:end])
            start = end


def _settle(future: asyncio.Future[Any], predict: Any, matrix: np.ndarray) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    try:
        future.set_result(predict(matrix))
    except Exception as exc:
        future.set_exception(exc)

"""Dynamic batching on a real event loop: requests made ready together share one model
call, each gets its own rows, a failing batch fails only the request that caused it, and
two versions are never mixed in one call."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import pytest

from shipyard.serving._batching import Batcher


class CountingModel:
    """Predicts the row sums; raises on a row holding -1; counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        self.calls.append(len(matrix))
        if (matrix == -1).any():
            raise ValueError("a row holds -1")
        return matrix.sum(axis=1)


def served(model: CountingModel) -> SimpleNamespace:
    return SimpleNamespace(predict_matrix=model.predict)


async def submit_together(batcher: Batcher, items):
    return await asyncio.gather(
        *(batcher.submit(version, matrix) for version, matrix in items), return_exceptions=True
    )


def test_requests_ready_together_share_one_call_and_get_their_own_rows():
    model = CountingModel()
    version = served(model)
    matrices = [np.full((rows, 2), float(rows)) for rows in (1, 3, 2)]
    batcher = Batcher()
    answers = asyncio.run(submit_together(batcher, [(version, m) for m in matrices]))
    assert model.calls == [6]
    for matrix, answer in zip(matrices, answers, strict=True):
        assert np.array_equal(answer, matrix.sum(axis=1))
    assert (batcher.calls, batcher.requests) == (1, 3)


def test_a_lone_request_is_predicted_at_once():
    model = CountingModel()

    async def one() -> np.ndarray:
        return await Batcher().submit(served(model), np.ones((1, 2)))

    assert asyncio.run(asyncio.wait_for(one(), timeout=1)).tolist() == [2.0]
    assert model.calls == [1]


def test_a_failing_batch_fails_only_the_request_that_caused_it():
    model = CountingModel()
    version = served(model)
    good, bad = np.ones((2, 2)), np.array([[-1.0, 0.0]])
    answers = asyncio.run(submit_together(Batcher(), [(version, good), (version, bad)]))
    assert answers[0].tolist() == [2.0, 2.0]
    assert isinstance(answers[1], ValueError)
    assert model.calls == [3, 2, 1]  # the batch, then each request alone


def test_two_versions_are_never_mixed_and_batches_respect_max_rows():
    old, new = CountingModel(), CountingModel()
    items = [(served(old), np.ones((2, 2))), (served(new), np.ones((1, 2)))]
    items.append((items[0][0], np.ones((3, 2))))
    answers = asyncio.run(submit_together(Batcher(max_rows=4), items))
    assert [len(answer) for answer in answers] == [2, 1, 3]
    assert old.calls == [2, 3] and new.calls == [1]  # 2 + 3 rows exceed max_rows


@pytest.mark.parametrize("rows", [1, 5])
def test_a_cancelled_request_does_not_break_the_batch(rows):
    model = CountingModel()
    version = served(model)

    async def main():
        batcher = Batcher()
        first = batcher.submit(version, np.ones((rows, 2)))
        second = batcher.submit(version, np.ones((1, 2)))
        first.cancel()  # the client went away before the batch ran
        return await second

    assert asyncio.run(main()).tolist() == [2.0]

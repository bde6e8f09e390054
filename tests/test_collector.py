"""Pausing the cyclic garbage collector: off inside, as it was afterwards, whatever the
threads and exceptions."""

from __future__ import annotations

import gc
import threading

import pytest

from shipyard._collector import collector_paused


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after_even_on_an_exception():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_the_last_of_overlapping_pausers_turns_it_back_on():
    first_inside, second_left = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_inside.set()
            second_left.wait(10)
            seen.append(gc.isenabled())  # the other thread left: still off for this one

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(10)
    with collector_paused():
        assert not gc.isenabled()
    second_left.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()

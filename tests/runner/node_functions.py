"""Node functions for runner tests, at module level so worker processes can import them."""

from __future__ import annotations

import os
import signal
import threading
import time


def double(x):
    return 2 * x


def add(a, b):
    return a + b


def plus_one(x):
    return x + 1


def pair(a, b):
    return (a, b)


def slow_double(x):
    time.sleep(0.3)
    return 2 * x


def fail(x):
    raise ValueError(f"cannot handle {x}")


def interrupt(x):
    raise KeyboardInterrupt


def send_sigint(x):
    """Ctrl-C as a terminal sends it: SIGINT to this process, while other nodes run."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1)  # the main thread is interrupted meanwhile
    return x


def make_lock(x):
    return threading.Lock()


def use_lock(lock):
    return 1


def wrong_count(x):
    return (x, x)


class PickyError(Exception):
    """An exception that cannot be rebuilt by unpickling (its __init__ needs two args)."""

    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")


def raise_picky(x):
    raise PickyError(7, "picky")

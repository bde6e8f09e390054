"""Ids that sort by time: 26 characters, ULID-style, from the standard library only.

The first 10 characters encode the millisecond, the last 16 are random, in Crockford's
base32 (lower case). Ids made in the same millisecond by one process still sort in the
order they were made, because the random part is incremented instead of redrawn. Runs
and dataset versions are named with them.

>>> len(new_id())
26
"""

from __future__ import annotations

import os
import re
import threading
import time

__all__ = ["ID_PATTERN", "new_id"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RANDOM_BITS = 80
#: What an id looks like; names that match it cannot be used as tags.
ID_PATTERN = re.compile(f"[{_ALPHABET}]{{26}}")
_lock = threading.Lock()
_last = [0, 0]  # the millisecond and random part of the previous id


def new_id() -> str:
    """A new sortable, unique id such as ``01jd6w3c5rk0b8x3z5m2n7q4tv``."""
    with _lock:
        millisecond = time.time_ns() // 1_000_000
        if millisecond <= _last[0]:
            millisecond, random_part = _last[0], _last[1] + 1
            if random_part >> _RANDOM_BITS:  # the random part ran out: borrow the next ms
                millisecond, random_part = millisecond + 1, 0
        else:
            random_part = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        _last[0], _last[1] = millisecond, random_part
    value = (millisecond << _RANDOM_BITS) | random_part
    characters = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        characters.append(_ALPHABET[digit])
    return "".join(reversed(characters))

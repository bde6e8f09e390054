"""The endpoint's Prometheus metrics, in the text exposition format at ``GET /metrics``.

A handful of counters and one latency histogram do not need a client library: each is a
dict of label values to numbers, updated on the event loop (one thread), rendered on
request. Names follow Prometheus' conventions (``_total`` counters, ``_seconds``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterator

__all__ = ["ServingMetrics"]

#: Upper bounds of the latency histogram's buckets, in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


class ServingMetrics:
    """Counters of requests, rows, errors, swaps and log losses, and request latency."""

    def __init__(self) -> None:
        self.requests: defaultdict[Labels, int] = defaultdict(int)
        self.rows: defaultdict[Labels, int] = defaultdict(int)
        self.swaps: defaultdict[Labels, int] = defaultdict(int)
        self.latency_counts: defaultdict[Labels, list[int]] = defaultdict(
            lambda: [0] * (len(LATENCY_BUCKETS) + 1)
        )
        self.latency_sums: defaultdict[Labels, float] = defaultdict(float)
        #: Gauges read when rendered: name -> (help, function giving the value).
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request of ``endpoint`` with ``status``."""
        self.requests[(("endpoint", endpoint), ("status", str(status)))] += 1
        timing = (("endpoint", endpoint),)
        self.latency_counts[timing][bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sums[timing] += seconds

    def count_rows(self, endpoint: str, rows: int) -> None:
        """Count ``rows`` predicted by ``endpoint``."""
        self.rows[(("endpoint", endpoint),)] += rows

    def swapped(self, model: str, version: int) -> None:
        """Count a swap to ``version`` of ``model``."""
        self.swaps[(("model", model), ("version", str(version)))] += 1

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Report ``read()`` as gauge ``name`` at every scrape."""
        self.gauges[name] = (help_text, read)

    def render(self) -> str:
        """All metrics in the Prometheus text format (version 0.0.4)."""
        return "".join(self._lines())

    def _lines(self) -> Iterator[str]:
        yield from _family(
            "shipyard_requests_total", "counter", "Requests answered.", self.requests
        )
        yield from _family(
            "shipyard_prediction_rows_total", "counter", "Rows predicted.", self.rows
        )
        yield from _family(
            "shipyard_model_swaps_total", "counter", "Model versions swapped in.", self.swaps
        )
        name = "shipyard_request_duration_seconds"
        yield f"# HELP {name} Time from request to response.\n# TYPE {name} histogram\n"
        for labels, counts in sorted(self.latency_counts.items()):
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                yield f"{name}_bucket{_format((*labels, ('le', le)))} {cumulative}\n"
            yield f"{name}_sum{_format(labels)} {self.latency_sums[labels]!r}\n"
            yield f"{name}_count{_format(labels)} {cumulative}\n"
        for gauge_name, (help_text, read) in sorted(self.gauges.items()):
            yield f"# HELP {gauge_name} {help_text}\n# TYPE {gauge_name} gauge\n"
            yield f"{gauge_name} {float(read())!r}\n"


def _family(name: str, kind: str, help_text: str, values: dict[Labels, int]) -> Iterator[str]:
    yield f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"
    for labels, value in sorted(values.items()):
        yield f"{name}{_format(labels)} {value}\n"


def _format(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

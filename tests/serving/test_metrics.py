"""The Prometheus text the endpoint serves: counters, histogram buckets, gauges, escaping."""

from __future__ import annotations

from shipyard.serving._metrics import LATENCY_BUCKETS, ServingMetrics


def test_counters_histogram_and_gauges_render_in_the_text_format():
    metrics = ServingMetrics()
    metrics.observe("predict", 200, 0.002)
    metrics.observe("predict", 200, 0.3)
    metrics.observe("predict", 422, 0.0005)
    metrics.count_rows("predict", 7)
    metrics.swapped("churn", 2)
    metrics.gauge("shipyard_prediction_log_dropped_rows", "Rows lost.", lambda: 3)
    text = metrics.render()
    assert 'shipyard_requests_total{endpoint="predict",status="200"} 2\n' in text
    assert 'shipyard_requests_total{endpoint="predict",status="422"} 1\n' in text
    assert 'shipyard_prediction_rows_total{endpoint="predict"} 7\n' in text
    assert 'shipyard_model_swaps_total{model="churn",version="2"} 1\n' in text
    assert 'shipyard_request_duration_seconds_bucket{endpoint="predict",le="0.001"} 1\n' in text
    assert 'shipyard_request_duration_seconds_bucket{endpoint="predict",le="0.0025"} 2\n' in text
    assert 'shipyard_request_duration_seconds_bucket{endpoint="predict",le="+Inf"} 3\n' in text
    assert 'shipyard_request_duration_seconds_count{endpoint="predict"} 3\n' in text
    assert "shipyard_prediction_log_dropped_rows 3.0\n" in text
    assert text.count("# TYPE shipyard_request_duration_seconds histogram") == 1
    assert (
        len([line for line in text.splitlines() if "_bucket{" in line]) == len(LATENCY_BUCKETS) + 1
    )


def test_label_values_are_escaped():
    metrics = ServingMetrics()
    metrics.swapped('we"ird\\name\n', 1)
    assert 'model="we\\"ird\\\\name\\n"' in metrics.render()

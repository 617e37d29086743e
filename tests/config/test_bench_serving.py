"""bench serving's printing: figures a load generator does not report are left out, never "nan"."""

from __future__ import annotations

from bench.serving import _spread

NAN = float("nan")


def test_the_connections_spread_is_left_out_when_wrk_does_not_report_it():
    assert _spread({"conn_mean_min": NAN, "conn_mean_max": NAN}) == ""


def test_the_connections_spread_is_printed_from_our_own_load_client():
    assert _spread({"conn_mean_min": 12.34, "conn_mean_max": 20.0}) == "   connections' means 12.3-20.0 ms"

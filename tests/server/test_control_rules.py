from __future__ import annotations

import datetime as dt

import pytest

from server.control.catalog_rules import CatalogRules, RulesError
from server.control.qoe import aggregate, percentile

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
RULES = {
    "default": {"windows": [{"countries": ["US"]}]},
    "titles": {
        "a": {
            "windows": [
                {"countries": ["US", "gb"], "start": "2026-01-01", "end": "2027-01-01"},
                {"countries": ["FR"], "start": "2026-09-01"},
                {"countries": ["DE"], "end": "2026-01-01"},
                {"countries": ["NO"], "devices": ["tv"]},
            ]
        },
        "everywhere": {"windows": [{"countries": "*"}]},
    },
}


@pytest.fixture
def rules() -> CatalogRules:
    return CatalogRules(RULES)


def test_inside_window(rules: CatalogRules) -> None:
    assert rules.check("a", "us", "tv", NOW).allowed
    assert rules.check("a", "GB", "tv", NOW).allowed


def test_country_not_listed(rules: CatalogRules) -> None:
    d = rules.check("a", "JP", "tv", NOW)
    assert not d.allowed and "not licensed in JP" in d.reason


def test_window_not_open_yet_and_ended(rules: CatalogRules) -> None:
    d = rules.check("a", "FR", "tv", NOW)
    assert not d.allowed and "opens 2026-09-01" in d.reason
    d = rules.check("a", "DE", "tv", NOW)
    assert not d.allowed and "ended" in d.reason


def test_end_is_exclusive(rules: CatalogRules) -> None:
    assert not rules.check("a", "US", "tv", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)).allowed


def test_device_class(rules: CatalogRules) -> None:
    assert rules.check("a", "NO", "tv", NOW).allowed
    d = rules.check("a", "NO", "mobile", NOW)
    assert not d.allowed and "device class" in d.reason


def test_default_and_wildcard(rules: CatalogRules) -> None:
    assert rules.check("unlisted", "US", "tv", NOW).allowed
    assert not rules.check("unlisted", "GB", "tv", NOW).allowed
    assert rules.check("everywhere", "ZZ", "tv", NOW).allowed
    assert CatalogRules(None).check("x", "ZZ", "tv", NOW).allowed


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"titles": {"a": {}}}, "titles.a"),
        ({"titles": {"a": {"windows": [{"countries": "US"}]}}}, "countries"),
        ({"titles": {"a": {"windows": [{"start": "yesterday"}]}}}, "start"),
        ({"titles": []}, "titles"),
    ],
)
def test_bad_rules_say_where(bad: dict, where: str) -> None:
    with pytest.raises(RulesError, match=where):
        CatalogRules(bad)


def test_percentile_matches_numpy() -> None:
    np = pytest.importorskip("numpy")
    xs = [0.3, 1.2, 0.7, 2.5, 0.9]
    for p in (0, 50, 95, 100):
        assert percentile(xs, p) == pytest.approx(float(np.percentile(xs, p)))
    assert percentile([], 50) is None


def test_aggregate_uses_latest_cumulative_summary() -> None:
    rows = [
        ("t", "s1", "startup", {"startup_s": 1.0}),
        ("t", "s1", "heartbeat", {"bitrate_bps": 1e6, "played_s": 10, "rebuffer_s": 0}),
        ("t", "s1", "stall", {"seconds": 2.0}),
        ("t", "s1", "summary", {"bitrate_bps": 2e6, "played_s": 30, "rebuffer_s": 2}),
        ("t", "s1", "heartbeat", {"bitrate_bps": 9e6, "played_s": 1, "rebuffer_s": 0}),
        ("t", "s2", "startup", {"startup_s": 3.0}),
        ("t", "s2", "heartbeat", {"bitrate_bps": 4e6, "played_s": 10, "rebuffer_s": 0}),
        ("t", "s2", "failover", {}),
    ]
    q = aggregate(rows)["t"]
    assert q["sessions"] == 2
    assert q["startup_p50_s"] == pytest.approx(2.0)
    assert q["rebuffer_ratio"] == pytest.approx(2 / 42)
    assert q["avg_bitrate_bps"] == pytest.approx((2e6 * 30 + 4e6 * 10) / 40)
    assert q["failovers"] == 1 and q["stalls"] == 1


def test_aggregate_understands_telemetry_package_events() -> None:
    rows = [
        ("t", "s1", "stall_end", {"stall_s": 1.5}),
        ("t", "s1", "heartbeat", {"bitrate_bps": 1e6, "played_s": 5, "rebuffer_s": 0}),
        (
            "t",
            "s1",
            "session_end",
            {"qoe": {"played_s": 20.0, "rebuffer_s": 1.5, "average_bitrate_bps": 3e6}},
        ),
        ("t", "s2", "session_end", {"qoe": {}}),  # no numbers: ignored as a summary
    ]
    q = aggregate(rows)["t"]
    assert q["stalls"] == 1 and q["stall_s"] == 1.5
    assert q["rebuffer_ratio"] == pytest.approx(1.5 / 21.5)
    assert q["avg_bitrate_bps"] == pytest.approx(3e6)

"""A scrape that asks for some series (`/metrics?name[]=...`) gets exactly those samples of the
whole page, and the collector builds no window or histogram family it was not asked for
(metrics.collector.REQUESTED_SAMPLES, set by the page handler in streams.app)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import metrics.collector
from metrics.collector import REQUESTED_SAMPLES
from streams.app import SigapApp
from tests.streams.test_agents import event, run, sigap  # noqa: F401 - the fixture

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: bytes) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(app: SigapApp, asked: frozenset[str] | None) -> Samples:
    """What prometheus_client's exposition serves for `name[]` = asked, with the request's
    names made known to the collector as the page handler does."""
    token = REQUESTED_SAMPLES.set(asked)
    try:
        registry: Any = app.registry
        return parse(
            generate_latest(registry if asked is None else registry.restricted_registry(asked))
        )
    finally:
        REQUESTED_SAMPLES.reset(token)


def traffic(app: SigapApp) -> None:
    run(
        app,
        [
            (b"c1", event("e1", "created", "c1", "2026-11-02T09:00:00+07:00", unit="dlh")),
            (b"c1", event("e2", "resolved", "c1", "2026-11-02T11:30:00+07:00")),
            (b"c2", event("e3", "created", "c2", "2026-11-02T10:00:00+07:00", unit="dsda")),
        ],
    )


ASKED = [
    frozenset({"sigap_complaints_created_total"}),
    frozenset({"sigap_complaint_window_seconds"}),
    frozenset({"sigap_complaint_category_window_stopped_timers", "sigap_events_processed_total"}),
    frozenset({"sigap_complaint_resolution_wall_seconds_bucket"}),
    frozenset({"sigap_complaint_period_within_target_ratio", "sigap_complaints_open"}),
]


@pytest.mark.parametrize("asked", ASKED, ids=lambda asked: "+".join(sorted(asked)))
def test_a_scrape_asking_for_some_series_gets_exactly_those_samples_of_the_whole_page(
    sigap: SigapApp,  # noqa: F811
    asked: frozenset[str],
) -> None:
    traffic(sigap)
    whole = scrape(sigap, None)
    expected = {key: value for key, value in whole.items() if key[0] in asked}
    assert expected  # each asked series has samples on the whole page
    found = scrape(sigap, asked)
    # NaN (an empty window's quantile) is not equal to itself: compare as text.
    assert {k: repr(v) for k, v in found.items()} == {k: repr(v) for k, v in expected.items()}


def test_a_scrape_asking_for_a_counter_builds_no_window_or_histogram_family(
    sigap: SigapApp,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    traffic(sigap)
    built: list[str] = []
    add_window = metrics.collector._WindowFamilies.add
    add_histogram = metrics.collector._histogram

    def counting_window(self: Any, *args: Any) -> None:
        built.append("window")
        add_window(self, *args)

    def counting_histogram(*args: Any) -> None:
        built.append("histogram")
        add_histogram(*args)

    monkeypatch.setattr(metrics.collector._WindowFamilies, "add", counting_window)
    monkeypatch.setattr(metrics.collector, "_histogram", counting_histogram)
    scrape(sigap, frozenset({"sigap_complaints_created_total"}))
    assert built == []
    scrape(sigap, frozenset({"sigap_complaint_window_stopped_timers"}))
    assert "window" in built and "histogram" not in built
    built.clear()
    scrape(sigap, None)
    assert "window" in built and "histogram" in built

"""A table-recovery step that times out (the broker away past `broker_request_timeout`) must
restart the recovery, not end it for good (streams/recovery.py; soak rounds 12 and 14); and
a changelog partition fetched to its end whose last records never reached the tables is read
again rather than waited for ever (the rebalance test's stuck worker, 2026-12-07).

These run Faust's own `Recovery._wait` and SIGAP's `PatientRecovery._wait` on a real
faust.App with a step that never completes and a short timeout."""

from __future__ import annotations

import asyncio
import contextlib

import faust
import pytest
from faust.tables.recovery import RebalanceAgain, Recovery, ServiceStopped
from faust.types import TP

import streams.recovery as recovery_module
from sigap.settings import Settings
from streams.app import faust_settings
from streams.recovery import PatientRecovery, SigapTableManager


def recovery_of(app: faust.App, cls: type[Recovery]) -> Recovery:
    return cls(app, app.tables, beacon=app.tables.beacon, loop=asyncio.get_running_loop())


async def never() -> None:
    await asyncio.Event().wait()


def test_faust_recovery_ends_for_good_when_a_step_times_out() -> None:
    """The defect, in the library: a timeout reads as 'service stopped'."""

    async def run() -> None:
        app = faust.App("recovery-timeout-faust", broker="memory://")
        recovery = recovery_of(app, Recovery)
        with pytest.raises(ServiceStopped):
            await recovery._wait(never(), timeout=0.2)

    asyncio.run(run())


def test_a_timed_out_recovery_step_restarts_the_recovery() -> None:
    async def run() -> None:
        app = faust.App("recovery-timeout-sigap", broker="memory://")
        recovery = recovery_of(app, PatientRecovery)
        assert not recovery.signal_recovery_start.is_set()
        with pytest.raises(RebalanceAgain):
            await recovery._wait(never(), timeout=0.2)
        # The loop's `continue` finds the signal set and starts the recovery again.
        assert recovery.signal_recovery_start.is_set()
        assert isinstance(recovery, PatientRecovery) and recovery.timeouts == 1

    asyncio.run(run())


def test_a_completed_step_passes_and_a_stopping_service_still_stops() -> None:
    async def run() -> None:
        app = faust.App("recovery-timeout-stop", broker="memory://")
        recovery = recovery_of(app, PatientRecovery)
        await recovery._wait(asyncio.sleep(0), timeout=5)  # completes: no exception
        assert not recovery.signal_recovery_start.is_set()
        await recovery.stop()
        with pytest.raises(ServiceStopped):
            await recovery._wait(never(), timeout=0.2)

    asyncio.run(run())


def test_the_worker_app_uses_the_patient_recovery() -> None:
    settings = Settings()
    assert faust_settings(settings)["TableManager"] is SigapTableManager
    # Soak round 14: the first assignment after a broker restart found no topics; the
    # consumer must look again well within the soak's 180 s (aiokafka's default is 300 s).
    app_settings = faust.App("recovery-metadata", **faust_settings(settings)).conf
    assert app_settings.consumer_metadata_max_age_ms <= 60_000
    app = faust.App("recovery-manager", broker="memory://", TableManager=SigapTableManager)
    assert isinstance(app.tables.recovery, PatientRecovery)


class Consumer:
    """The two consumer calls the watch makes: where each partition stands, and a seek."""

    def __init__(self, positions: dict[TP, int]) -> None:
        self.positions = positions
        self.seeks: list[dict[TP, int]] = []

    async def position(self, tp: TP) -> int | None:
        return self.positions.get(tp)

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.append(dict(partitions))


CHANGELOG = TP("sigap-complaints-changelog", 2)
CAUGHT_UP = TP("sigap-complaints-changelog", 3)


async def watched_recovery(
    name: str, monkeypatch: pytest.MonkeyPatch, position: int, *, queued: bool = False
) -> tuple[PatientRecovery, Consumer]:
    """A recovery reading the changelogs: CHANGELOG applied to offset 37 of 39 (Faust's
    highwater: the last record's offset), CAUGHT_UP applied to its last record (39)."""
    monkeypatch.setattr(recovery_module, "STALL_CHECK_SECONDS", 0.02)
    monkeypatch.setattr(recovery_module, "STALL_SECONDS", 0.1)
    app = faust.App(name, broker="memory://")
    consumer = Consumer({CHANGELOG: position, CAUGHT_UP: 40})
    app.consumer = consumer  # type: ignore[assignment]
    recovery = recovery_of(app, PatientRecovery)
    assert isinstance(recovery, PatientRecovery)
    recovery._set_recovery_started()
    recovery.active_highwaters.update({CHANGELOG: 39, CAUGHT_UP: 39})
    recovery.active_offsets.update({CHANGELOG: 37, CAUGHT_UP: 39})
    if queued:
        app.tables.changelog_queue.put_nowait(object())  # type: ignore[arg-type]
    return recovery, consumer


async def watch_for(recovery: Recovery, seconds: float) -> None:
    """Let the watch run for `seconds`, then end it the way a rebalance does (the watched
    wait raises RebalanceAgain), within 5 s: a watch that does not end fails the test
    instead of hanging it (CI of 2026-12-08 hung here once, on a cancelled wait_for)."""
    waiting = asyncio.ensure_future(recovery._wait(never()))
    await asyncio.sleep(seconds)
    assert not waiting.done(), "the watched wait ended by itself"
    recovery.signal_recovery_start.set()
    with contextlib.suppress(RebalanceAgain):
        await asyncio.wait_for(waiting, timeout=5)


def test_a_changelog_fetched_to_its_end_but_not_applied_is_read_again_from_the_last_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rebalance test's stuck worker: position past the end, records 38-39 never
    received. The library waits for them for ever; the watch seeks back to 37."""

    async def run() -> None:
        recovery, consumer = await watched_recovery("watch-stalled", monkeypatch, position=40)
        await watch_for(recovery, 1.0)
        assert consumer.seeks and consumer.seeks[0] == {CHANGELOG: 37}
        assert isinstance(recovery, PatientRecovery) and recovery.rereads >= 1

    asyncio.run(run())


@pytest.mark.parametrize(
    ("position", "queued", "why"),
    [
        (39, False, "record 39 is still to be fetched"),
        (40, True, "records are queued for the tables"),
    ],
)
def test_a_changelog_still_being_read_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, position: int, queued: bool, why: str
) -> None:
    async def run() -> None:
        recovery, consumer = await watched_recovery(
            f"watch-{position}-{queued}", monkeypatch, position, queued=queued
        )
        await watch_for(recovery, 0.6)
        assert consumer.seeks == [], why

    asyncio.run(run())


def test_the_watched_wait_ends_with_its_step_and_on_a_new_rebalance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        recovery, consumer = await watched_recovery("watch-ends", monkeypatch, position=40)
        # A step that ends before any stall is seen: returns, nothing read again.
        await asyncio.wait_for(recovery._wait(asyncio.sleep(0.05)), timeout=5)
        assert consumer.seeks == []
        # A rebalance while waiting: Faust's RebalanceAgain, as from its own _wait.
        waiting = asyncio.ensure_future(recovery._wait(never()))
        await asyncio.sleep(0.05)
        recovery.signal_recovery_start.set()
        with pytest.raises(RebalanceAgain):
            await asyncio.wait_for(waiting, timeout=5)

    asyncio.run(run())

"""A table-recovery step that times out (the broker away past `broker_request_timeout`) must
restart the recovery, not end it for good (streams/recovery.py; soak rounds 12 and 14).

These run Faust's own `Recovery._wait` and SIGAP's `PatientRecovery._wait` on a real
faust.App with a step that never completes and a short timeout."""

from __future__ import annotations

import asyncio

import faust
import pytest
from faust.tables.recovery import RebalanceAgain, Recovery, ServiceStopped

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

"""The worker's state dump: `kill -USR1 <pid>` logs what its consumer is doing.

A worker that holds its partitions, heartbeats and answers /metrics but processes nothing
(docs/delivery.md, "Open": the rebalance stall) shows nothing wrong in its log. The person
on duty, before restarting it, sends SIGUSR1 and the worker logs (WARNING, one block):
Faust's flow state (flow active, recovery, generation), per assigned partition the
aiokafka fetch state (status, position, paused, highwater) beside Faust's read, acknowledged
and committed offsets, the fetcher tasks, each agent actor's queue, and every asyncio task
with where it waits. Only offsets, topic names, flags and code locations: no event content,
no complaint or officer identifiers.

Every read is guarded: the dump must never disturb or stop the worker it describes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from functools import partial
from typing import Any

log = logging.getLogger(__name__)

DUMP_SIGNAL = signal.SIGUSR1
STATE_DUMP_TITLE = "worker state dump (SIGUSR1)"
# Lines of the block, so that a worker with thousands of tasks cannot flood its log.
MAX_TASK_LINES = 200


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception as error:  # a diagnostic reads private state: report, never raise
        return f"<{type(error).__name__}>"


def _flag(event: Any) -> Any:
    return _safe(lambda: event.is_set())


def flow_line(faust_app: Any, state_ready: bool) -> str:
    consumer = faust_app.consumer
    recovery = _safe(lambda: faust_app.tables.recovery)
    return (
        f"flow_active={_safe(lambda: consumer.flow_active)} "
        f"can_resume_flow={_flag(consumer.can_resume_flow)} "
        f"suspend_flow={_flag(consumer.suspend_flow)} "
        f"flow_control_active={_safe(lambda: faust_app.flow_control.is_active())} "
        f"in_recovery={_safe(lambda: faust_app.in_recovery)} "
        f"rebalancing={_safe(lambda: faust_app.rebalancing)} "
        f"generation={_safe(lambda: faust_app.consumer_generation_id)} "
        f"recovery_completed={_flag(_safe(lambda: recovery.completed))} "
        f"recovery_state={_safe(lambda: recovery.state)} "
        f"app_fetcher={_safe(lambda: faust_app._fetcher.state)} "
        f"consumer_thread={_safe(lambda: consumer._thread.state)} "
        f"state_ready={state_ready} "
        f"gc_thresholds={gc.get_threshold()} gc_frozen={gc.get_freeze_count()}"
    )


def partition_line(consumer: Any, assignment: Any, tp: Any) -> str:
    """One assigned partition: aiokafka's fetch state beside Faust's offsets."""
    state = assignment.state_value(tp)
    return (
        f"{tp.topic}[{tp.partition}] "
        f"status={state._status.name} position={state._position} paused={state.paused} "
        f"highwater={state.highwater} "
        f"faust_active={tp in consumer._active_partitions} "
        f"faust_paused={tp in consumer._paused_partitions} "
        f"read={consumer._read_offset.get(tp)} "
        f"committed={consumer._committed_offset.get(tp)} "
        f"acked_pending={len(consumer._acked.get(tp, ()))}"
    )


def partition_lines(faust_app: Any) -> list[str]:
    consumer = faust_app.consumer
    aio = _safe(lambda: consumer._thread._consumer)
    assignment = _safe(lambda: aio._subscription.subscription.assignment)
    tps = _safe(lambda: sorted(assignment.tps))
    if not isinstance(tps, list):
        return [f"no aiokafka assignment ({tps})"]
    lines: list[str] = []
    for tp in tps:
        lines.append(str(_safe(partial(partition_line, consumer, assignment, tp))))
    fetcher = _safe(lambda: aio._fetcher)
    lines.append(
        f"aiokafka fetch task done={_safe(lambda: fetcher._fetch_task.done())} "
        f"records_ready={_safe(lambda: len(fetcher._records))} "
        f"in_flight={_safe(lambda: len(fetcher._in_flight))}"
    )
    return lines


def actor_line(agent: Any, actor: Any) -> str:
    return (
        f"agent {agent.name}: queue={actor.stream.channel.queue.qsize()} "
        f"task_done={actor.actor_task.done()}"
    )


def agent_lines(faust_app: Any) -> list[str]:
    lines: list[str] = []
    agents = _safe(lambda: list(faust_app.agents.values()))
    for agent in agents if isinstance(agents, list) else []:
        actors = _safe(partial(list, agent._actors))
        for actor in actors if isinstance(actors, list) else []:
            lines.append(str(_safe(partial(actor_line, agent, actor))))
    return lines


def await_chain(task: asyncio.Task[Any], depth: int = 12) -> str:
    """Where a task waits: its coroutine's await chain, outermost first (function:line);
    `Task.get_stack` shows only the outermost frame of a suspended coroutine."""
    steps: list[str] = []
    current: Any = task.get_coro()
    while current is not None and len(steps) < depth:
        frame = getattr(current, "cr_frame", None) or getattr(current, "ag_frame", None)
        if frame is None:
            name = getattr(current, "__qualname__", type(current).__name__)
            steps.append(str(name))
            break
        steps.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        current = getattr(current, "cr_await", None) or getattr(current, "ag_await", None)
    return " > ".join(steps)


def task_lines(
    loop: asyncio.AbstractEventLoop | None = None, title: str = "task", limit: int = MAX_TASK_LINES
) -> list[str]:
    """Every task of `loop` (the running one by default) with where it waits."""
    lines: list[str] = []
    tasks = _safe(lambda: asyncio.all_tasks(loop))
    for task in sorted(tasks, key=lambda t: t.get_name()) if isinstance(tasks, set) else []:
        lines.append(f"{title} {task.get_name()[:60]}: {_safe(partial(await_chain, task))}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more tasks"]
    return lines


def state_dump(faust_app: Any, state_ready: bool) -> str:
    """The dump's text: flow, partitions, agents, tasks (one line each)."""
    lines = [
        STATE_DUMP_TITLE,
        flow_line(faust_app, state_ready),
        *partition_lines(faust_app),
        *agent_lines(faust_app),
        *task_lines(),
        # aiokafka's consumer runs in a thread with its own loop (faust's ConsumerThread).
        *task_lines(_safe(lambda: faust_app.consumer._thread.thread_loop), "consumer-thread task"),
    ]
    return "\n  ".join(lines)


def install_state_dump(faust_app: Any, state_ready: Callable[[], bool]) -> None:
    """On the running loop: SIGUSR1 logs `state_dump` (call from a task of the worker)."""

    def dump() -> None:
        log.warning("%s", _safe(lambda: state_dump(faust_app, state_ready())))

    asyncio.get_running_loop().add_signal_handler(DUMP_SIGNAL, dump)

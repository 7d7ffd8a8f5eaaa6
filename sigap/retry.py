"""Start-up against a broker or database that is not there yet: bounded retry with backoff.

A command that needs the broker (topics) or the database (schema) at start-up retries with
exponential backoff (0.5 s doubling to 10 s between tries, with jitter), logs one line per
try naming what it waits for, and gives up after the `SIGAP_CONNECT_TIMEOUT_SECONDS`
budget with one clear message instead of a traceback or a tight reconnect loop.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Unreachable(RuntimeError):
    """The broker or the database did not answer within the start-up budget."""


def with_backoff(
    action: Callable[[], T],
    *,
    what: str,
    retry_on: tuple[type[BaseException], ...],
    timeout_seconds: float,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`action()`, retried on `retry_on` until `timeout_seconds` have passed."""
    deadline = clock() + timeout_seconds
    delay = first_delay
    tries = 0
    while True:
        tries += 1
        try:
            return action()
        except retry_on as error:
            left = deadline - clock()
            if left <= 0:
                raise Unreachable(
                    f"{what} did not answer after {tries} tries in {timeout_seconds:.0f} s "
                    f"({type(error).__name__}); check that it runs and the settings that "
                    "point to it"
                ) from None
            wait = min(delay * random.uniform(0.8, 1.2), max_delay, left)
            log.warning(
                "%s unreachable (%s); retry %d in %.1f s", what, type(error).__name__, tries, wait
            )
            sleep(wait)
            delay = min(delay * 2, max_delay)

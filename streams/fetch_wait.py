"""How long the worker's consumer lets the broker hold a fetch: 100 ms, not Faust's 1.5 s.

faust-streaming 0.15.3 creates its aiokafka consumer with `fetch_max_wait_ms=1500`, with no
setting to change it. aiokafka sends one fetch at a time to a broker, and none while any of
that broker's partitions still has fetched records not yet handed to the agents. So a fetch
sent for the partitions that had nothing (say, the views partitions, while the events were
still being handed over) is held by the broker until one of *them* gets a record, or for
1.5 s; the records arriving meanwhile on the other partitions wait for it. Under live load
the events and the views each waited up to 1.5 s at every such turn: at 1,000 events/s the
worker processed nothing for 0.5-1.5 s at a time and took events 1-2 s old (bench/RESULTS.md,
"Issue 19: live batches, fetches and polls"). With 100 ms a held fetch costs at most that;
an idle worker sends ten small fetch requests a second instead of one every 1.5 s.
"""

from __future__ import annotations

import logging
from typing import Any, Final

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS: Final = 100


def shorten_fetch_wait(consumer: Any, wait_ms: int = FETCH_MAX_WAIT_MS) -> bool:
    """Make the aiokafka consumer under Faust's `consumer` ask the broker to hold each fetch
    at most `wait_ms`, from its next fetch on. Idempotent; called after every assignment (a
    consumer Faust creates anew gets it too). False, logged, when the aiokafka consumer has
    no fetcher of the expected shape (another aiokafka): the worker runs with Faust's wait.
    """
    aiokafka_consumer = consumer._thread._ensure_consumer()
    fetcher: Any = getattr(aiokafka_consumer, "_fetcher", None)
    current = getattr(fetcher, "_fetch_max_wait_ms", None)
    if not isinstance(current, int):
        log.warning(
            "the consumer's fetch wait could not be set to %d ms (aiokafka's Fetcher has no "
            "_fetch_max_wait_ms): fetches wait up to Faust's 1500 ms",
            wait_ms,
        )
        return False
    if current != wait_ms:
        fetcher._fetch_max_wait_ms = wait_ms
        log.info("consumer fetch wait: %d ms (was %d ms)", wait_ms, current)
    return True

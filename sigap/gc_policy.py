"""The garbage collector's policy for SIGAP's long-running and batch processes.

CPython's cyclic collector runs a generation-0 pass every 700 net allocations and a full
pass as older generations fill. The worker and replay keep hundreds of thousands of
long-lived objects (cached complaint states, unit views, folds, the registry) and allocate
a few hundred short-lived ones per event, almost none of them in cycles; each full pass
walks every tracked object (~1 us each on this machine). Measured on the simulator's
traffic (bench/RESULTS.md, issue 19): the collector took ~30% of both stages' time, mostly
15-16 full passes of ~140 ms; replay ran 1.2x faster in CPU time without them. So, at
start-up:

- `gc.freeze()`: what start-up built (modules, Faust's app, the registry) moves to the
  permanent generation, which no pass walks again;
- thresholds `GC_THRESHOLDS`: a young pass every 50,000 net allocations instead of 700,
  and full passes rarer. Reference counting still frees every acyclic object at once; only
  cyclic garbage waits longer, and a young pass over 50,000 objects is a few milliseconds.

Not applied to tests or library use (create_app does not call it): a process policy, set
by the commands that own their process, `sigap replay` and `sigap worker` (both stages
~1.3-1.7x CPU in the stage benchmark). It was taken out of the worker for a few hours on
2026-12-07 while a worker stall after a rebalance was looked for (docs/delivery.md): the
stall came back without it, so it was not its cause, and the worker has it again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

GC_THRESHOLDS: Final = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    """Freeze what exists now and raise the collection thresholds (module docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextmanager
def tuned_garbage_collector() -> Iterator[None]:
    """tune_garbage_collector for a block, then the previous thresholds and no frozen
    objects again (bench/ measures `sigap replay` in its own process this way)."""
    before = gc.get_threshold()
    tune_garbage_collector()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()

"""`sigap verify` on the real public data sets (shared/data, SOURCE.md), end to end.

Both exports (St. Louis CSB 2009-2012 and Baltimore 311 2019-10) are read through their
mappings (deploy/csv-mappings), published with `sigap publish` to a real broker, scored by a
real worker and score writer (fresh topics, state and SQLite database), and then
`sigap verify --period P` runs for every quarter and month the data covers. Exit status 0 only
if every period verifies (exit code 0). About 40 minutes on the 2-core machine
(bench/RESULTS.md, "`sigap verify` on the public data sets").

    deploy/kafka/local-kafka.sh start        # or any broker
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python bench/verify_public.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sigap.pipeline_lag import wait_caught_up  # noqa: E402
from sigap.replay_sources import open_source  # noqa: E402
from sigap.settings import Settings  # noqa: E402
from tests.integration.processes import run_sigap, running_stack  # noqa: E402
from tests.shared import shared_file  # noqa: E402

EXPORTS = (
    ("baltimore_311_customer_service_requests_2019-10.csv", "baltimore-311.yaml"),
    ("stlouis_csb_service_requests_2009_2012.csv", "stlouis-csb.yaml"),
)


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        print("set KAFKA_BOOTSTRAP_SERVERS to a running broker", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="verify-public-"))
    events = []
    for csv, mapping in EXPORTS:
        found, _ = open_source(shared_file("data", csv), ROOT / "deploy" / "csv-mappings" / mapping)
        found = list(found)
        print(f"{csv}: {len(found):,} events")
        events += found
    source = workdir / "public.jsonl"
    source.write_bytes(
        b"".join(
            orjson.dumps(event.model_dump(mode="json", exclude_none=True)) + b"\n"
            for event in events
        )
    )
    quarters = sorted(
        {f"{e.occurred_at.year}-Q{(e.occurred_at.month - 1) // 3 + 1}" for e in events}
    )
    months = sorted({e.occurred_at.strftime("%Y-%m") for e in events})
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SIGAP_CLOSE_EVERY_SECONDS": "0"}
    failed: dict[str, int] = {}
    with running_stack(env, workdir) as stack:
        started = time.monotonic()
        published = run_sigap(["publish", str(source)], stack.env)
        if published.returncode != 0:
            print(published.stderr, file=sys.stderr)
            return 1
        lag = wait_caught_up(Settings.from_environ(stack.env), 3600)
        if lag.behind:
            print(f"not caught up: {lag.describe()}", file=sys.stderr)
            return 1
        print(f"worker and score writer caught up in {time.monotonic() - started:.0f} s")
        for period in quarters + months:
            done = run_sigap(
                ["verify", "--period", period, "--format", "json", "--wait", "120"], stack.env
            )
            if done.returncode != 0:
                failed[period] = done.returncode
                print(f"{period}: exit {done.returncode}\n{done.stdout[-2000:]}")
    print(
        f"{len(events):,} events; {len(quarters) + len(months)} periods verified; "
        + (f"differences or errors: {failed}" if failed else "every one identical (exit 0)")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

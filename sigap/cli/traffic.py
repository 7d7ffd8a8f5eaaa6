"""Putting events on the topic: `sigap publish` (a file) and `sigap simulate` (traffic)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import click

from sigap.cli.common import (
    load_settings,
    load_unit_registry,
)


@click.command(help="Publish contract events from a JSON Lines file (one event per line).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--no-validate",
    is_flag=True,
    help="Send every line as it is, valid or not (the worker dead-letters invalid ones).",
)
def publish(file: Path, no_validate: bool) -> None:
    from sigap.publisher import EventPublisher, key_of, read_jsonl, validate_lines

    settings = load_settings()
    if not no_validate:
        invalid = validate_lines(read_jsonl(file))
        if invalid:
            for item in invalid[:20]:
                click.echo(f"{file}:{item.line_number}: {item.reason}", err=True)
            raise click.ClickException(
                f"{len(invalid)} invalid line(s) in {file}; nothing was published "
                "(fix them, or pass --no-validate to let the worker dead-letter them)"
            )
    count = 0
    with EventPublisher.from_settings(settings) as publisher:
        for _, raw in read_jsonl(file):
            publisher.publish_raw(key_of(raw), raw)
            count += 1
    click.echo(f"published {count} event(s) to {settings.events_topic}", err=True)


@click.command(help="Publish realistic complaint traffic for Surabaya work units.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same events).")
@click.option(
    "--speed",
    default=3600.0,
    show_default=True,
    help="Simulated seconds per real second while catching up with the present.",
)
@click.option(
    "--days-back", default=14.0, show_default=True, help="Start the simulated clock this far back."
)
@click.option("--rate-scale", default=1.0, show_default=True, help="Multiply arrival rates.")
@click.option("--seconds", type=float, default=None, help="Stop after this many real seconds.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the events to this JSONL file up to now instead of publishing them.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Remember in this file how far the simulated clock has published, and continue "
    "from there when started again with the same seed (no event is published twice).",
)
def simulate(
    seed: int,
    speed: float,
    days_back: float,
    rate_scale: float,
    seconds: float | None,
    out: Path | None,
    state_file: Path | None,
) -> None:
    import orjson

    from sigap.publisher import EventPublisher
    from sigap.simulator import TrafficModel
    from sigap.simulator_mark import PublishedMark, load_mark, save_mark, starting_point

    start_real = time.time()
    settings = load_settings()
    mark = load_mark(state_file) if state_file is not None and out is None else None
    start, published_until = starting_point(mark, seed, start_real - days_back * 86400)
    model = TrafficModel(
        start=start,
        seed=seed,
        rate_scale=rate_scale,
        registry=load_unit_registry(settings),  # the categories come from the registry
    )
    if published_until is not None:
        skipped = len(model.advance(published_until))
        click.echo(
            f"simulator: continuing from {time.ctime(published_until)}; the {skipped} "
            f"event(s) before it were published by an earlier run ({state_file})",
            err=True,
        )
    if out is not None:
        events = model.advance(start_real)
        out.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        click.echo(f"wrote {len(events)} event(s) to {out}", err=True)
        return
    stop = {"now": False}
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.update(now=True))
    published = 0
    with EventPublisher.from_settings(settings) as publisher:
        while not stop["now"]:
            real_now = time.time()
            if seconds is not None and real_now - start_real >= seconds:
                break
            # Fast-forward through the past at --speed, then follow the real clock.
            simulated = min(model.now + speed * 0.5, real_now)
            for event in model.advance(simulated):
                publisher.publish(event)
                published += 1
            publisher.flush()
            if state_file is not None:
                save_mark(state_file, PublishedMark(seed=seed, start=start, until=model.now))
            time.sleep(0.5)
    click.echo(f"simulator published {published} event(s)", err=True)


def register(group: click.Group) -> None:
    """Add `sigap publish`, `sigap simulate` to ``group``."""
    for command in (
        publish,
        simulate,
    ):
        group.add_command(command)

"""The Kafka broker the benchmark runs against, its topics, and publishing to them."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .common import LOCAL_KAFKA, free_port, log


class Broker:
    """The project's local broker on free ports, or KAFKA_BOOTSTRAP_SERVERS if set."""

    def __init__(self, workdir: Path) -> None:
        self.external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self.env: dict[str, str] | None = None
        if self.external:
            self.bootstrap = self.external
            return
        port = free_port(count=2)
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(port),
            "KAFKA_DATA_DIR": str(workdir / "kafka"),
        }
        self.env.pop("KAFKA_SASL_PORT", None)
        self.bootstrap = f"127.0.0.1:{port}"

    def start(self) -> None:
        if self.env is None:
            log(f"using the external cluster {self.bootstrap}")
            return
        log(f"starting a local broker on {self.bootstrap}")
        done = subprocess.run(
            ["bash", str(LOCAL_KAFKA), "start"], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"could not start the broker:\n{done.stderr}")

    def stop(self) -> None:
        if self.env is not None:
            subprocess.run(["bash", str(LOCAL_KAFKA), "stop"], env=self.env, capture_output=True)


def create_topics(bootstrap: str, specs: list[tuple[str, int]]) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sigap-bench")
    try:
        admin.create_topics([NewTopic(name, parts, 1) for name, parts in specs])
    finally:
        admin.close()


async def _publish(bootstrap: str, topic: str, records: Iterator[tuple[bytes, bytes]]) -> int:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    count = 0
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


def publish(bootstrap: str, topic: str, records: Iterator[tuple[bytes, bytes]]) -> int:
    return asyncio.run(_publish(bootstrap, topic, records))

"""Service settings, read from environment variables.

Pure: `Settings.from_environ` takes the mapping; only the CLI passes `os.environ`.
Every name and default here is documented in the README's Configuration table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the variable."""


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _str(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = environ.get(name)
    return default if raw is None or raw == "" else raw


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    events_topic: str = "complaint-events"
    resolutions_topic: str = "complaint-resolutions"
    topic_partitions: int = 4
    app_id: str = "sigap"
    database_url: str = "sqlite:///sigap.db"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    state_dir: str = ".local/state"
    store_url: str = "rocksdb://"
    score_writer_group: str = "sigap-score-writer"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        defaults = cls()
        return cls(
            kafka_bootstrap_servers=_str(
                environ, "KAFKA_BOOTSTRAP_SERVERS", defaults.kafka_bootstrap_servers
            ),
            events_topic=_str(environ, "SIGAP_EVENTS_TOPIC", defaults.events_topic),
            resolutions_topic=_str(environ, "SIGAP_RESOLUTIONS_TOPIC", defaults.resolutions_topic),
            topic_partitions=_int(environ, "SIGAP_TOPIC_PARTITIONS", defaults.topic_partitions),
            app_id=_str(environ, "SIGAP_APP_ID", defaults.app_id),
            database_url=_str(environ, "DATABASE_URL", defaults.database_url),
            web_host=_str(environ, "SIGAP_WEB_HOST", defaults.web_host),
            web_port=_int(environ, "SIGAP_WEB_PORT", defaults.web_port),
            state_dir=_str(environ, "SIGAP_STATE_DIR", defaults.state_dir),
            store_url=_str(environ, "SIGAP_STORE", defaults.store_url),
            score_writer_group=_str(
                environ, "SIGAP_SCORE_WRITER_GROUP", defaults.score_writer_group
            ),
        )

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.events_topic}.dlq"

    def __post_init__(self) -> None:
        # rocksdb:// in production; memory:// loses all state at every restart.
        if self.store_url not in ("rocksdb://", "memory://"):
            raise SettingsError(f"SIGAP_STORE={self.store_url!r}: expected rocksdb:// or memory://")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

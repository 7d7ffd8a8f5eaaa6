"""Service settings, read from environment variables.

Pure: `Settings.from_environ` takes the mapping; only the CLI passes `os.environ`.
Every name and default here is documented in the README's Configuration table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
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


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    events_topic: str = "complaint-events"
    views_topic: str = "complaint-unit-views"
    registry_path: str = "deploy/registry.yaml"
    grace_seconds: int = 600
    heartbeat_seconds: float = 5.0
    heartbeat_repeat_seconds: float = 60.0
    topic_partitions: int = 4
    app_id: str = "sigap"
    database_url: str = field(default="sqlite:///sigap.db", repr=False)  # may hold a password
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    state_dir: str = ".local/state"
    store_url: str = "rocksdb://"
    score_writer_group: str = "sigap-score-writer"
    # How often the score writer closes due periods (core.period_close); 0: never.
    close_every_seconds: int = 900
    # The score writer's /metrics port (lag, closes, restatements); 0: not served.
    score_writer_metrics_port: int = 6067
    # Kafka security, shared by the worker, the consumers and the publisher.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        defaults = cls()
        return cls(
            kafka_bootstrap_servers=_str(
                environ, "KAFKA_BOOTSTRAP_SERVERS", defaults.kafka_bootstrap_servers
            ),
            events_topic=_str(environ, "SIGAP_EVENTS_TOPIC", defaults.events_topic),
            views_topic=_str(environ, "SIGAP_VIEWS_TOPIC", defaults.views_topic),
            registry_path=_str(environ, "SIGAP_REGISTRY", defaults.registry_path),
            grace_seconds=_int(environ, "SIGAP_GRACE_SECONDS", defaults.grace_seconds, minimum=0),
            heartbeat_seconds=_int(environ, "SIGAP_HEARTBEAT_SECONDS", 5, minimum=1),
            heartbeat_repeat_seconds=_int(environ, "SIGAP_HEARTBEAT_REPEAT_SECONDS", 60, minimum=1),
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
            close_every_seconds=_int(
                environ, "SIGAP_CLOSE_EVERY_SECONDS", defaults.close_every_seconds, minimum=0
            ),
            score_writer_metrics_port=_int(
                environ,
                "SIGAP_SCORE_WRITER_METRICS_PORT",
                defaults.score_writer_metrics_port,
                minimum=0,
            ),
            kafka_security_protocol=_str(
                environ, "KAFKA_SECURITY_PROTOCOL", defaults.kafka_security_protocol
            ).upper(),
            kafka_sasl_mechanism=_str(
                environ, "KAFKA_SASL_MECHANISM", defaults.kafka_sasl_mechanism
            ).upper(),
            kafka_sasl_username=environ.get("KAFKA_SASL_USERNAME") or None,
            kafka_sasl_password=environ.get("KAFKA_SASL_PASSWORD") or None,
            kafka_ssl_cafile=environ.get("KAFKA_SSL_CAFILE") or None,
            kafka_ssl_certfile=environ.get("KAFKA_SSL_CERTFILE") or None,
            kafka_ssl_keyfile=environ.get("KAFKA_SSL_KEYFILE") or None,
        )

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    def kafka_python_config(self) -> dict[str, Any]:
        """Connection and security settings for kafka-python clients."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_uses_sasl:
            config.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password,
            )
        if self.kafka_uses_tls:
            config.update(
                ssl_cafile=self.kafka_ssl_cafile,
                ssl_certfile=self.kafka_ssl_certfile,
                ssl_keyfile=self.kafka_ssl_keyfile,
            )
        return config

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.events_topic}.dlq"

    @property
    def views_dead_letter_topic(self) -> str:
        """Where the score writer sets aside a view the database refuses."""
        return f"{self.views_topic}.dlq"

    def __post_init__(self) -> None:
        # rocksdb:// in production; memory:// loses all state at every restart.
        if self.store_url not in ("rocksdb://", "memory://"):
            raise SettingsError(f"SIGAP_STORE={self.store_url!r}: expected rocksdb:// or memory://")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

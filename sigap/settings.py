"""Service settings, read from environment variables and validated up front (pydantic-settings).

At the edge: only the commands read the environment (`Settings.from_environ(os.environ)`);
the stages and consumers receive a `Settings`, and no `core` module imports this one.

Every variable is validated when the settings are read, and a value that cannot be used
stops the command with one line naming the variable (`SettingsError`; the CLI exits 2). The
message never repeats a value that may hold a secret (DATABASE_URL, the SASL password).
Every name and default is documented in the README's Configuration table.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

log = logging.getLogger(__name__)

SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
STORES: Final = ("rocksdb://", "memory://")
# kafka-python clients: reconnect backoff ceiling (the Java client's default) and the most a
# bootstrap may wait (kafka-python's default), see Settings.kafka_python_config.
RECONNECT_BACKOFF_MAX_MS: Final = 1000
BOOTSTRAP_TIMEOUT_MAX_SECONDS: Final = 30.0
# The database dialects SIGAP writes to, and the driver module each needs.
DATABASE_DRIVERS: Final = {"sqlite": "sqlite3", "postgresql": "psycopg"}
# SIGAP_OFFICER_TOKEN: an RFC 6750 bearer token (b64token characters), long enough not to be
# guessed (e.g. `openssl rand -hex 32`).
OFFICER_TOKEN_MIN_LENGTH: Final = 32
OFFICER_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9._~+/-]+=*$")


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the variable."""


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("must be a port number, 1 to 65535")
    return value


# The shipped registry is package data, so the default does not depend on the current
# directory (deploy/registry.yaml in the repository is a link to it).
DEFAULT_REGISTRY: Final = Path(__file__).with_name("data") / "registry.yaml"


class Settings(BaseSettings):
    """Field names are Python's; the aliases are the environment variables."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, case_sensitive=True
    )

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    events_topic: str = Field("complaint-events", alias="SIGAP_EVENTS_TOPIC", min_length=1)
    views_topic: str = Field("complaint-unit-views", alias="SIGAP_VIEWS_TOPIC", min_length=1)
    registry_path: str = Field(str(DEFAULT_REGISTRY), alias="SIGAP_REGISTRY")
    grace_seconds: int = Field(600, alias="SIGAP_GRACE_SECONDS", ge=0)
    heartbeat_seconds: float = Field(5.0, alias="SIGAP_HEARTBEAT_SECONDS", ge=1)
    heartbeat_repeat_seconds: float = Field(60.0, alias="SIGAP_HEARTBEAT_REPEAT_SECONDS", ge=1)
    topic_partitions: int = Field(4, alias="SIGAP_TOPIC_PARTITIONS", ge=1, le=1000)
    app_id: str = Field("sigap", alias="SIGAP_APP_ID", min_length=1)
    database_url: str = Field("sqlite:///sigap.db", alias="DATABASE_URL", repr=False)
    web_host: str = Field("127.0.0.1", alias="SIGAP_WEB_HOST")
    web_port: int = Field(6066, alias="SIGAP_WEB_PORT")
    # The web server has no authentication: a non-loopback address is refused unless this
    # says that the network in front of it is trusted (a private network, a proxy that
    # authenticates).
    web_allow_unauthenticated: bool = Field(False, alias="SIGAP_WEB_ALLOW_UNAUTHENTICATED")
    # The bearer token of the API's officer endpoints (/api/officers/...); None: they are
    # disabled and the API serves no officer data. A secret: never logged nor repeated.
    officer_token: SecretStr | None = Field(None, alias="SIGAP_OFFICER_TOKEN", repr=False)
    state_dir: str = Field(".local/state", alias="SIGAP_STATE_DIR")
    store_url: str = Field("rocksdb://", alias="SIGAP_STORE")
    score_writer_group: str = Field("sigap-score-writer", alias="SIGAP_SCORE_WRITER_GROUP")
    # How often the score writer closes due periods (core.period_close); 0: never.
    close_every_seconds: int = Field(900, alias="SIGAP_CLOSE_EVERY_SECONDS", ge=0)
    # The score writer's /metrics port (lag, closes, restatements); 0: not served.
    score_writer_metrics_port: int = Field(
        6067, alias="SIGAP_SCORE_WRITER_METRICS_PORT", ge=0, le=65535
    )
    # The port of the local broker (deploy/kafka/local-kafka.sh, `make demo`).
    kafka_port: int = Field(9092, alias="KAFKA_PORT")
    # How long a command waits, retrying with backoff, for an unreachable broker or
    # database at start-up before it gives up with one message.
    connect_timeout_seconds: float = Field(60.0, alias="SIGAP_CONNECT_TIMEOUT_SECONDS", ge=0)
    # Kafka security, shared by the worker, the consumers and the publisher.
    kafka_security_protocol: str = Field("PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL")
    kafka_sasl_mechanism: str = Field("PLAIN", alias="KAFKA_SASL_MECHANISM")
    kafka_sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: str | None = Field(None, alias="KAFKA_SASL_PASSWORD", repr=False)
    kafka_ssl_cafile: str | None = Field(None, alias="KAFKA_SSL_CAFILE")
    kafka_ssl_certfile: str | None = Field(None, alias="KAFKA_SSL_CERTFILE")
    kafka_ssl_keyfile: str | None = Field(None, alias="KAFKA_SSL_KEYFILE")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `Settings(...)` in code takes only what it is given; the environment is read by
        # `from_environ`, with the mapping it is passed (pure, testable).
        return (init_settings,)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings of an environment; SettingsError names the first bad variable."""
        aliases = {field.alias for field in cls.model_fields.values() if field.alias}
        given = {name: environ[name] for name in aliases if environ.get(name, "") != ""}
        try:
            settings = cls.model_validate(given)
        except ValidationError as error:
            raise SettingsError(_one_line(error)) from None
        settings.warn_about_weak_choices()
        return settings

    # ---- validation, each naming its variable through the field's alias ----

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("expected comma-separated host:port")
            _port(int(port))
        return value

    @field_validator("web_port", "kafka_port")
    @classmethod
    def _ports(cls, value: int) -> int:
        return _port(value)

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("kafka_security_protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value not in SECURITY_PROTOCOLS:
            raise ValueError(f"expected one of {', '.join(SECURITY_PROTOCOLS)}")
        return value

    @field_validator("kafka_sasl_mechanism")
    @classmethod
    def _mechanism(cls, value: str) -> str:
        if value not in SASL_MECHANISMS:
            raise ValueError(f"expected one of {', '.join(SASL_MECHANISMS)}")
        return value

    @field_validator("store_url")
    @classmethod
    def _store(cls, value: str) -> str:
        # rocksdb:// in production; memory:// loses all state at every restart.
        if value not in STORES:
            raise ValueError("expected rocksdb:// or memory://")
        return value

    @field_validator("officer_token")
    @classmethod
    def _officer_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value()
        # Never the value: it is a secret.
        if len(token) < OFFICER_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"too short: at least {OFFICER_TOKEN_MIN_LENGTH} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        if not OFFICER_TOKEN_RE.match(token):
            raise ValueError(
                "not a bearer token: letters, digits and - . _ ~ + / only, optionally ending in ="
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            # Not the value: it may hold a password.
            raise ValueError(
                "not a database URL; expected sqlite:///FILE or "
                "postgresql+psycopg://user:password@host/db"
            ) from None
        backend = url.get_backend_name()
        if backend not in DATABASE_DRIVERS:
            raise ValueError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")
        driver = url.get_driver_name()
        module = DATABASE_DRIVERS[backend] if driver in ("", "pysqlite", "psycopg") else driver
        if importlib.util.find_spec(module) is None:
            raise ValueError(f"the database driver {module!r} is not installed")
        if backend == "postgresql" and driver != "psycopg":
            raise ValueError("use the psycopg driver: postgresql+psycopg://...")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        if self.kafka_uses_sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required with "
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        if not self.web_allow_unauthenticated and not _is_loopback(self.web_host):
            raise ValueError(
                f"SIGAP_WEB_HOST={self.web_host}: the web server has no authentication and "
                "binds to loopback only, unless SIGAP_WEB_ALLOW_UNAUTHENTICATED=1 says the "
                "network in front of it is trusted"
            )
        return self

    def warn_about_weak_choices(self) -> None:
        if self.kafka_security_protocol == "SASL_PLAINTEXT" and self.kafka_sasl_mechanism == (
            "PLAIN"
        ):
            log.warning(
                "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT with KAFKA_SASL_MECHANISM=PLAIN sends "
                "the Kafka password in clear text: use SASL_SSL, or a SCRAM mechanism"
            )

    # ---- derived values ----

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
            # kafka-python 3 backs off reconnects up to 30 s and waits 30 s to bootstrap:
            # one unreachable-broker attempt took 30 s whatever SIGAP_CONNECT_TIMEOUT_SECONDS.
            # The Java client's reconnect backoff ceiling (1 s), and a bootstrap bounded by the
            # start-up budget; sigap.retry retries the whole attempt with its own backoff.
            "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
            "bootstrap_timeout_ms": int(
                1000 * min(max(self.connect_timeout_seconds, 1.0), BOOTSTRAP_TIMEOUT_MAX_SECONDS)
            ),
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

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _one_line(error: ValidationError) -> str:
    """The first problem, naming the variable (the field's alias), never echoing a value."""
    first = error.errors(include_input=False, include_url=False)[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:
        return message
    name = str(first["loc"][0])
    field = Settings.model_fields.get(name)
    variable = field.alias if field is not None and field.alias else name
    return f"{variable}: {message}"

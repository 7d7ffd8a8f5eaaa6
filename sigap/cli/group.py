"""The `sigap` click group: logging set-up, ``--version``, Kafka failures as one line."""

from __future__ import annotations

import logging
from typing import Any

import click

from sigap.cli.common import load_settings
from sigap.kafka_logging import quiet_connection_tracebacks

__all__ = ["ENV_HELP", "SigapGroup", "main"]

ENV_HELP = (
    "Settings come from the environment: KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), "
    "DATABASE_URL (default sqlite:///sigap.db), SIGAP_WEB_PORT (6066), SIGAP_EVENTS_TOPIC "
    "(complaint-events) and the others listed in the README."
)


class SigapGroup(click.Group):
    """Turns Kafka connection failures into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from kafka.errors import KafkaError

        try:
            return super().invoke(ctx)
        except KafkaError as error:
            settings = load_settings()
            raise click.ClickException(
                f"Kafka at {settings.kafka_bootstrap_servers} "
                f"({settings.kafka_security_protocol}): {type(error).__name__}: {error}. "
                "Check KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL and the "
                "KAFKA_SASL_* / KAFKA_SSL_* settings."
            ) from None


@click.group(
    cls=SigapGroup,
    help=f"SIGAP: live complaint-response KPIs for Surabaya's work units.\n\n{ENV_HELP}",
)
@click.version_option(package_name="sigap", prog_name="sigap")
def main() -> None:
    # Warnings from the Kafka clients (an authentication failure, say) reach stderr.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # A broker that resets a connection is logged in one line, not with a traceback.
    quiet_connection_tracebacks()

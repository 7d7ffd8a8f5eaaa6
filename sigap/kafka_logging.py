"""kafka-python's network layer logs a connection the broker resets (a broker restart, a
rolling upgrade) with a full traceback (`log.exception` in kafka/net/transport.py). That is
an expected event the client recovers from by itself, and a traceback in the score writer's
log reads as a crash to the person on duty (and to the fault tests, which look for them).
The filter keeps the line at its level and names the error; it drops only the traceback of
connection errors. Any other exception keeps its traceback."""

from __future__ import annotations

import logging

# The kafka-python logger that reports socket errors with log.exception.
KAFKA_TRANSPORT_LOGGER = "kafka.net.transport"


class ConnectionErrorTracebackFilter(logging.Filter):
    """Turns a record's connection-error traceback into one line: `<message> (<Error>: <text>)`."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ConnectionError | TimeoutError):
            # The message is a %-format: keep the error text from being read as one.
            text = f"{type(error).__name__}: {error}".replace("%", "%%")
            record.msg = f"{record.msg} ({text})"
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_connection_tracebacks() -> None:
    """Install the filter on kafka-python's transport logger (once)."""
    logger = logging.getLogger(KAFKA_TRANSPORT_LOGGER)
    if not any(isinstance(f, ConnectionErrorTracebackFilter) for f in logger.filters):
        logger.addFilter(ConnectionErrorTracebackFilter())

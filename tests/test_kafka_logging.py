"""A connection the broker resets is logged in one line by kafka-python's transport logger,
not with a traceback (sigap.kafka_logging); other exceptions keep theirs."""

from __future__ import annotations

import io
import logging

from sigap.kafka_logging import KAFKA_TRANSPORT_LOGGER, quiet_connection_tracebacks


def logged(error: BaseException) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(KAFKA_TRANSPORT_LOGGER)
    logger.addHandler(handler)
    try:
        quiet_connection_tracebacks()
        quiet_connection_tracebacks()  # once only
        try:
            raise error
        except BaseException:
            logger.exception("%s: Error receiving network data closing socket", "<conn>")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_reset_connection_is_one_line_naming_the_error() -> None:
    text = logged(ConnectionResetError(104, "Connection reset by peer 100%"))
    assert "Traceback" not in text
    assert text.strip() == (
        "<conn>: Error receiving network data closing socket "
        "(ConnectionResetError: [Errno 104] Connection reset by peer 100%)"
    )


def test_any_other_error_keeps_its_traceback() -> None:
    text = logged(ValueError("a bug"))
    assert "Traceback (most recent call last)" in text and "ValueError: a bug" in text


def test_the_filter_is_installed_once() -> None:
    quiet_connection_tracebacks()
    quiet_connection_tracebacks()
    filters = logging.getLogger(KAFKA_TRANSPORT_LOGGER).filters
    assert len(filters) == 1

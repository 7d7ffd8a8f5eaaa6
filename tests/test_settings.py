"""Settings are validated up front (sigap/settings.py, pydantic-settings): a bad value stops
a command with one line naming the variable, never echoing a secret."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sigap.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_environment() -> None:
    assert Settings.from_environ({}) == Settings()
    settings = Settings.from_environ(
        {"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092", "SIGAP_WEB_PORT": "7000"}
    )
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.web_port == 7000
    # Code that builds settings takes only what it is given, not the process environment.
    assert Settings(app_id="x").events_topic == "complaint-events"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGAP_WEB_PORT", "abc"),
        ("SIGAP_WEB_PORT", "99999"),
        ("SIGAP_TOPIC_PARTITIONS", "0"),
        ("SIGAP_STORE", "redis://"),
        ("KAFKA_PORT", "abc"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("KAFKA_SASL_MECHANISM", "GSSAPI"),
        ("KAFKA_BOOTSTRAP_SERVERS", "broker-without-port"),
        ("DATABASE_URL", "garbage"),
        ("DATABASE_URL", "mysql://root:hunter2@db/sigap"),
        ("SIGAP_GRACE_SECONDS", "-1"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}") as error:
        Settings.from_environ({name: value})
    assert "\n" not in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_public_bind_needs_an_explicit_allowance() -> None:
    with pytest.raises(SettingsError, match=r"SIGAP_WEB_HOST=0\.0\.0\.0"):
        Settings.from_environ({"SIGAP_WEB_HOST": "0.0.0.0"})
    allowed = Settings.from_environ(
        {"SIGAP_WEB_HOST": "0.0.0.0", "SIGAP_WEB_ALLOW_UNAUTHENTICATED": "1"}
    )
    assert allowed.web_host == "0.0.0.0"
    assert Settings.from_environ({"SIGAP_WEB_HOST": "::1"}).web_host == "::1"


def test_sasl_needs_credentials_and_plain_over_plaintext_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(SettingsError, match="KAFKA_SASL_USERNAME"):
        Settings.from_environ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    with caplog.at_level(logging.WARNING):
        Settings.from_environ(
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_USERNAME": "sigap",
                "KAFKA_SASL_PASSWORD": "s3cret",
            }
        )
    assert "clear text" in caplog.text and "s3cret" not in caplog.text


@pytest.mark.parametrize(
    ("name", "value"),
    [("DATABASE_URL", "garbage"), ("KAFKA_SECURITY_PROTOCOL", "TLS"), ("SIGAP_WEB_PORT", "99999")],
)
def test_the_cli_stops_with_one_line_and_exit_2(name: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sigap", "scores"],
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], done.stderr


@pytest.mark.parametrize(
    "token",
    [
        "short-secret-hunter2",
        "hunter2 " + "x" * 40,
        "hunter2" + "\u00e9" * 40,
        "=hunter2" + "x" * 40,
    ],
)
def test_an_unusable_officer_token_names_the_variable_and_never_the_token(token: str) -> None:
    with pytest.raises(SettingsError, match=r"^SIGAP_OFFICER_TOKEN: ") as error:
        Settings.from_environ({"SIGAP_OFFICER_TOKEN": token})
    assert "hunter2" not in str(error.value)


def test_the_officer_token_is_optional_and_never_shown() -> None:
    assert Settings.from_environ({}).officer_token is None
    token = "hunter2-" + "0123456789abcdef" * 2
    settings = Settings.from_environ({"SIGAP_OFFICER_TOKEN": token})
    assert settings.officer_token is not None
    assert settings.officer_token.get_secret_value() == token
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert "hunter2" not in str(settings.as_dict())


def test_every_variable_is_in_a_settings_table_of_the_docs() -> None:
    # The first cell of a table row in docs/configuration.md or docs/settings.md.
    documented: set[str] = set()
    for page in ("configuration.md", "settings.md"):
        for line in (ROOT / "docs" / page).read_text(encoding="utf-8").splitlines():
            if line.startswith("| `"):
                first = line.split("|")[1]
                documented.update(part.strip(" `") for part in first.split(","))
    variables = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert variables - documented == set()

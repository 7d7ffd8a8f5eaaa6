from __future__ import annotations

import pytest

from core.settings import Settings, SettingsError


def test_defaults_and_environment() -> None:
    assert Settings.from_environ({}) == Settings()
    settings = Settings.from_environ(
        {"KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092", "SIGAP_WEB_PORT": "7000"}
    )
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert settings.web_port == 7000


@pytest.mark.parametrize(
    ("name", "value"),
    [("SIGAP_WEB_PORT", "abc"), ("SIGAP_TOPIC_PARTITIONS", "0"), ("SIGAP_STORE", "redis://")],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value})

"""Settings refuse what would leave the console open: template passwords and short secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.settings import GatewaySettings


@pytest.mark.parametrize("password", ["changethis", "Password123", "admin", "secret!", "short pass", ""])
def test_a_placeholder_or_short_admin_password_is_refused_naming_the_variable(tmp_path: Path, password: str) -> None:
    with pytest.raises(ValidationError) as refused:
        GatewaySettings(data_dir=tmp_path, admin_username="li", admin_password=password)
    assert "ADMIN_PASSWORD" in str(refused.value)
    assert "input_value" not in str(refused.value)  # errors name the setting, never show the secret


def test_a_long_passphrase_is_accepted_and_no_admin_needs_no_password(tmp_path: Path) -> None:
    settings = GatewaySettings(data_dir=tmp_path, admin_username="li", admin_password="a long passphrase")
    assert settings.admin_password == "a long passphrase"
    assert GatewaySettings(data_dir=tmp_path).admin_password == ""


@pytest.mark.parametrize("secret", ["changethis", "x" * 31, "test"])
def test_a_weak_jwt_secret_is_refused(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        GatewaySettings(data_dir=tmp_path, jwt_secret=secret)
    assert GatewaySettings(data_dir=tmp_path, jwt_secret="k" * 48).jwt_secret == "k" * 48


def test_every_default_lives_in_config_yml_and_the_classes_only_declare_types() -> None:
    import yaml

    from connectors.settings import GatewaySettings
    from knowledge.settings import CONFIG_FILE

    config = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    fields = GatewaySettings.model_fields  # the knowledge settings' fields included
    assert set(fields) <= set(config), f"settings without a default in config.yml: {set(fields) - set(config)}"
    for name, field in fields.items():
        assert field.default_factory is not None, f"{name} has a default in Python; put it in config.yml"

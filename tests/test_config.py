from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from audience.config import SECRET_ENV, Settings, load_settings
from audience.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent / "audience.example.toml"


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own ./audience.toml must not leak into these tests."""
    monkeypatch.chdir(tmp_path)


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        if name in ("secrets", "accounts", "platforms"):
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _flatten(data: dict[str, object], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        if isinstance(value, dict) and not key.endswith("recipients"):
            keys |= _flatten(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, environ={})
    assert settings.warehouse.path == Path("warehouse/audience.duckdb")
    assert settings.accounts == ()
    assert settings.detection.spike_z == 3.5


def test_example_loads_and_lists_every_setting() -> None:
    settings = load_settings(EXAMPLE, environ={})
    assert [a.key for a in settings.accounts] == [
        "mastodon:gargron@mastodon.social",
        "bluesky:bsky.app",
        "github:duckdb/duckdb",
    ]
    listed = _flatten(tomllib.loads(EXAMPLE.read_text()))
    missing = _keys(Settings) - listed
    assert not missing, f"audience.example.toml does not list: {sorted(missing)}"
    platform_keys = {k.split(".", 2)[2] for k in listed if k.startswith("platforms.")}
    assert platform_keys == set(
        Settings.model_fields["platforms"].annotation.__args__[1].model_fields
    )  # type: ignore[union-attr]
    for var in SECRET_ENV.values():
        assert var in EXAMPLE.read_text(), f"{var} is not documented in the example"


def test_environment_overrides_are_typed(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={
            "AUDIENCE_DETECTION__SPIKE_Z": "4.5",
            "AUDIENCE_PLATFORMS__GITHUB__MAX_CONCURRENCY": "8",
            "AUDIENCE_ALERTS__RECIPIENTS": '["ops@example.org"]',
            "AUDIENCE_WAREHOUSE": str(tmp_path / "w.duckdb"),
        },
    )
    assert settings.detection.spike_z == 4.5
    assert settings.platform("github").max_concurrency == 8
    assert settings.alerts.recipients == ("ops@example.org",)
    assert settings.warehouse.path == tmp_path / "w.duckdb"


def test_secrets_come_from_the_environment_and_stay_hidden() -> None:
    settings = load_settings(None, environ={"AUDIENCE_SMTP_PASSWORD": "sentinel-pw-123"})
    assert settings.secrets.smtp_password is not None
    assert settings.secrets.smtp_password.get_secret_value() == "sentinel-pw-123"
    assert "sentinel-pw-123" not in repr(settings)
    assert "sentinel-pw-123" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[alerts]\nsmtp_password = "x"\n',
            r"alerts.smtp_password: secrets are read from the environment only \(set AUDIENCE_SMTP_PASSWORD\)",
        ),
        ('[platforms.youtube]\napi_key = "x"\n', r"set AUDIENCE_YOUTUBE_API_KEY"),
        ('[detection]\nspike_z = "high"\n', r"detection.spike_z: Input should be a valid number"),
        ("[detection]\nspike_z = -1\n", r"detection.spike_z: Input should be greater than 0"),
        ("[detection]\nspyke_z = 4\n", r"detection.spyke_z: Extra inputs are not permitted"),
        ("[platforms.myspace]\n", r"unknown platform\(s\) \['myspace'\]"),
        (
            '[[accounts]]\nplatform = "github"\nhandle = "a b"\n',
            r"accounts.0.handle: malformed github handle 'a b'",
        ),
        (
            '[[accounts]]\nplatform = "github"\nhandle = "x"\n[[accounts]]\nplatform = "github"\nhandle = "X"\n',
            r"account github:x is listed twice",
        ),
        ("[warehouse\n", r"not valid TOML"),
    ],
)
def test_bad_configuration_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "audience.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, environ={})
    assert str(path) in str(info.value)


def test_bad_environment_override_names_the_variable() -> None:
    with pytest.raises(
        ConfigError, match=r"environment AUDIENCE_DETECTION__SPIKE_Z: detection.spike_z"
    ):
        load_settings(None, environ={"AUDIENCE_DETECTION__SPIKE_Z": "abc"})


def test_secret_through_a_settings_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="AUDIENCE_SMTP_PASSWORD"):
        load_settings(None, environ={"AUDIENCE_ALERTS__SMTP_PASSWORD": "x"})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml", environ={})

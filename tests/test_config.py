from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.errors import ConfigError
from core.settings import SECRET_ENV, Settings, load_settings
from tests.support.cli import Result

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


@pytest.mark.parametrize("value", ["SNTL\u00e9x", "QZ7\nKW9", "QZ7\tKW9", "\u201cQZ7KW9\u201d"])
def test_a_secret_that_is_not_printable_ascii_is_refused_naming_its_variable(value: str) -> None:
    """Headers and SMTP's login take ASCII: such a token was an internal error (an encoding
    error in the middle of a request); now one line naming the variable, never the value."""
    with pytest.raises(ConfigError) as info:
        load_settings(None, environ={"AUDIENCE_GITHUB_TOKEN": value})
    said = str(info.value)
    assert said.startswith("environment AUDIENCE_GITHUB_TOKEN: secrets.github_token: character ")
    assert "not printable ASCII" in said
    assert value not in said
    assert "QZ7" not in said
    assert "SNTL" not in said


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
        # an infinity or NaN turns a check off or waits for ever: refused
        (
            "[detection]\nspike_min_relative = inf\n",
            r"spike_min_relative: Input should be a finite",
        ),
        ("[platforms.github]\ntimeout_s = 1e400\n", r"timeout_s: Input should be a finite number"),
        ('[warehouse]\npath = ""\n', r"warehouse.path: is empty"),
        # true or false is no number (pydantic read spike_z = true as 1.0)
        ("[detection]\nspike_z = true\n", r"detection.spike_z: true is not a number"),
        ("[platforms.x]\nbatch_size = false\n", r"platforms.x.batch_size: false is not a number"),
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


# --- the environment source (pydantic-settings) ----------------------------------------------


def test_nested_overrides_reach_into_the_file_and_win(tmp_path: Path) -> None:
    """Defaults < file < environment, table by table: the file's other keys stay."""
    path = tmp_path / "audience.toml"
    path.write_text(
        "[platforms.github]\nmax_retries = 2\ntimeout_s = 5\n"
        '[alerts]\ntag_recipients = {vip = ["a@example.org"]}\nsender = "file@example.org"\n'
    )
    settings = load_settings(
        path,
        environ={
            "AUDIENCE_PLATFORMS__GITHUB__MAX_RETRIES": "7",
            "AUDIENCE_PLATFORMS__YOUTUBE__ENABLED": "false",
            "AUDIENCE_ALERTS__TAG_RECIPIENTS__OPS": '["ops@example.org"]',
            "AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID": "1784140",
        },
    )
    github = settings.platform("github")
    assert (github.max_retries, github.timeout_s, github.max_concurrency) == (7, 5.0, 4)
    assert settings.platform("youtube").enabled is False
    assert settings.platform("instagram").account_id == "1784140"  # a TOML number, kept as text
    assert settings.alerts.tag_recipients == {
        "vip": ("a@example.org",),
        "ops": ("ops@example.org",),
    }
    assert settings.alerts.sender == "file@example.org"
    assert settings.detection.spike_z == 3.5


def test_a_table_written_whole_replaces_the_files(tmp_path: Path) -> None:
    path = tmp_path / "audience.toml"
    path.write_text('[alerts]\ntag_recipients = {vip = ["a@example.org"]}\n')
    settings = load_settings(
        path, environ={"AUDIENCE_ALERTS__TAG_RECIPIENTS": '{ops = ["ops@example.org"]}'}
    )
    assert settings.alerts.tag_recipients == {"ops": ("ops@example.org",)}


def test_the_short_warehouse_variable_wins_over_the_long_one(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={
            "AUDIENCE_WAREHOUSE__PATH": str(tmp_path / "long.duckdb"),
            "AUDIENCE_WAREHOUSE": str(tmp_path / "short.duckdb"),
        },
    )
    assert settings.warehouse.path == tmp_path / "short.duckdb"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AUDIENCE_X__Y__Z": "1"}, r"^environment AUDIENCE_X__Y__Z: x: Extra inputs"),
        (
            {"AUDIENCE_DETECTION__SPYKE_Z": "4"},
            r"^environment AUDIENCE_DETECTION__SPYKE_Z: detection.spyke_z: Extra inputs",
        ),
        (
            {"AUDIENCE_PLATFORMS__MYSPACE__BASE_URL": "http://127.0.0.1:9"},
            r"^environment AUDIENCE_PLATFORMS__MYSPACE__BASE_URL: platforms: unknown platform\(s\) \['myspace'\]",
        ),
        (
            {"AUDIENCE_ALERTS__SMTP_PORT": "many"},
            r"^environment AUDIENCE_ALERTS__SMTP_PORT: alerts.smtp_port: Input should be a valid integer",
        ),
        (
            {"AUDIENCE_ALERTS__RECIPIENTS": "ops@example.org"},  # a list is written ["..."]
            r"^environment AUDIENCE_ALERTS__RECIPIENTS: alerts.recipients: Input should be a valid tuple",
        ),
        (
            {"AUDIENCE_ALERTS__SMTP_USER": "true"},  # read as TOML: a boolean, not a name
            r"^environment AUDIENCE_ALERTS__SMTP_USER: alerts.smtp_user: Input should be a valid string",
        ),
        (
            {"AUDIENCE_PLATFORMS__GITHUB__TIMEOUT_S": "1", "AUDIENCE_PLATFORMS__GITHUB": "2"},
            r"^environment AUDIENCE_PLATFORMS__GITHUB__TIMEOUT_S: platforms.github is not a table",
        ),
        (
            {"AUDIENCE_PLATFORMS__YOUTUBE__API_KEY": "k"},
            r"^environment AUDIENCE_PLATFORMS__YOUTUBE__API_KEY: secrets have their own variables: AUDIENCE_YOUTUBE_API_KEY",
        ),
    ],
)
def test_a_bad_variable_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ=environ)


def test_file_and_environment_errors_each_name_their_source(tmp_path: Path) -> None:
    path = tmp_path / "audience.toml"
    path.write_text('[detection]\nspike_z = "high"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"AUDIENCE_DETECTION__DROP_Z": "-1"})
    assert str(info.value).splitlines() == [
        f"{path}: detection.spike_z: Input should be a valid number, unable to parse string as a number",
        "environment AUDIENCE_DETECTION__DROP_Z: detection.drop_z: Input should be greater than 0",
    ]


def test_an_override_into_a_value_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audience.toml"
    path.write_text("detection = 5\n")
    with pytest.raises(
        ConfigError, match=r"^environment AUDIENCE_DETECTION__SPIKE_Z: detection is not a table"
    ):
        load_settings(path, environ={"AUDIENCE_DETECTION__SPIKE_Z": "4"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Detection]\nspike_z = 4\n", r": Detection: Extra inputs are not permitted"),
        ("[secrets]\n", r": secrets: secrets are read from the environment only"),
    ],
)
def test_file_keys_are_read_as_written(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "audience.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_a_directory_as_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read: \[Errno 21\] Is a directory"):
        load_settings(tmp_path, environ={})


def test_only_the_given_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mapping given is the whole environment; names outside AUDIENCE_SECTION__KEY are not settings."""
    monkeypatch.setenv("AUDIENCE_DETECTION__SPIKE_Z", "not a number")
    monkeypatch.setenv("AUDIENCE_GITHUB_TOKEN", "from-os-environ")
    settings = load_settings(
        None,
        environ={
            "AUDIENCE_DEBUG": "1",
            "AUDIENCE_ACCOUNTS": "anything",
            "AUDIENCE_SMTP_CAFILE": "/nowhere.pem",
            "audience_detection__spike_z": "also not a number",  # the prefix is upper case
            "AUDIENCE_SMTP_PASSWORD": "",  # empty: unset
        },
    )
    assert settings.detection.spike_z == 3.5
    assert settings.secrets.github_token is None
    assert settings.secrets.smtp_password is None
    assert Settings().secrets.github_token is None  # alone, a class holds its defaults only


def test_a_bad_variable_is_refused_by_the_command_line_in_its_name(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIENCE_DETECTION__SPIKE_Z", "\x1b[31m")
    result = cli("accounts", "list")
    assert result.code == 2
    assert result.err.startswith(
        "error: environment AUDIENCE_DETECTION__SPIKE_Z: detection.spike_z: Input should be"
    )
    assert "\x1b" not in result.err

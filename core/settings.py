"""One typed settings object: `audience.toml`, then environment overrides, secrets from the environment.

Precedence (last wins): built-in defaults < the TOML file < `AUDIENCE_SECTION__KEY=value`
environment overrides < command-line options. Secrets are never read from the file: a key that
looks like one is refused, and each secret has one environment variable (see SECRET_ENV).

pydantic-settings reads the file (`TomlConfigSettingsSource`) and the environment
(`EnvSettingsSource`: prefix, `__` nesting); `load_settings` names the variable or file behind
every error.
"""

from __future__ import annotations

import errno
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.types import Traversable
from pydantic_settings.sources.utils import parse_env_vars

from core.detection import DetectionSettings
from core.engagement import EngagementSettings
from core.errors import ConfigError, HandleError
from core.platforms import PLATFORMS, canonical_handle
from core.samples import SampleSettings
from core.section import Section

DEFAULT_CONFIG = Path("audience.toml")
DEFAULT_WAREHOUSE = Path("warehouse/audience.duckdb")
ENV_PREFIX = "AUDIENCE_"

_SECRET_WORDS = ("password", "token", "secret", "api_key", "apikey")


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]  # "" in TOML means unset


class _Model(Section):
    # TOML has numbers, so an id like 1784... may arrive as one
    model_config = ConfigDict(coerce_numbers_to_str=True)


class _FromSources(BaseSettings):
    """A settings class whose sources `load_settings` picks: alone it holds its defaults only."""

    # keys as written: `[Detection]` is no `[detection]` (the environment source lowers names itself)
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=True, extra="forbid", frozen=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # never os.environ behind the caller's back


class AccountConfig(_Model):
    """A tracked account."""

    platform: str
    handle: str
    tags: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()  # alert recipients for this account, on top of the defaults

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if value not in PLATFORMS:
            raise ValueError(
                f"unknown platform {value!r}; supported: {', '.join(sorted(PLATFORMS))}"
            )
        return value

    @field_validator("handle")
    @classmethod
    def _canonical_handle(cls, value: str, info: ValidationInfo) -> str:
        platform = info.data.get("platform")
        if platform is None:  # the platform itself was refused; that error is enough
            return value
        try:
            return canonical_handle(platform, value)
        except HandleError as exc:
            raise ValueError(str(exc)) from None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.handle}"


class WarehouseSettings(_Model):
    path: Path = DEFAULT_WAREHOUSE
    lock_timeout_s: float = Field(10.0, ge=0)  # how long to wait for another process's lock

    @field_validator("path", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give the warehouse file's path (or leave the key out)")
        return value


class PlatformSettings(_Model):
    """Per-platform client settings; `base_url` points a collector at the simulator."""

    base_url: OptionalText = None  # the API root; Mastodon's is a template: https://{host}
    auth_url: OptionalText = None  # Reddit's token endpoint
    account_id: OptionalText = None  # Instagram: your own business account id (not a secret)
    max_wait_s: float = Field(900.0, ge=0)  # longest wait for a rate-limit window before giving up
    backoff_s: float = Field(0.5, ge=0)  # first retry delay; doubles per attempt, with full jitter
    batch_size: int | None = Field(None, ge=1)  # lower the documented batch maximum if needed
    timeout_s: float = Field(10.0, gt=0)
    max_concurrency: int = Field(4, ge=1, le=64)
    max_retries: int = Field(4, ge=0, le=10)
    enabled: bool = True


class AlertSettings(_Model):
    recipients: tuple[str, ...] = ()
    tag_recipients: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    sender: str = "audience-tracker@localhost"
    smtp_host: OptionalText = None  # unset: messages are written to `outbox` as .eml files
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: OptionalText = None
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(30.0, gt=0)
    outbox: Path = Path("outbox")


# a scheduler's address as `dask scheduler` prints it: tcp://HOST:PORT, HOST a name, IPv4 or [IPv6]
_DASK_ADDRESS = re.compile(r"(tcp|tls)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}")


class OrchestrationSettings(_Model):
    """Where the nightly collection runs: local threads (the default), or shards of the
    accounts fanned out over a Dask cluster through Prefect's Dask task runner."""

    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: OptionalText = None  # the scheduler, e.g. tcp://10.0.0.5:8786
    shards: int = Field(0, ge=0, le=4096)  # 0: one per worker thread of the cluster

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        port = value.rsplit(":", 1)[-1]
        if _DASK_ADDRESS.fullmatch(value) is None or not 0 < int(port or "0") < 65536:
            raise ValueError(
                f"{value!r} is not a Dask scheduler address; write it as tcp://HOST:PORT "
                "(or tls://HOST:PORT), as `dask scheduler` prints it"
            )
        return value

    @model_validator(mode="after")
    def _address_for_dask(self) -> OrchestrationSettings:
        if self.task_runner == "dask" and self.dask_address is None:
            raise ValueError(
                'task_runner = "dask" needs dask_address, the scheduler\'s tcp://HOST:PORT '
                '(or task_runner = "threads" to collect on this machine)'
            )
        return self


class ReportSettings(_Model):
    path: Path = Path("report/audience-report.html")  # written by each run and by `audience report`


class Secrets(_FromSources):
    """Credentials, read from the environment only; SecretStr keeps them out of reprs and logs."""

    model_config = SettingsConfigDict(env_ignore_empty=True)  # AUDIENCE_GITHUB_TOKEN= is unset

    github_token: SecretStr | None = None
    youtube_api_key: SecretStr | None = None
    x_bearer_token: SecretStr | None = None
    twitch_client_id: SecretStr | None = None
    twitch_token: SecretStr | None = None
    reddit_client_id: SecretStr | None = None
    reddit_client_secret: SecretStr | None = None
    instagram_token: SecretStr | None = None
    smtp_password: SecretStr | None = None

    @field_validator("*")
    @classmethod
    def _printable_ascii(cls, value: SecretStr | None) -> SecretStr | None:
        """Tokens, keys and passwords travel in HTTP headers and SMTP's login, which take ASCII:
        anything else (a pasted curly quote, a line break) is refused here, without the value,
        not met as an encoding error in the middle of a request."""
        if value is not None:
            text = value.get_secret_value()
            at = next((i for i, c in enumerate(text) if not " " <= c <= "~"), None)
            if at is not None:
                raise ValueError(
                    f"character {at + 1} of {len(text)} is not printable ASCII, which tokens, "
                    "keys and passwords are (the value is not shown)"
                )
        return value


# secret name -> environment variable (AUDIENCE_GITHUB_TOKEN...); the only place secrets come from
SECRET_ENV: dict[str, str] = {name: f"{ENV_PREFIX}{name.upper()}" for name in Secrets.model_fields}


class Settings(_FromSources):
    """Everything the tracker is configured with."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", coerce_numbers_to_str=True)

    warehouse: WarehouseSettings = WarehouseSettings()
    accounts: tuple[AccountConfig, ...] = ()
    platforms: dict[str, PlatformSettings] = Field(default_factory=dict)
    detection: DetectionSettings = DetectionSettings()
    alerts: AlertSettings = AlertSettings()
    report: ReportSettings = ReportSettings()
    samples: SampleSettings = SampleSettings()
    engagement: EngagementSettings = EngagementSettings()
    orchestration: OrchestrationSettings = OrchestrationSettings()
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, value: dict[str, PlatformSettings]) -> dict[str, PlatformSettings]:
        unknown = sorted(set(value) - set(PLATFORMS))
        if unknown:
            raise ValueError(f"unknown platform(s) {unknown}; supported: {sorted(PLATFORMS)}")
        return value

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: tuple[AccountConfig, ...]) -> tuple[AccountConfig, ...]:
        seen: set[str] = set()
        for account in value:
            if account.key in seen:
                raise ValueError(f"account {account.key} is listed twice")
            seen.add(account.key)
        return value

    def platform(self, name: str) -> PlatformSettings:
        """Settings of one platform (defaults when the file says nothing)."""
        return self.platforms.get(name, PlatformSettings())


def _find_secret_keys(data: Mapping[str, object], path: str = "") -> list[str]:
    found = []
    for key, value in data.items():
        where = f"{path}{key}"
        if any(word in key.lower() for word in _SECRET_WORDS):
            found.append(where)
        if isinstance(value, Mapping):
            found.extend(_find_secret_keys(value, where + "."))
    return found


def _secret_hint(dotted: str) -> str:
    """The variable for a secret found at `dotted` (e.g. platforms.youtube.api_key), if clear."""
    parts = dotted.split(".")
    for candidate in (parts[-1], "_".join(parts[-2:])):
        if candidate in SECRET_ENV:
            return SECRET_ENV[candidate]
    return "one of " + ", ".join(sorted(SECRET_ENV.values()))


def _toml_value(raw: str) -> object:
    """An environment value read as a TOML value when it is one (["a"], {k = 1}), else as given."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


Origin = dict[tuple[str, ...], str]  # path of a setting -> the variable that set it
Table = dict[str, object]  # settings as read, before validation: a TOML table, nested values


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over `environ` (os.environ, or a test's mapping)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = {name: v for name, v in environ.items() if name.startswith(ENV_PREFIX)}
        super().__init__(settings_cls, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _Overrides(_Environment):
    """AUDIENCE_SECTION__KEY variables, nested on `__`; a list or a table is written as TOML."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        names = sorted(name for name in environ if name.startswith(ENV_PREFIX) and "__" in name)
        self.origin: Origin = {
            tuple(name[len(ENV_PREFIX) :].lower().split("__")): name for name in names
        }
        _refuse_misplaced(self.origin)
        super().__init__(Settings, {name: environ[name] for name in names})

    # TOML values where the base class has text: typed loosely, as the base class's callers take them
    def _load_env_vars(self) -> Mapping[str, Any]:
        return {name: _toml_value(raw or "") for name, raw in super()._load_env_vars().items()}

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: object) -> object:
        return value  # read as TOML already; what is not TOML stays text, for validation to refuse

    def __call__(self) -> Table:
        values: Table = super().__call__()
        for path in self.origin:
            if path[0] not in Settings.model_fields:  # the source reads fields only
                values.setdefault(path[0], {})  # so that validation refuses it as an extra input
        return values


def _refuse_misplaced(origin: Origin) -> None:
    """A secret through a settings override, or a value below another variable's value."""
    for path, name in origin.items():
        if any(word in path[-1] for word in _SECRET_WORDS):
            raise ConfigError(
                f"environment {name}: secrets have their own variables: {_secret_hint('.'.join(path))}"
            )
        if any(path[:depth] in origin for depth in range(1, len(path))):
            raise ConfigError(f"environment {name}: {'.'.join(path[:-1])} is not a table")


def _merged(low: Table, high: Table, origin: Origin, where: tuple[str, ...] = ()) -> Table:
    """`high` over `low`: tables the variables reach into are merged, a variable's value replaces."""
    out = dict(low)
    for key, value in high.items():
        path, below = (*where, key), out.get(key)
        if key not in out or path in origin or not isinstance(value, dict):
            out[key] = value
        elif isinstance(below, dict):
            out[key] = _merged(below, value, origin, path)
        else:
            name, full = next((n, p) for p, n in origin.items() if p[: len(path)] == path)
            raise ConfigError(f"environment {name}: {'.'.join(full[:-1])} is not a table")
    return out


class _ConfigFile(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, reading the file as UTF-8 text (any line ending)."""

    def _read_file(self, file_path: Path | Traversable) -> Table:
        return tomllib.loads(file_path.read_text(encoding="utf-8"))


def _read_file(config_path: Path, explicit: bool) -> Table:
    """The file's settings (none when it is absent and was not asked for); secrets refused."""
    if not config_path.exists():
        if explicit:
            raise ConfigError(f"{config_path}: configuration file not found")
        return {}
    try:
        if config_path.is_dir():  # the TOML source would skip it silently
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(config_path))
        data = _ConfigFile(Settings, toml_file=config_path).toml_data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read: {exc}") from None
    secret_keys = _find_secret_keys(data)
    if secret_keys:
        key = secret_keys[0]
        raise ConfigError(
            f"{config_path}: {key}: secrets are read from the environment only "
            f"(set {_secret_hint(key)}); remove it from the file"
        )
    return data


def _faults(values: Table) -> set[tuple[str, ...]]:
    """Where validating `values` alone fails."""
    try:
        Settings.model_validate(values)
    except ValidationError as exc:
        return {tuple(str(p) for p in err["loc"]) for err in exc.errors()}
    return set()


def _validated(values: Table, origin: Origin, from_env: Table, source: str) -> Settings:
    """The settings, or one ConfigError with a line per problem, each naming who set the value:
    the variable, or the variables below it when the environment's values alone fail there
    (an unknown section or platform), else `source`."""
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        env_faults, lines = _faults(from_env), []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            above = [name for path, name in origin.items() if loc[: len(path)] == path]
            below = [name for path, name in origin.items() if path[: len(loc)] == loc]
            names = above[:1] or (below if loc in env_faults else [])
            blame = f"environment {', '.join(names)}" if names else source
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{blame}: {'.'.join(loc) or '(top level)'}: {message}")
        raise ConfigError("\n".join(lines)) from None


def settings_path(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The settings file read: `path`, else AUDIENCE_CONFIG, else ./audience.toml."""
    env = os.environ if environ is None else environ
    return path or Path(env.get("AUDIENCE_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings: `path` (or ./audience.toml when present), then the environment."""
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get("AUDIENCE_CONFIG"))
    config_path = settings_path(path, env)
    from_file = _read_file(config_path, explicit)
    overrides = _Overrides(env)
    from_env = overrides()
    if env.get("AUDIENCE_WAREHOUSE"):  # short for AUDIENCE_WAREHOUSE__PATH, and it wins
        warehouse = from_env.get("warehouse")  # a table: the variables below warehouse, if any
        table = warehouse if isinstance(warehouse, dict) else {}
        from_env["warehouse"] = {**table, "path": env["AUDIENCE_WAREHOUSE"]}
        overrides.origin[("warehouse", "path")] = "AUDIENCE_WAREHOUSE"
    values = _merged(from_file, from_env, overrides.origin)
    secrets = _Environment(Secrets, env)()
    for name in secrets:  # a problem with a secret names its variable
        overrides.origin[("secrets", name)] = SECRET_ENV[name]
    values["secrets"] = secrets
    source = str(config_path) if config_path.exists() else "defaults"
    return _validated(values, overrides.origin, from_env, source)

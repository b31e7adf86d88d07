"""The CLI's profiles file: named `{server, token}` pairs and the current one, kept private (0600).

Location: `$SUANLI_CONFIG_DIR/config.toml`, by default `~/.suanli/config.toml`:

    current = "default"

    [profiles.default]
    server = "http://127.0.0.1:8000"
    token = "slt_..."

Read with `tomllib`; written by this module (all values are strings), atomically and never readable by
others. The environment overrides the file: `SUANLI_PROFILE` picks the profile, `SUANLI_SERVER` and
`SUANLI_TOKEN` replace its fields.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_PROFILE",
    "Config",
    "ConfigError",
    "NotLoggedIn",
    "Profile",
    "config_path",
    "load_config",
    "remove_profile",
    "resolve_profile",
    "save_profile",
    "use_profile",
    "write_config",
]

CONFIG_FILE = "config.toml"
DEFAULT_PROFILE = "default"
_FILE_MODE = 0o600
_DIR_MODE = 0o700


class ConfigError(Exception):
    """The profiles file is unreadable, malformed, or names a profile that does not exist."""


class NotLoggedIn(ConfigError):
    """No server is configured for the chosen profile."""


@dataclass(frozen=True)
class Profile:
    """Where one identity talks to: a server URL and the bearer token used there."""

    name: str
    server: str
    token: str | None


@dataclass(frozen=True)
class Config:
    """The whole file: every profile by name and the one used when none is chosen."""

    current: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


def config_path(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The file's path: `config_dir`, else `$SUANLI_CONFIG_DIR`, else `~/.suanli`, plus `config.toml`."""
    env = os.environ if env is None else env
    base = config_dir or Path(env.get("SUANLI_CONFIG_DIR") or Path.home() / ".suanli")
    return Path(base).expanduser() / CONFIG_FILE


def load_config(config_dir: Path | None = None) -> Config:
    """Read the file; a missing file is an empty config."""
    path = config_path(config_dir)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    profiles: dict[str, Profile] = {}
    for name, entry in (raw.get("profiles") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("server"), str):
            raise ConfigError(f"{path}: profile {name!r} needs a `server` string")
        token = entry.get("token")
        profiles[name] = Profile(name, entry["server"], token if isinstance(token, str) else None)
    current = raw.get("current")
    return Config(current if isinstance(current, str) else None, profiles)


def write_config(config: Config, config_dir: Path | None = None) -> Path:
    """Replace the file atomically; it is created 0600 and never exists with wider permissions."""
    path = config_path(config_dir)
    path.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)  # mkstemp: 0600
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(_render(config))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, _FILE_MODE)
    return path


def save_profile(
    name: str, server: str, token: str, make_current: bool = True, config_dir: Path | None = None
) -> Path:
    """Add or replace profile `name`; used by `suanli login` and by the server on its first start."""
    config = load_config(config_dir)
    profiles = {**config.profiles, name: Profile(name, server.rstrip("/"), token)}
    current = name if make_current or config.current is None else config.current
    return write_config(Config(current, profiles), config_dir)


def remove_profile(name: str, config_dir: Path | None = None) -> Path:
    """Forget profile `name` and its token; if it was current, no profile is current afterwards."""
    config = load_config(config_dir)
    if name not in config.profiles:
        raise ConfigError(f"no profile named {name!r}")
    profiles = {k: v for k, v in config.profiles.items() if k != name}
    current = None if config.current == name else config.current
    return write_config(Config(current, profiles), config_dir)


def use_profile(name: str, config_dir: Path | None = None) -> Path:
    """Make profile `name` the current one."""
    config = load_config(config_dir)
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none"
        raise ConfigError(f"no profile named {name!r} (known: {known})")
    return write_config(Config(name, config.profiles), config_dir)


def resolve_profile(
    name: str | None = None, env: Mapping[str, str] | None = None, config_dir: Path | None = None
) -> Profile:
    """The profile a command uses: `name`, else `$SUANLI_PROFILE`, else the current one.

    `$SUANLI_SERVER` and `$SUANLI_TOKEN` override the file's fields, so a script can run without a file.
    """
    env = os.environ if env is None else env
    config = load_config(config_path(config_dir, env).parent)
    chosen = name or env.get("SUANLI_PROFILE") or config.current or DEFAULT_PROFILE
    stored = config.profiles.get(chosen)
    server = env.get("SUANLI_SERVER") or (stored.server if stored else None)
    token = env.get("SUANLI_TOKEN") or (stored.token if stored else None)
    if server:
        return Profile(chosen, server.rstrip("/"), token)
    if (name or env.get("SUANLI_PROFILE")) and config.profiles:
        known = ", ".join(sorted(config.profiles))
        raise NotLoggedIn(f"no profile named {chosen!r} (known: {known}); see `suanli profiles`")
    raise NotLoggedIn(
        "not logged in: run `suanli login --server URL` "
        "(or `make up` to start a local network, which logs you in)"
    )


def _render(config: Config) -> str:
    lines = ["# suanli CLI profiles; written by `suanli login`. Keep private: it holds tokens.", ""]
    if config.current is not None:
        lines += [f"current = {_toml_string(config.current)}", ""]
    for name in sorted(config.profiles):
        profile = config.profiles[name]
        lines.append(f"[profiles.{_toml_string(name)}]")
        lines.append(f"server = {_toml_string(profile.server)}")
        if profile.token is not None:
            lines.append(f"token = {_toml_string(profile.token)}")
        lines.append("")
    return "\n".join(lines)


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string once DEL, which JSON leaves bare, is escaped too.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")

"""The CLI's profiles file: named `{server, token}` pairs and the current one, kept private (0600).

Location: `$SUANLI_CONFIG_DIR/config.toml`, by default `~/.suanli/config.toml`:

    current = "default"

    [profiles.default]
    server = "http://127.0.0.1:8600"
    token = "slt_..."

Read with `tomllib`; written by this module (all values are strings), atomically and never readable by
others. The environment overrides the file: `SUANLI_PROFILE` picks the profile, `SUANLI_SERVER` and
`SUANLI_TOKEN` replace its fields. A profile named on the command line (`--profile`) is the user's
explicit choice and beats the environment: its own server and token are used.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
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
    "link_local_network",
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
    token_from_env: bool = False
    """The token is `$SUANLI_TOKEN`'s, not the one this profile holds in the file."""


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


def link_local_network(
    server: str,
    tenant_token: str,
    operator_token: str | None,
    new: bool,
    config_dir: Path | None = None,
) -> list[str]:
    """Point the CLI at a network `suanli up` runs (`new`: started for the first time): a tenant
    profile (`local`) and an operator one (`local-operator`) holding its tokens. Says what it
    changed, a line each; nothing when the profiles were already right.

    A network is known by its tokens, not by a profile's name, so one started again on another
    port keeps its profiles and they follow it. A network never takes another one's names: when
    `local` or `local-operator` holds other tokens it gets `local-PORT` (then `local-PORT-2`, …),
    and the profiles there are left as they were. A new network's `local` becomes the current
    profile; any other profile it writes (a second network's `local-PORT`, or a known network's
    profile written again because it was removed) only when no profile is current, so that when a
    second network stops, a plain `suanli jobs` still reaches the first, or when the current profile
    is at this network's own address with another network's token: that one is gone (its data was
    removed and a new network started in its place)."""
    server = server.rstrip("/")
    config = load_config(config_dir)
    profiles = dict(config.profiles)
    tokens = {tenant_token: "tenant", **({operator_token: "operator"} if operator_token else {})}
    held = {p.name: tokens[p.token] for p in profiles.values() if p.token in tokens}
    said: list[str] = []
    moved = sorted(n for n in held if profiles[n].server != server)
    for name in moved:
        profiles[name] = Profile(name, server, profiles[name].token)
    if moved:
        said.append(f"CLI {_names(moved)} now {'point' if len(moved) > 1 else 'points'} at {server}")
    current = config.current
    if "tenant" not in held.values():
        tenant = _free_name(profiles, tokens, server)
        if tenant != "local":
            taken = [n for n in ("local", "local-operator") if n in profiles and n not in held]
            said.append(
                f"CLI {_names(taken)} {'hold' if len(taken) > 1 else 'holds'} another network's token "
                f"({profiles[taken[0]].server}); this network's is {tenant!r}"
            )
        written = [tenant]
        profiles[tenant] = Profile(tenant, server, tenant_token)
        if operator_token and "operator" not in held.values():
            written.append(f"{tenant}-operator")
            profiles[written[-1]] = Profile(written[-1], server, operator_token)
        # The current profile's server is this one's address but its token another network's: that
        # network is gone (nothing else can serve here), so this one takes over.
        stale = current in profiles and profiles[current].server.rstrip("/") == server
        if current is None or (new and tenant == "local") or stale:
            current = tenant
        if current == tenant:
            said.append(f"CLI {_names(written)} written; {tenant!r} is current")
        elif not new:
            said.append(f"CLI {_names(written)} written")
        else:
            said.append(
                f"CLI {_names(written)} written; the current profile stays {current!r}: use this "
                f"network with `suanli --profile {tenant} …` or `suanli profiles use {tenant}`"
            )
    if not said:
        return []
    write_config(Config(current, profiles), config_dir)
    return said


def _free_name(profiles: Mapping[str, Profile], tokens: Mapping[str, str], server: str) -> str:
    """`local`, else `local-PORT`, else `local-PORT-2`, …: the first whose tenant and operator
    names are both free (or hold this network's tokens)."""
    port = server.rsplit(":", 1)[-1].strip("/")
    candidates = ["local", f"local-{port}" if port.isdigit() else "local-2"]

    def free(name: str) -> bool:
        return all(n not in profiles or profiles[n].token in tokens for n in (name, f"{name}-operator"))

    for name in candidates:
        if free(name):
            return name
    n = 2
    while not free(f"{candidates[1]}-{n}"):
        n += 1
    return f"{candidates[1]}-{n}"


def _names(names: Sequence[str]) -> str:
    """`profile 'a'`, `profiles 'a' and 'b'`."""
    return ("profiles " if len(names) > 1 else "profile ") + " and ".join(f"{n!r}" for n in names)


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
    """The profile a command uses: `name` (given on the command line), else `$SUANLI_PROFILE`, else the
    current one.

    `$SUANLI_SERVER` and `$SUANLI_TOKEN` override the file's fields, so a script can run without a file;
    but not those of a saved profile chosen by `name`: the environment is the default, a profile named
    on the command line the user's explicit choice. (A `name` not in the file still takes them.)
    """
    env = os.environ if env is None else env
    config = load_config(config_path(config_dir, env).parent)
    chosen = name or env.get("SUANLI_PROFILE") or config.current or DEFAULT_PROFILE
    stored = config.profiles.get(chosen)
    overrides: Mapping[str, str] = {} if name and stored else env
    server = overrides.get("SUANLI_SERVER") or (stored.server if stored else None)
    env_token = overrides.get("SUANLI_TOKEN")
    token = env_token or (stored.token if stored else None)
    if server:
        return Profile(chosen, server.rstrip("/"), token, token_from_env=bool(env_token))
    if (name or env.get("SUANLI_PROFILE")) and config.profiles:
        known = ", ".join(sorted(config.profiles))
        raise ConfigError(f"no profile named {chosen!r} (known: {known}); see `suanli profiles`")
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

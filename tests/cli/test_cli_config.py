"""The profiles file: private permissions, round trips, the current profile, env overrides."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from suanli.cli.config import (
    ConfigError,
    NotLoggedIn,
    link_local_network,
    load_config,
    remove_profile,
    resolve_profile,
    save_profile,
    use_profile,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_is_private(config_dir: Path) -> None:
    path = save_profile("default", "http://a.test", "slt_x", config_dir=config_dir)
    assert path == config_dir / "config.toml"
    assert mode(path) == 0o600
    assert mode(config_dir) == 0o700


def test_existing_readable_file_is_made_private(config_dir: Path) -> None:
    config_dir.mkdir()
    path = config_dir / "config.toml"
    path.write_text('current = "old"\n')
    path.chmod(0o644)
    save_profile("default", "http://a.test", "slt_x", config_dir=config_dir)
    assert mode(path) == 0o600


def test_round_trip_keeps_awkward_strings(config_dir: Path) -> None:
    name, server, token = 'we"ird\\name é', "http://a.test/", "tok\x7fen\n"
    save_profile(name, server, token, config_dir=config_dir)
    raw = tomllib.loads((config_dir / "config.toml").read_text())
    assert raw["current"] == name
    profile = load_config(config_dir).profiles[name]
    assert (profile.server, profile.token) == ("http://a.test", token)


def test_make_current_false_keeps_the_current_profile(config_dir: Path) -> None:
    save_profile("a", "http://a.test", "t1", config_dir=config_dir)
    save_profile("b", "http://b.test", "t2", make_current=False, config_dir=config_dir)
    assert load_config(config_dir).current == "a"
    use_profile("b", config_dir=config_dir)
    assert load_config(config_dir).current == "b"


def test_removing_the_current_profile_leaves_none_current(config_dir: Path) -> None:
    save_profile("a", "http://a.test", "t1", config_dir=config_dir)
    remove_profile("a", config_dir=config_dir)
    assert load_config(config_dir).current is None
    with pytest.raises(ConfigError):
        remove_profile("a", config_dir=config_dir)


@pytest.mark.parametrize(
    ("name", "env", "expected"),
    [
        (None, {}, ("a", "http://a.test", "t1")),
        ("b", {}, ("b", "http://b.test", "t2")),
        (None, {"SUANLI_PROFILE": "b"}, ("b", "http://b.test", "t2")),
        ("a", {"SUANLI_PROFILE": "b"}, ("a", "http://a.test", "t1")),
        (None, {"SUANLI_SERVER": "http://c.test/"}, ("a", "http://c.test", "t1")),
        (None, {"SUANLI_TOKEN": "t9"}, ("a", "http://a.test", "t9")),
        (None, {"SUANLI_PROFILE": "b", "SUANLI_TOKEN": "t9"}, ("b", "http://b.test", "t9")),
        # A saved profile named on the command line is the user's choice: the environment's defaults
        # do not replace its token or server. One not in the file still takes them.
        ("b", {"SUANLI_TOKEN": "t9"}, ("b", "http://b.test", "t2")),
        ("b", {"SUANLI_SERVER": "http://c.test", "SUANLI_TOKEN": "t9"}, ("b", "http://b.test", "t2")),
        ("zzz", {"SUANLI_SERVER": "http://c.test", "SUANLI_TOKEN": "t9"}, ("zzz", "http://c.test", "t9")),
    ],
)
def test_resolution_order(
    config_dir: Path, name: str | None, env: dict[str, str], expected: tuple[str, str, str]
) -> None:
    save_profile("b", "http://b.test", "t2", config_dir=config_dir)
    save_profile("a", "http://a.test", "t1", config_dir=config_dir)
    profile = resolve_profile(name, env={"SUANLI_CONFIG_DIR": str(config_dir), **env})
    assert (profile.name, profile.server, profile.token) == expected


@pytest.mark.parametrize(("name", "from_env"), [(None, True), ("a", False)])
def test_a_profile_says_whether_its_token_is_the_environments(
    config_dir: Path, name: str | None, from_env: bool
) -> None:
    save_profile("a", "http://a.test", "t1", config_dir=config_dir)
    env = {"SUANLI_CONFIG_DIR": str(config_dir), "SUANLI_TOKEN": "t9"}
    assert resolve_profile(name, env=env).token_from_env is from_env


def test_no_file_means_not_logged_in(config_dir: Path) -> None:
    with pytest.raises(NotLoggedIn, match="suanli login"):
        resolve_profile(env={"SUANLI_CONFIG_DIR": str(config_dir)})


def test_unknown_profile_is_named(config_dir: Path) -> None:
    save_profile("a", "http://a.test", "t1", config_dir=config_dir)
    with pytest.raises(ConfigError, match="no profile named 'nope'") as caught:  # a usage error (2), not 4
        resolve_profile("nope", env={"SUANLI_CONFIG_DIR": str(config_dir)})
    assert not isinstance(caught.value, NotLoggedIn)


def test_malformed_file_is_a_config_error(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("current = [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(config_dir)


def servers(config_dir: Path) -> dict[str, tuple[str, str | None]]:
    return {n: (p.server, p.token) for n, p in load_config(config_dir).profiles.items()}


def test_a_new_local_network_gets_local_and_local_operator(config_dir: Path) -> None:
    said = link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=True, config_dir=config_dir)
    assert servers(config_dir) == {
        "local": ("http://127.0.0.1:8600", "ten1"),
        "local-operator": ("http://127.0.0.1:8600", "op1"),
    }
    assert load_config(config_dir).current == "local"
    assert said == ["CLI profiles 'local' and 'local-operator' written; 'local' is current"]


def test_a_second_network_does_not_take_the_first_ones_profiles(config_dir: Path) -> None:
    link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=True, config_dir=config_dir)
    said = link_local_network("http://127.0.0.1:8677", "ten2", "op2", new=True, config_dir=config_dir)
    assert servers(config_dir) == {
        "local": ("http://127.0.0.1:8600", "ten1"),
        "local-operator": ("http://127.0.0.1:8600", "op1"),
        "local-8677": ("http://127.0.0.1:8677", "ten2"),
        "local-8677-operator": ("http://127.0.0.1:8677", "op2"),
    }
    assert load_config(config_dir).current == "local"  # the second network does not take over
    assert "'local' and 'local-operator' hold another network's token (http://127.0.0.1:8600)" in said[0]
    assert "current profile stays 'local'" in said[1] and "suanli profiles use local-8677" in said[1]
    # a third on the same port as the second: the next free name
    link_local_network("http://127.0.0.1:8677", "ten3", "op3", new=True, config_dir=config_dir)
    assert servers(config_dir)["local-8677-2"] == ("http://127.0.0.1:8677", "ten3")


def test_a_network_started_again_on_another_port_takes_its_profiles_along(config_dir: Path) -> None:
    link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=True, config_dir=config_dir)
    save_profile("elsewhere", "https://api.example", "tok", config_dir=config_dir)  # the user's choice
    assert link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=False, config_dir=config_dir) == []
    said = link_local_network("http://127.0.0.1:8700", "ten1", "op1", new=False, config_dir=config_dir)
    assert said == ["CLI profiles 'local' and 'local-operator' now point at http://127.0.0.1:8700"]
    assert servers(config_dir)["local"] == ("http://127.0.0.1:8700", "ten1")
    assert servers(config_dir)["local-operator"] == ("http://127.0.0.1:8700", "op1")
    assert load_config(config_dir).current == "elsewhere"  # a restart never moves the current profile


def test_a_removed_profile_is_written_again_without_taking_over(config_dir: Path) -> None:
    link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=True, config_dir=config_dir)
    save_profile("elsewhere", "https://api.example", "tok", config_dir=config_dir)
    remove_profile("local", config_dir=config_dir)
    said = link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=False, config_dir=config_dir)
    assert said == ["CLI profile 'local' written"]
    assert servers(config_dir)["local"] == ("http://127.0.0.1:8600", "ten1")
    assert load_config(config_dir).current == "elsewhere"


def test_a_new_network_where_a_gone_one_was_becomes_current(config_dir: Path) -> None:
    # the first network on 8600, then a second on 8677; the first's data is removed and a new
    # network starts on 8600: `local` still holds the gone network's token, so the new one is
    # `local-8600`, and the current profile (the gone one's, at this address) moves to it
    link_local_network("http://127.0.0.1:8600", "ten1", "op1", new=True, config_dir=config_dir)
    said = link_local_network("http://127.0.0.1:8600", "ten9", "op9", new=True, config_dir=config_dir)
    assert servers(config_dir)["local-8600"] == ("http://127.0.0.1:8600", "ten9")
    assert load_config(config_dir).current == "local-8600"
    assert "'local-8600' is current" in said[-1]

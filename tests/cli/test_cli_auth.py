"""`login`, `logout`, `profiles`, `whoami`, and what a user sees when not logged in."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_fakes import SERVER, TOKEN, FakeApi, ok, problem
from typer.testing import Result

from suanli.cli.config import load_config, save_profile
from suanli.domain.tokens import TokenKind, mint

Run = Callable[..., Result]
ME = {"user": "alice", "operator": False, "memberships": [{"org": "acme", "role": "admin"}]}


def test_login_verifies_the_token_then_saves_a_private_profile(
    api: FakeApi, run: Run, config_dir: Path, tmp_path: Path
) -> None:
    api.on("GET", "/whoami", ok(ME))
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n")
    result = run("login", "--server", SERVER, "--token-file", str(token_file), "--profile", "work")
    assert result.exit_code == 0, result.output
    assert "alice" in result.stdout and "profile 'work' is now current" in result.stdout
    assert api.clients == [(SERVER, TOKEN)]
    config = load_config(config_dir)
    assert config.current == "work"
    assert config.profiles["work"].token == TOKEN
    assert stat.S_IMODE((config_dir / "config.toml").stat().st_mode) == 0o600


def test_login_prompts_for_the_token_when_none_is_given(api: FakeApi, run: Run, config_dir: Path) -> None:
    api.on("GET", "/whoami", ok(ME))
    result = run("login", "--server", SERVER, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output  # hidden input is not echoed
    assert load_config(config_dir).profiles["default"].token == TOKEN


def test_login_reads_the_token_from_an_env_var(api: FakeApi, run: Run, config_dir: Path) -> None:
    api.on("GET", "/whoami", ok(ME))
    result = run("login", "--server", SERVER, "--token-env", "MY_TOKEN", env={"MY_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert load_config(config_dir).profiles["default"].token == TOKEN


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (TOKEN[:-3], "42 characters long"),
        ("ghp_" + TOKEN[4:], "starts with"),
        (mint(TokenKind.AGENT, bytes(24)), "site agent token"),
        (TOKEN[:10] + ("x" if TOKEN[10] != "x" else "y") + TOKEN[11:], "checksum does not match"),
    ],
)
def test_login_rejects_a_wrong_token_without_a_round_trip(
    api: FakeApi, run: Run, config_dir: Path, token: str, message: str
) -> None:
    result = run("login", "--server", SERVER, input=token + "\n")
    assert result.exit_code == 2
    assert message in result.stderr
    assert api.requests == []
    assert not (config_dir / "config.toml").exists()


def test_login_with_a_rejected_token_saves_nothing(api: FakeApi, run: Run, config_dir: Path) -> None:
    api.on("GET", "/whoami", problem(401, "unauthenticated", "token not recognised"))
    result = run("login", "--server", SERVER, input=TOKEN + "\n")
    assert result.exit_code == 4
    assert "error: token not recognised" in result.stderr
    assert "run `suanli login`" not in result.stderr  # not back to the command that just failed
    assert not (config_dir / "config.toml").exists()


def test_not_logged_in_says_how_to_log_in(api: FakeApi, run: Run) -> None:
    result = run("jobs")
    assert result.exit_code == 4
    assert "suanli login" in result.stderr and "make up" in result.stderr
    assert api.requests == []


def test_a_revoked_token_says_to_log_in_again(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/jobs", problem(401, "unauthenticated", "token was revoked"))
    result = run("jobs")
    assert result.exit_code == 4
    assert "error: token was revoked (run `suanli login` to sign in again)" in result.stderr


def test_profiles_lists_masked_tokens_and_switches(api: FakeApi, run: Run, config_dir: Path) -> None:
    save_profile("local", "http://127.0.0.1:8000", TOKEN, config_dir=config_dir)
    save_profile("prod", "https://prod.test", TOKEN, make_current=False, config_dir=config_dir)
    listed = json.loads(run("profiles", "--json").stdout)
    assert listed["current"] == "local"
    assert {p["name"] for p in listed["profiles"]} == {"local", "prod"}
    assert TOKEN not in run("profiles").stdout

    used = run("profiles", "use", "prod")
    assert used.exit_code == 0 and " ".join(used.stdout.split()) == "Now using profile 'prod'."
    api.on("GET", "/whoami", ok(ME))
    assert run("whoami").exit_code == 0
    assert api.clients[-1] == ("https://prod.test", TOKEN)

    assert run("profiles", "use", "nope").exit_code == 2


def test_global_profile_option_picks_the_server(api: FakeApi, run: Run, config_dir: Path) -> None:
    save_profile("local", "http://127.0.0.1:8000", TOKEN, config_dir=config_dir)
    save_profile("prod", "https://prod.test", TOKEN, make_current=False, config_dir=config_dir)
    api.on("GET", "/whoami", ok(ME))
    assert run("--profile", "prod", "whoami").exit_code == 0
    assert api.clients[-1][0] == "https://prod.test"


def test_env_overrides_the_file(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/whoami", ok(ME))
    env_token = mint(TokenKind.TENANT, bytes(range(1, 25)))
    assert run("whoami", env={"SUANLI_SERVER": "http://other.test", "SUANLI_TOKEN": env_token}).exit_code == 0
    assert api.clients[-1] == ("http://other.test", env_token)


def test_a_profile_named_on_the_command_line_beats_the_env_token(
    api: FakeApi, run: Run, config_dir: Path
) -> None:
    save_profile("local", "http://127.0.0.1:8600", TOKEN, config_dir=config_dir)
    operator = mint(TokenKind.OPERATOR, bytes(range(2, 26)))
    save_profile(
        "local-operator", "http://127.0.0.1:8600", operator, make_current=False, config_dir=config_dir
    )
    api.on("GET", "/whoami", ok(ME))
    bob = mint(TokenKind.TENANT, bytes(range(1, 25)))
    assert run("--profile", "local-operator", "whoami", env={"SUANLI_TOKEN": bob}).exit_code == 0
    assert api.clients[-1] == ("http://127.0.0.1:8600", operator)
    # $SUANLI_PROFILE is the environment too: $SUANLI_TOKEN still overrides its token.
    said = run("whoami", env={"SUANLI_PROFILE": "local-operator", "SUANLI_TOKEN": bob})
    assert said.exit_code == 0 and api.clients[-1] == ("http://127.0.0.1:8600", bob)
    assert "(token from $SUANLI_TOKEN)" in said.stdout  # not a profile whose token is not used
    named = run("--profile", "local-operator", "whoami", env={"SUANLI_TOKEN": bob})
    assert "(profile 'local-operator')" in named.stdout


def test_a_malformed_token_or_a_server_that_is_no_url_is_a_usage_error(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    """Both once went to the network: exit 4 (the server's 401) or 5 ("cannot reach notaurl")."""
    bad = run("jobs", env={"SUANLI_TOKEN": "slt_bad"})
    assert bad.exit_code == 2 and "the token of $SUANLI_TOKEN is malformed" in bad.stderr
    save_profile("broken", SERVER, "slt_bad", make_current=False)
    named = run("--profile", "broken", "jobs", env={"SUANLI_TOKEN": TOKEN})  # the profile's token is used
    assert named.exit_code == 2 and "the token of profile 'broken' is malformed" in named.stderr
    nourl = run("jobs", env={"SUANLI_SERVER": "notaurl"})
    assert nourl.exit_code == 2 and "'notaurl' is not a server URL" in nourl.stderr
    login = run("login", "--server", "notaurl", "--token-env", "T", env={"T": TOKEN})
    assert login.exit_code == 2 and "is not a server URL" in login.stderr
    assert api.requests == []


def test_whoami_prints_user_and_memberships(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/whoami", ok(ME))
    result = run("whoami")
    assert result.exit_code == 0
    assert "alice" in result.stdout and "acme" in result.stdout and "admin" in result.stdout
    assert json.loads(run("whoami", "--json").stdout) == ME


def test_logout_forgets_the_profile(run: Run, logged_in: Path, config_dir: Path) -> None:
    out = run("logout")
    assert out.exit_code == 0 and " ".join(out.stdout.split()) == "Logged out of profile 'default'."
    assert load_config(config_dir).profiles == {}
    assert run("logout").exit_code == 2


def test_the_token_comes_one_way(api: FakeApi, run: Run, tmp_path: Path) -> None:
    file = tmp_path / "t"
    file.write_text(TOKEN)
    both = run("login", "--server", SERVER, "--token-file", str(file), "--token-env", "T", env={"T": TOKEN})
    assert both.exit_code == 2 and "not both" in both.stderr and api.requests == []

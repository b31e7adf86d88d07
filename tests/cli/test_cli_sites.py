"""Sites: browsing capacity, adding a site, and handing its operator the agent command line."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_fakes import SERVER, FakeApi, ok
from cli_server import Server
from typer.testing import Result

from suanli.domain.tokens import TokenKind, mint

Run = Callable[..., Result]
ENROLL = mint(TokenKind.ENROLLMENT, bytes(24))
POOL = {
    "name": "gpu",
    "accelerator": "A100",
    "accelerators_per_node": 4,
    "nodes": 2,
    "cpus_per_node": 32,
    "memory_mib_per_node": 262144,
    "free": {"accelerators": 3, "cpus": 40, "memory_mib": 131072, "nodes_free": 1},
}
SITE = {"name": "pku-a100", "org": "pku-hpc", "region": "cn-north", "state": "online", "pools": [POOL]}


def test_sites_shows_pools_and_free_capacity(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on(
        "GET", "/sites", ok({"items": [SITE, {**SITE, "name": "empty", "pools": []}], "next_cursor": None})
    )
    result = run("sites")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "pku-a100" in out and "2 nodes x 4 A100" in out and "3/8 A100" in out and "128 GiB" in out
    assert "no pools" in out
    assert run("site", "list").stdout == out


def test_a_site_that_takes_no_work_shows_nothing_free(api: FakeApi, run: Run, logged_in: Path) -> None:
    """A stopped site once showed its idle pool as `3/8 A100` free: free to no one while it is away."""
    away = [{**SITE, "name": f"s-{state}", "state": state} for state in ("stopped", "offline", "disabled")]
    api.on("GET", "/sites", ok({"items": [SITE, *away], "next_cursor": None}))
    rows = {line.split()[0]: line for line in run("sites").stdout.splitlines()[1:]}
    assert "3/8 A100" in rows["pku-a100"]
    for state in ("stopped", "offline", "disabled"):
        assert f"- ({state})" in rows[f"s-{state}"] and "A100 ·" not in rows[f"s-{state}"]


def test_a_pool_with_a_runtime_limit_shows_it(api: FakeApi, run: Run, logged_in: Path) -> None:
    limited = {**SITE, "pools": [{**POOL, "max_runtime_s": 7 * 86400}]}
    api.on("GET", "/sites", ok({"items": [limited], "next_cursor": None}))
    assert "2 nodes x 4 A100, runs ≤ 7d" in " ".join(run("sites").stdout.split())


def test_sites_json(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/sites", ok({"items": [SITE], "next_cursor": None}))
    assert json.loads(run("sites", "--json").stdout)["items"][0]["pools"][0]["free"]["nodes_free"] == 1


def test_site_add_prints_the_token_and_the_agent_command_with_the_backend_to_choose(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    api.on("POST", "/sites", ok({"site": {**SITE, "state": "new"}, "enrollment_token": ENROLL}, status=201))
    result = run("site", "add", "pku-a100", "--org", "pku-hpc", "--region", "cn-north")
    assert result.exit_code == 0, result.output
    assert api.body() == {"name": "pku-a100", "org": "pku-hpc", "region": "cn-north"}
    command = next(line for line in result.stdout.splitlines() if line.startswith("suanli agent"))
    argv = shlex.split(command)
    assert argv[argv.index("--server") + 1] == SERVER
    assert argv[argv.index("--site") + 1] == "pku-a100"
    assert argv[argv.index("--token") + 1] == ENROLL
    # the server cannot know the engine: the line once said `--backend local` to Slurm sites too
    assert argv[argv.index("--backend") + 1] == "BACKEND"
    said = " ".join(result.stderr.split())
    for choice in ("local: jobs run on the agent's machine; add --pool SPEC", "e.g. --pool A100:8",
                   "slurm: jobs run as Slurm batch jobs", "ray: jobs run on a Ray cluster"):  # fmt: skip
        assert choice in said, said


def test_the_enrollment_guidance_reads_in_order_and_stdout_alone_is_the_token_and_command(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    """The banner `run:` and the BACKEND list once went to stderr around the command on stdout: shown
    together they came out of order in a pipe, and with stdout kept, the banner pointed at nothing."""
    api.on("POST", "/sites/pku-a100/enrollment-tokens", ok({"token": ENROLL}, status=201))
    result = run("site", "enroll-token", "pku-a100")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert len(out) == 2 and ENROLL in out[0] and out[1].startswith("suanli agent ")
    both = " ".join(result.output.split())
    banner, backends, command = (
        both.index(s) for s in ("run the `suanli agent` line below", "slurm:", out[1])
    )
    assert banner < backends < command
    # two agents on one machine would share the default state dir
    assert "~/.suanli/agent-pku-a100); two agents on one machine: give each its own --state-dir" in both


def test_the_agent_command_run_unedited_is_refused_before_it_spends_the_token(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    api.on("POST", "/sites/pku-a100/enrollment-tokens", ok({"token": ENROLL}, status=201))
    shown = run("site", "enroll-token", "pku-a100").stdout
    argv = shlex.split(next(line for line in shown.splitlines() if line.startswith("suanli agent")))
    result = run(*argv[1:])
    assert result.exit_code == 2, result.output
    # refused while reading its options, so it never enrolls (the agent's own client would try)
    assert "unknown backend 'BACKEND'; known: local, slurm, ray" in result.stderr


def test_site_enroll_token_and_disable(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("POST", "/sites/pku-a100/enrollment-tokens", ok({"token": ENROLL}, status=201))
    api.on("POST", "/sites/pku-a100/disable", ok({**SITE, "state": "disabled"}))
    assert ENROLL in run("site", "enroll-token", "pku-a100").stdout
    result = run("site", "disable", "pku-a100")
    assert result.exit_code == 0 and "disabled" in result.stdout


def test_site_show(api: FakeApi, run: Run, logged_in: Path) -> None:
    api.on("GET", "/sites/pku-a100", ok({**SITE, "last_seen_at": "2025-01-02T03:04:05.123Z"}))
    result = run("site", "show", "pku-a100")
    assert result.exit_code == 0
    assert "pku-hpc" in result.stdout and "2025-01-02 03:04:05" in result.stdout
    assert run("site", "show", "nope").exit_code == 3


def test_site_price_and_energy_profile(api: FakeApi, run: Run, logged_in: Path) -> None:
    priced = {
        **SITE,
        "pue": "1.25",
        "carbon_g_per_kwh": 560,
        "pools": [{**POOL, "price_per_hour": "38.00 CNY"}],
    }
    api.on("POST", "/sites/pku/pools/gpu/price", ok(priced))
    api.on("PATCH", "/sites/pku", ok(priced))
    result = run("site", "price", "pku", "gpu", "38.00")
    assert result.exit_code == 0, result.output
    assert json.loads(api.requests[0].content) == {"price_per_hour": "38.00"}
    assert "38.00 CNY" in result.stdout
    result = run("site", "set", "pku", "--pue", "1.25", "--carbon", "560")
    assert json.loads(api.requests[1].content) == {"pue": "1.25", "carbon_g_per_kwh": 560}
    assert "PUE 1.25, grid 560 gCO2e/kWh" in result.stdout
    nothing = run("site", "set", "pku")  # a silent no-op before
    assert nothing.exit_code == 2 and "nothing to set: give --region, --pue" in nothing.stderr
    assert len(api.requests) == 2


def test_site_show_and_set_show_the_bandwidth_into_the_site(api: FakeApi, run: Run, logged_in: Path) -> None:
    linked = {**SITE, "bandwidth_mbps": {"*": 1000, "cn-east": 10000}}
    api.on("GET", "/sites/pku-a100", ok(SITE))
    assert "bandwidth  -" in run("site", "show", "pku-a100").stdout
    api.on("GET", "/sites/pku-a100", ok(linked))
    api.on("PATCH", "/sites/pku-a100", ok(linked))
    for args in (("show",), ("set", "--bandwidth", "cn-east=10000", "--bandwidth", "*=1000")):
        out = run("site", *args[:1], "pku-a100", *args[1:]).stdout
        assert "bandwidth  cn-east 10000 Mbit/s, * 1000 Mbit/s" in out, out


def test_site_price_needs_a_price_and_its_help_offers_no_removal(
    api: FakeApi, run: Run, logged_in: Path
) -> None:
    result = run("site", "price", "pku", "gpu")
    assert result.exit_code == 2 and not api.requests
    assert "Missing argument" in result.output
    help_text = " ".join(run("site", "price", "--help").stdout.split())
    assert "unprice" not in help_text and "cannot be removed" in help_text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--pue", "0.5"), "error: --pue: a number from 1.0 to 3.0, e.g. 1.25\n"),
        (("--pue", "1.2", "--carbon", "-3"), "error: --carbon: 0–2000 gCO2e/kWh\n"),
        (("--region", "East"), "error: invalid --region 'East'\n  --region: use lowercase letters"),
        (("--bandwidth", "cn=0"), "error: --bandwidth cn: Mbit/s from that region, 1–10000000\n"),
    ],
)
def test_a_refused_site_setting_names_the_flag_typed_and_what_it_allows(
    server: Server, run: Run, args: tuple[str, ...], said: str
) -> None:
    server.add_site("sh")
    result = run("--profile", "op", "site", "set", "sh", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(said), result.stderr
    assert not re.search(
        r"(?<!--)(?<!that )\b(pue|carbon_g_per_kwh|region|bandwidth_mbps)\b", result.stderr
    )  # API names

"""`suanli sim`: replays a trace in-process and prints the comparison table or JSON."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

Run = Callable[..., Result]
FIXTURE = Path(__file__).parent.parent / "sim" / "fixtures" / "philly-2000.csv"


def test_default_runs_the_four_baselines_as_a_table(run: Run) -> None:
    result = run("sim", str(FIXTURE), "--gpus", "64", "--limit", "300")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "avg JCT" in lines[1] and "preemptions" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["fifo", "easy", "sjf", "las"]
    assert "300 jobs of 5 tenants on 64 GPUs" in result.stderr


def test_json_holds_one_run_per_policy_asked_for(run: Run) -> None:
    result = run(
        "sim",
        str(FIXTURE),
        "--gpus",
        "32",
        "--limit",
        "200",
        "--policy",
        "easy",
        "--policy",
        "suanli",
        "--json",
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [r["policy"] for r in body["runs"]] == ["easy", "suanli"]
    assert all(r["jobs"] == 200 and r["gpus"] == 32 for r in body["runs"])


def test_bad_input_exits_2_with_the_place_named(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:00:00,x,1,1,a\n")
    result = run("sim", str(bad), "--gpus", "8")
    assert result.exit_code == 2
    assert f"{bad}:2: column 2 (duration)" in result.stderr
    assert run("sim", str(FIXTURE), "--gpus", "8", "--policy", "random").exit_code == 2
    assert run("sim", str(FIXTURE), "--gpus", "0").exit_code == 2


def test_a_job_wider_than_the_pool_is_refused_with_what_would_fit(run: Run) -> None:
    result = run("sim", str(FIXTURE), "--gpus", "4", "--limit", "300")
    assert result.exit_code == 2  # the input does not fit: a usage error, not a failed run
    assert "needs 8 GPUs; the pool has 4 (give --gpus 8 or more)" in result.stderr
    compared = run("sim-compare", str(FIXTURE), "--gpus", "4", "--limit", "300")
    assert compared.exit_code == 2 and "(give --gpus 8 or more)" in compared.stderr


SWF = Path(__file__).parent.parent / "sim" / "fixtures" / "sample.swf"


def test_other_formats_load_and_say_what_was_skipped(run: Run) -> None:
    result = run("sim", str(SWF), "--format", "swf", "--gpus", "64", "--policy", "easy")
    assert result.exit_code == 0, result.output
    assert "skipped 4 jobs: 2 cancelled before start, 1 no run time, 1 no processor count" in result.stderr
    assert "16 jobs of 6 tenants on 64 GPUs"  # u3 u5 u7 u9 g2 unknown in result.stderr
    result = run("sim", str(SWF), "--format", "gwa", "--gpus", "64")
    assert result.exit_code == 2
    assert "unknown trace format 'gwa'; known: alibaba, philly, sia, swf" in result.stderr


def test_sim_generate_writes_a_trace_that_sim_replays(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "synthetic.csv"
    result = run("sim-generate", str(out), "--gpus", "16", "--jobs", "200", "--load", "0.9", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "wrote 200 jobs of" in result.stderr and "on 16 GPUs" in result.stderr
    first = out.read_text()
    assert (
        run(
            "sim-generate", str(out), "--gpus", "16", "--jobs", "200", "--load", "0.9", "--seed", "3"
        ).exit_code
        == 0
    )
    assert out.read_text() == first  # the same seed writes the same file
    result = run("sim", str(out), "--gpus", "16", "--policy", "fifo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runs"][0]["jobs"] == 200


def test_sim_generate_refuses_bad_options(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    assert run("sim-generate", str(out), "--gpus", "0").exit_code == 2
    result = run("sim-generate", str(out), "--gpus", "8", "--median-duration", "100", "--max-duration", "10")
    assert result.exit_code == 2 and "below --median-duration" in result.stderr
    # an unwritable OUT is bad input, said before any job is drawn (a big --jobs took minutes first)
    result = run("sim-generate", str(tmp_path / "no" / "such" / "dir.csv"), "--gpus", "8", "--jobs", "5")
    assert result.exit_code == 2 and "cannot write there" in result.stderr
    assert run("sim-generate", str(tmp_path), "--gpus", "8").exit_code == 2  # a folder
    result = run("sim-generate", str(out), "--gpus", "8", "--load", "1e308")
    assert result.exit_code == 2 and "load must be above 0 and at most 100" in result.stderr
    assert not out.exists()


def test_sim_generate_help_shows_examples(run: Run) -> None:
    result = run("sim-generate", "--help")
    assert result.exit_code == 0
    assert "suanli sim-generate synthetic.csv --gpus 64" in result.stdout


NETWORKS = Path(__file__).parent.parent.parent / "examples" / "networks"


def test_a_network_file_adds_cost_energy_and_per_pool_use(run: Run) -> None:
    args = ("sim", str(FIXTURE), "--network", str(NETWORKS / "small.yaml"), "--limit", "200")
    result = run(*args, "--policy", "easy", "--policy", "suanli", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    first = body["runs"][0]
    assert first["gpus"] == 48 and first["currency"] == "CNY"
    assert sum(first["cost_minor_by_tenant"].values()) == first["cost_minor"] > 0
    assert first["energy_kwh"] > 0 and first["carbon_kg"] > 0
    assert set(first["pool_utilisation"]) == {"sh-lingang/a100", "sh-lingang/v100", "wh-wuhu/h100"}
    table = run(*args, "--policy", "fifo")
    assert table.exit_code == 0, table.output
    assert "FTF max" in table.stdout and "CNY" in table.stdout


def test_gpus_or_network_exactly_one_and_network_errors_exit_2(run: Run, tmp_path: Path) -> None:
    assert run("sim", str(FIXTURE)).exit_code == 2
    both = run("sim", str(FIXTURE), "--gpus", "8", "--network", str(NETWORKS / "small.yaml"))
    assert both.exit_code == 2 and "either --gpus" in both.stderr
    bad = tmp_path / "net.yaml"
    bad.write_text("sites:\n  - {name: a, pue: 1.2, carbon_g_per_kwh: 500, pools: [{name: p}]}\n")
    result = run("sim", str(FIXTURE), "--network", str(bad))
    assert result.exit_code == 2
    assert "sites[0].pools[0].accelerator: missing" in result.stderr


def test_plot_writes_pngs(run: Run, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "plots"
    result = run(
        "sim", str(FIXTURE), "--gpus", "32", "--limit", "100", "--policy", "fifo", "--plot", str(out)
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["jct-cdf.png", "tenant-bsld.png"]


def test_plot_without_matplotlib_says_how_to_install(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a)
    )
    result = run("sim", str(FIXTURE), "--gpus", "32", "--plot", str(tmp_path))
    assert result.exit_code == 2
    assert "pip install 'suanli[sim]'" in result.stderr


def test_sim_compare_sites_splits_the_sized_pool_over_two_sites(run: Run) -> None:
    result = run("sim-compare", str(FIXTURE), "--limit", "200", "--sites", "--json")
    assert result.exit_code == 0, result.output
    assert "pools of 2 sites (--sites)" in result.stderr
    body = json.loads(result.stdout)
    assert "suanli-las" in [r["policy"] for r in body["runs"]] and body["goals"] is not None
    both = run("sim-compare", str(FIXTURE), "--sites", "--gpus", "64")
    assert both.exit_code == 2 and "one of --gpus N, --network YAML and --sites" in both.stderr


def test_a_missing_trace_or_an_unusable_plot_folder_is_said_before_anything_runs(
    run: Run, tmp_path: Path
) -> None:
    missing = run("sim", str(tmp_path / "nope.csv"))  # no --gpus either: the file is named first
    assert missing.exit_code == 2 and "nope.csv: no such trace file" in missing.stderr
    assert "--gpus" not in missing.stderr
    assert "no such trace file" in run("sim-compare", str(tmp_path / "nope.csv")).stderr
    # `suanli sim compare` is `suanli sim-compare`: its error, not "no such trace file: compare"
    spaced = run("sim", "compare", str(tmp_path / "nope.csv"))
    assert spaced.exit_code == 2 and "nope.csv: no such trace file" in spaced.stderr
    pytest.importorskip("matplotlib")
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run("sim", str(FIXTURE), "--gpus", "32", "--policy", "suanli", "--plot", str(blocked / "plots"))
    assert result.exit_code == 2 and "cannot create the plot folder" in result.stderr
    assert "passes in" not in result.stderr  # refused before the replay


def test_sim_compare_may_be_written_apart_unless_a_trace_has_that_name(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apart = run("sim", "compare", str(FIXTURE), "--limit", "100", "--gpus", "64", "--json")
    assert apart.exit_code == 0, apart.stderr
    assert json.loads(apart.stdout)["goals"] is not None  # sim-compare's answer: the goals checked
    monkeypatch.chdir(tmp_path)
    (tmp_path / "compare").write_bytes(FIXTURE.read_bytes())  # a trace file named `compare`
    replayed = run("sim", "compare", "--limit", "100", "--gpus", "64", "--policy", "easy", "--json")
    assert replayed.exit_code == 0, replayed.stderr
    assert [r["policy"] for r in json.loads(replayed.stdout)["runs"]] == ["easy"]

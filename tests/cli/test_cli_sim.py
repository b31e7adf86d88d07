"""`suanli sim`: replays a trace in-process and prints the comparison table or JSON."""

from __future__ import annotations

import importlib.util
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_server import Server
from rich.console import Console
from typer.testing import Result

from suanli.cli import sim_cmd
from suanli.cli.sim_cmd import print_table
from suanli.sim import load_network, load_trace, make_policy, simulate, summarize
from suanli.sim.report import table

Run = Callable[..., Result]
FIXTURE = Path(__file__).parent.parent / "sim" / "fixtures" / "philly-2000.csv"
HEADER = "timestamp,duration,num_gpus,gpu_time,cluster\n"


def flat(text: str) -> str:
    """An error as one line: Click's boxed usage errors wrap at the runner's 80 columns."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


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
    assert "unknown trace format 'gwa' for --format; known: alibaba, philly, sia, swf" in result.stderr


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
    assert (
        result.exit_code == 2
        and "'--load': 1e+308 is not allowed: give a number from 0.01 to 100" in flat(result.stderr)
    )
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


def test_gpus_network_or_sites_exactly_one_and_network_errors_exit_2(run: Run, tmp_path: Path) -> None:
    none = run("sim", str(FIXTURE))
    assert (
        none.exit_code == 2 and "give one of --gpus N (one pool), --network YAML and --sites" in none.stderr
    )
    both = run("sim", str(FIXTURE), "--gpus", "8", "--network", str(NETWORKS / "small.yaml"))
    assert both.exit_code == 2 and "--gpus and --network cannot be given together" in both.stderr
    bad = tmp_path / "net.yaml"
    bad.write_text("sites:\n  - {name: a, pue: 1.2, carbon_g_per_kwh: 500, pools: [{name: p}]}\n")
    result = run("sim", str(FIXTURE), "--network", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:2: pool a/p: accelerator: missing" in result.stderr


def test_every_problem_of_a_network_file_is_said_at_once(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "net.yaml"
    bad.write_text(
        "sites:\n"
        "  - name: a\n"
        "    pue: 0.5\n"
        "    carbon_g_per_kwh: 500\n"
        "    pools:\n"
        "      - {name: p, accelerator: Z9, gpus: 8, price_per_gpu_hour: '1'}\n"
        "      - {name: q, accelerator: A100, gpus: 0, price_per_gpu_hour: 1.5}\n"
    )
    result = run("sim", str(FIXTURE), "--network", str(bad), "--policy", "fifo")
    assert result.exit_code == 2
    said = result.stderr.splitlines()
    assert said[0] == f"error: {bad}: 4 problems in the network file:"
    assert [line.split(": ")[1:3] for line in said[1:]] == [
        ["site a", "pue"],
        ["pool a/p", "accelerator"],
        ["pool a/q", "gpus"],
        ["pool a/q", "price_per_gpu_hour"],
    ]
    assert [line.split(":")[1] for line in said[1:]] == ["3", "6", "7", "7"]  # each at its line


def test_sites_replays_on_the_sized_pool_split_over_two_sites(run: Run) -> None:
    result = run("sim", str(FIXTURE), "--limit", "200", "--sites", "--policy", "easy", "--json")
    assert result.exit_code == 0, result.output
    assert "pools of 2 sites (--sites)" in result.stderr
    easy = json.loads(result.stdout)["runs"][0]
    compared = json.loads(run("sim-compare", str(FIXTURE), "--limit", "200", "--sites", "--json").stdout)
    assert easy["gpus"] == compared["runs"][0]["gpus"]  # the same network sim-compare --sites builds
    assert easy["currency"] == "CNY" and set(easy["pool_utilisation"]) == set(
        compared["runs"][0]["pool_utilisation"]
    )
    for other in ("--gpus", "--network"):
        value = "64" if other == "--gpus" else str(NETWORKS / "small.yaml")
        both = run("sim", str(FIXTURE), "--sites", other, value)
        assert both.exit_code == 2
        assert f"{other} and --sites cannot be given together" in both.stderr


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
    assert both.exit_code == 2 and "--gpus and --sites cannot be given together" in both.stderr


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


def test_the_table_shows_every_figure_whole_in_an_80_column_terminal() -> None:
    trace = load_trace(FIXTURE, limit=20)
    network = load_network(NETWORKS / "small.yaml")
    summaries = [
        summarize(trace, simulate(trace, network, make_policy(name, trace, network), name=name))
        for name in ("easy", "suanli-las")
    ]
    screen = Console(file=io.StringIO(), width=80, color_system=None)
    print_table(summaries, screen)
    shown = screen.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in shown
    _, rows = table(summaries)
    for line, row in zip(shown.splitlines()[2:], rows, strict=True):
        assert line.split() == [word for cell in row for word in cell.split()]
    assert all(line == line.rstrip() for line in shown.splitlines())  # no trailing spaces


@pytest.mark.parametrize(
    ("command", "option", "value", "says"),
    [
        (
            "sim-compare",
            "--checkpoint-min",
            "inf",
            "'--checkpoint-min': inf is not allowed: give a number from 0 to 43,200",
        ),
        ("sim-compare", "--checkpoint-min", "1e300", "give a number from 0 to 43,200"),
        ("sim-compare", "--checkpoint-min", "nan", "'--checkpoint-min': nan is not allowed"),
        ("sim-generate", "--sigma", "nan", "'--sigma': nan is not allowed: give a number from 0 to 5"),
        (
            "sim-generate",
            "--limit-share",
            "nan",
            "'--limit-share': nan is not allowed: give a number from 0 to 1",
        ),
        ("sim-generate", "--max-duration", "inf", "'--max-duration': inf is not allowed"),
        ("sim-generate", "--jobs", "3000000", "'--jobs'"),
    ],
)
def test_float_options_refuse_non_finite_and_absurd_values_by_name(
    run: Run, tmp_path: Path, command: str, option: str, value: str, says: str
) -> None:
    target = str(FIXTURE) if command == "sim-compare" else str(tmp_path / "out.csv")
    extra = ("--limit", "10") if command == "sim-compare" else ("--gpus", "8")
    result = run(command, target, *extra, option, value)
    assert result.exit_code == 2
    assert says in flat(result.stderr)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        (
            "9999-12-31 23:59:59,100,1,100,vc1",
            ":3: column 1 (timestamp): '9999-12-31 23:59:59' is out of range",
        ),
        (
            "2017-10-09 07:00:00,1e12,1,100,vc1",
            ":3: column 2 (duration): '1e12' is not a duration: allowed 0 to",
        ),
        ("2017-10-09 07:00:00,1e300,1,100,vc1", ":3: column 2 (duration)"),
    ],
)
def test_dates_and_durations_the_policies_cannot_hold_are_refused_at_the_file(
    run: Run, tmp_path: Path, row: str, says: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "2017-10-09 07:01:55,66.0,1,66.0,a\n" + row + "\n")
    result = run("sim", str(path), "--gpus", "8", "--policy", "suanli-las")
    assert result.exit_code == 2, result.output
    assert f"{path}{says}" in result.stderr
    assert "Traceback" not in result.output


def test_a_job_wider_than_the_pool_is_named_by_file_and_line(run: Run) -> None:
    result = run("sim", str(FIXTURE), "--gpus", "4", "--limit", "300")
    assert result.exit_code == 2
    assert re.search(rf"{re.escape(str(FIXTURE))}:\d+: the job needs 8 GPUs; the pool has 4", result.stderr)


def test_without_a_terminal_progress_comes_as_plain_lines(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_cmd, "PLAIN_PROGRESS_EVERY_S", 0.0)
    result = run(
        "sim", str(FIXTURE), "--gpus", "64", "--limit", "400", "--policy", "easy", "--policy", "fifo"
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"^easy: \d+/400 jobs done, \d+ s$", result.stderr, re.MULTILINE)
    assert re.search(r"^fifo: \d+/400 jobs done, \d+ s$", result.stderr, re.MULTILINE)


def test_a_finished_policys_bar_shows_all_its_jobs_done(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    left: list[tuple[float, float | None]] = []

    class Recorded(sim_cmd.Progress):
        def __exit__(self, *exc: object) -> None:
            left.extend((task.completed, task.total) for task in self.tasks)
            super().__exit__(*exc)  # type: ignore[arg-type]

    monkeypatch.setattr(sim_cmd, "Progress", Recorded)
    assert run("sim", str(FIXTURE), "--gpus", "64", "--limit", "300", "--policy", "easy").exit_code == 0
    assert left == [(300, 300)]


@pytest.mark.parametrize(
    ("header", "row", "args", "says"),
    [
        (
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n",
            "p,1,1,1,1000,,LS,Running,0,10,0",
            (),
            "looks like an Alibaba pod list: add --format alibaba",
        ),
        (
            "; UnixStartTime: 0\n",
            "1 0 10 3600 16 -1 -1 16 7200 -1 1 3 1 1 1 -1 -1 -1",
            (),
            "looks like an SWF log (Parallel Workloads Archive): add --format swf",
        ),
        ("sn,gpu,model\n", "n1,8,A100", (), "looks like a cluster's node list: give it as --network"),
        (
            HEADER,
            "0,60,8,480,a",
            ("--format", "swf"),
            "looks like a processed Philly CSV: add --format philly",
        ),
    ],
)
def test_a_file_of_another_format_is_named_with_the_option_that_reads_it(
    run: Run, tmp_path: Path, header: str, row: str, args: tuple[str, ...], says: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(header + row + "\n")
    result = run("sim", str(path), "--gpus", "8", *args)
    assert result.exit_code == 2
    assert says in result.stderr


def test_format_is_case_insensitive_and_excel_files_with_float_gpu_counts_load(
    run: Run, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "0,66.0,8.0,528.0,a\n").encode())
    result = run("sim", str(path), "--gpus", "8", "--format", "Philly", "--policy", "fifo")
    assert result.exit_code == 0, result.output
    assert "1 job of 1 tenant on 8 GPUs" in result.stderr
    path.write_text(HEADER + "0,66.0,8.5,528.0,a\n")
    half = run("sim", str(path), "--gpus", "8")
    assert (
        half.exit_code == 2 and ":2: column 3 (num_gpus): '8.5' is not a whole number of GPUs" in half.stderr
    )


def test_sim_generate_names_its_bounds_and_says_what_it_overwrote(run: Run, tmp_path: Path) -> None:
    help_text = run("sim-generate", "--help").stdout
    assert "1<=x<=2000000" in help_text and "0.01 to 100" in flat(help_text)
    out = tmp_path / "s.csv"
    crowded = run("sim-generate", str(out), "--gpus", "1000000", "--jobs", "3")
    assert crowded.exit_code == 2 and "every job would arrive at second 0" in crowded.stderr
    assert not out.exists()
    assert "overwrote" not in run("sim-generate", str(out), "--gpus", "8", "--jobs", "3").stderr
    again = run("sim-generate", str(out), "--gpus", "8", "--jobs", "3")
    assert again.exit_code == 0 and "(overwrote the file there)" in again.stderr


def test_the_plot_folder_is_made_only_when_plots_are_written(run: Run, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    result = run("sim", str(FIXTURE), "--gpus", "4", "--limit", "100", "--plot", str(plots))
    assert result.exit_code == 2  # a job wider than the pool
    assert not plots.exists()


def test_sim_compare_says_how_the_pool_was_sized_and_counts_with_separators(run: Run) -> None:
    result = run("sim-compare", str(FIXTURE), "--limit", "100", "--json")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"100 jobs on one pool of \d+ GPUs \(sized for an offered load of at most 0.8\)", result.stderr
    )
    assert "--gpus" not in result.stderr
    sites = run("sim-compare", str(FIXTURE), "--limit", "100", "--sites", "--json")
    assert sites.stderr.count("GPUs") == 1  # said once, not "88 GPUs on … (88 GPUs)"


def test_a_folder_given_as_the_trace_is_called_a_folder(run: Run, tmp_path: Path) -> None:
    result = run("sim", str(tmp_path), "--gpus", "8")
    assert result.exit_code == 2 and f"{tmp_path}: is a folder; give a trace file" in result.stderr


def test_ctrl_c_says_interrupted_and_exits_130(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sim_cmd, "simulate", interrupted)
    result = run("sim", str(FIXTURE), "--gpus", "64", "--limit", "10")
    assert result.exit_code == 130
    assert result.stderr.strip().endswith("interrupted")


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_sim_export_names_a_refused_time_by_its_flag_and_form(
    server: Server, run: Run, tmp_path: Path, option: str
) -> None:
    result = run("sim-export", str(tmp_path / "plan"), option, "2026-13-01")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {option}: a date-time such as 2027-01-01T00:00:00Z or a date such as 2027-01-01 "
        "(no zone: UTC)\n"
    )

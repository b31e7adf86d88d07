"""`suanli sim-compare`: a choice of policies (`--policy`) and the goals of every candidate in its JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from suanli.sim.compare import CANDIDATES, COMPARED

Run = Callable[..., Result]
FIXTURE = Path(__file__).parent.parent / "sim" / "fixtures" / "philly-2000.csv"
SMALL = (str(FIXTURE), "--limit", "100", "--gpus", "64")


def flat(text: str) -> str:
    """Help text as one line: Rich boxes and wraps it at the runner's 80 columns."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def policies_run(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [r["policy"] for r in json.loads(result.stdout)["runs"]]


@pytest.mark.parametrize(
    ("chosen", "runs", "added"),
    [
        (("fifo",), ["fifo"], None),  # no candidate: no goals, so no baselines added
        (("las2", "easy"), ["easy", "las2"], None),  # in the comparison's order, not the command's
        (("suanli-las",), ["easy", "las", "las2", "suanli-las"], "also running easy, las, las2"),
        (("las", "suanli-las"), ["easy", "las", "las2", "suanli-las"], "also running easy, las2"),
    ],
)
def test_policy_runs_only_those_named_and_the_baselines_a_candidates_goals_need(
    run: Run, chosen: tuple[str, ...], runs: list[str], added: str | None
) -> None:
    options = [word for name in chosen for word in ("--policy", name)]
    result = run("sim-compare", *SMALL, *options, "--json")
    assert policies_run(result) == runs
    if added is None:
        assert "also running" not in result.stderr
    else:
        assert f"{added}: the goals are measured against easy, las, las2" in result.stderr


def test_a_chosen_candidate_gets_its_goal_line(run: Run) -> None:
    result = run("sim-compare", *SMALL, "--policy", "suanli-las")
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines() if line.startswith("goals")] == [
        "goals for suanli-las"
    ]


def test_an_unknown_policy_is_refused_with_the_allowed_list(run: Run) -> None:
    result = run("sim-compare", *SMALL, "--policy", "easy", "--policy", "sjf")
    assert result.exit_code == 2
    assert f"unknown policy sjf for sim-compare; known: {', '.join(COMPARED)}" in result.stderr
    assert "passes in" not in result.stderr  # refused before anything runs


def test_the_help_says_which_baselines_a_choice_brings(run: Run) -> None:
    shown = flat(run("sim-compare", "--help").stdout)
    assert "Run only this policy (repeatable): fifo, easy" in shown
    assert "when one of las-ckpt, suanli, suanli-service, suanli-las is chosen, those three run too" in shown


def test_json_carries_the_goals_of_every_candidate_the_table_prints(run: Run) -> None:
    table = run("sim-compare", *SMALL)
    assert table.exit_code == 0, table.output
    printed = {
        line.removeprefix("goals for ").split(":")[0]: line.split(": ", 1)[1]
        for line in table.stdout.splitlines()
        if line.startswith("goals for ")
    }
    assert list(printed) == list(CANDIDATES)
    body = json.loads(run("sim-compare", *SMALL, "--json").stdout)
    by_policy = body["goals_by_policy"]
    assert list(by_policy) == list(CANDIDATES)
    for policy, marks in printed.items():
        met = by_policy[policy]["met"]
        assert marks.split() == [
            word
            for name, ok in zip(("avg≤LAS", "p99≤EASY", "Jain≥EASY"), met, strict=True)
            for word in (name, "✓" if ok else "✗")
        ]
        assert set(by_policy[policy]) == set(body["goals"])  # the same shape as `goals`
    assert body["goals"] == by_policy["suanli-las"]  # the old key still says the default's goals


def test_without_the_baselines_there_are_no_goals_in_the_json(run: Run) -> None:
    body = json.loads(run("sim-compare", *SMALL, "--policy", "fifo", "--json").stdout)
    assert body["goals"] is None and body["goals_by_policy"] == {}

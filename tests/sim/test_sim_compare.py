"""`sim.compare`: how the bench scripts name a trace (`load_named`), and which policies a choice runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim import TraceError
from suanli.sim.compare import COMPARED, chosen, load_named

FIXTURE = Path(__file__).parent / "fixtures" / "philly-2000.csv"


def test_a_named_trace_is_loaded_with_its_label_and_a_plot_folder_of_its_own() -> None:
    label, folder, trace = load_named(f"philly:{FIXTURE}:300")
    assert (label, folder, len(trace)) == ("fixtures/philly-2000.csv:300", "fixtures-philly-2000-300", 300)
    whole_label, whole_folder, whole = load_named(f"philly:{FIXTURE}")
    assert (whole_label, whole_folder, len(whole)) == (
        "fixtures/philly-2000.csv",
        "fixtures-philly-2000",
        2000,
    )


def test_a_missing_trace_raises_the_loaders_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError):
        load_named(f"philly:{tmp_path / 'nope.csv'}")


@pytest.mark.parametrize(
    ("names", "runs", "added"),
    [
        (["fifo"], ["fifo"], []),
        (["las2", "fifo"], ["fifo", "las2"], []),
        (["suanli-las"], ["easy", "las", "las2", "suanli-las"], ["easy", "las", "las2"]),
        (["suanli", "las2", "easy"], ["easy", "las", "las2", "suanli"], ["las"]),
        (list(COMPARED), list(COMPARED), []),
    ],
)
def test_a_choice_with_a_candidate_brings_the_baselines_its_goals_need(
    names: list[str], runs: list[str], added: list[str]
) -> None:
    assert chosen(names) == (runs, added)

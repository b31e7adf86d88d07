"""The baselines on the full Philly trace against the reference simulator's figures
(`/work/shared/reference/sim-baselines.md`). Skipped where the shared trace is not present (a fresh clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanli.sim import Trace, load_trace, make_policy, simulate, summarize
from suanli.sim.report import row

PHILLY = Path("/work/shared/traces/sia-philly/philly.csv")

# policy: avg JCT, p50 JCT, p99 JCT, avg wait, p99 wait (hours), avg bsld, makespan (h), util, Jain, preemptions
REFERENCE = {
    "fifo": ("215.39", "205.47", "361.38", "211.74", "350.75", "4488.76", "2621.0", "0.791", "0.182", "–"),
    "easy": ("193.86", "198.79", "354.46", "190.21", "342.60", "2859.39", "2613.5", "0.793", "0.185", "–"),
    "sjf": ("8.18", "0.90", "126.29", "4.53", "52.13", "6.47", "2931.4", "0.707", "0.189", "–"),
    "las": ("15.97", "0.33", "361.43", "0.00", "0.07", "3.56", "2613.5", "0.793", "0.408", "84,297"),
}


@pytest.fixture(scope="module")
def philly() -> Trace:
    if not PHILLY.exists():
        pytest.skip(f"{PHILLY} is not here")
    return load_trace(PHILLY)


@pytest.mark.parametrize("policy", ["fifo", "easy", "sjf"])
def test_exact_baselines_match_the_reference_to_the_printed_digit(philly: Trace, policy: str) -> None:
    ours = row(summarize(philly, simulate(philly, 472, make_policy(policy, philly, 472), name=policy)))
    assert ours[1:] == REFERENCE[policy]


def test_las_matches_the_reference_closely(philly: Trace) -> None:
    ours = row(summarize(philly, simulate(philly, 472, make_policy("las", philly, 472), name="las")))
    for got, want in zip(ours[1:], REFERENCE["las"], strict=True):
        got_f, want_f = float(got.replace(",", "")), float(want.replace(",", ""))
        assert got_f == pytest.approx(want_f, rel=0.01, abs=0.01), (got, want)

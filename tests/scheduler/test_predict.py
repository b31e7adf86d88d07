"""Run-time predictions from finished jobs (`scheduler/predict.py`)."""

import math

import pytest

from suanli.scheduler.predict import MIN_HISTORY, JobFacts, Predictor


def test_nothing_known_gives_the_limit_or_none() -> None:
    p = Predictor()
    assert p.expected_s(JobFacts("a", 1)) is None
    assert p.expected_s(JobFacts("a", 1, limit_s=600)) == 600


def test_geometric_mean_of_the_most_specific_group_with_history() -> None:
    p = Predictor()
    for ran in (100, 10_000, 1_000):
        p.observe(JobFacts("a", 1), ran)
    p.observe(JobFacts("a", 8), 50_000)  # one finished 8-GPU job: too little history on its own
    assert p.expected_s(JobFacts("a", 1)) == pytest.approx(1_000)
    tenant = math.exp((math.log(100) + math.log(10_000) + math.log(1_000) + math.log(50_000)) / 4)
    assert p.expected_s(JobFacts("a", 8)) == pytest.approx(tenant)
    assert p.expected_s(JobFacts("b", 1)) == pytest.approx(tenant)  # everyone's
    assert p.expected_s(JobFacts("a", 1, limit_s=500)) == 500  # a limit caps it


def test_a_name_with_history_is_the_most_specific() -> None:
    p = Predictor()
    for _ in range(MIN_HISTORY):
        p.observe(JobFacts("a", 1, name="resnet"), 7_200)
        p.observe(JobFacts("a", 1, name="bert"), 60)
    assert p.expected_s(JobFacts("a", 1, name="resnet")) == pytest.approx(7_200)
    assert p.expected_s(JobFacts("a", 1, name="bert")) == pytest.approx(60)

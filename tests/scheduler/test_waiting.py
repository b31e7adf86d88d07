"""Tests for `Waiting`: a waiting job's verdicts are worked out when read, once, and only then."""

from suanli.scheduler import Code, PoolVerdict
from suanli.scheduler.waiting import Waiting


def verdicts_for(asked: list[str]) -> Waiting[str]:
    def expand(job: str) -> tuple[PoolVerdict, ...]:
        asked.append(job)
        return (PoolVerdict("a/p", Code.UNSCHEDULABLE, f"busy for {job}"),)

    return Waiting({"j1": "j1", "j2": "j2"}, expand)


def test_listing_counting_and_membership_expand_nothing() -> None:
    asked: list[str] = []
    waiting = verdicts_for(asked)
    assert (list(waiting), len(waiting), "j1" in waiting, "j9" in waiting) == (["j1", "j2"], 2, True, False)
    assert asked == []


def test_reading_a_job_expands_it_once_and_other_jobs_not_at_all() -> None:
    asked: list[str] = []
    waiting = verdicts_for(asked)
    first = waiting["j1"]
    assert waiting.get("j1", ()) is first
    assert waiting.get("j9", ()) == ()
    assert first[0].reason == "busy for j1"
    assert asked == ["j1"]


def test_it_compares_and_copies_like_the_dict_it_stands_for() -> None:
    waiting = verdicts_for([])
    expected = {j: (PoolVerdict("a/p", Code.UNSCHEDULABLE, f"busy for {j}"),) for j in ("j1", "j2")}
    assert waiting == expected
    assert dict(waiting) == expected
    assert Waiting({}, lambda job: ()) == {}

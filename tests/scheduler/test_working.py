"""Tests for the cycle's working copy of free capacity: placements shrink it, and its history is kept."""

from suanli.domain.resources import Vector
from suanli.scheduler import PoolView
from suanli.scheduler.working import WorkingFree

NODE = Vector(8, 64, 1024)


def pool(name: str, nodes: int) -> PoolView:
    return PoolView(f"pool-{name}", "site-a", "a", name, "A100", NODE, (NODE,) * nodes)


def test_a_placement_shrinks_its_nodes_and_only_its_pools_version_moves() -> None:
    working = WorkingFree([pool("x", 2), pool("y", 1)])
    working.take(0, Vector(2, 8, 100), (1,))
    assert working.free[0] == (NODE, Vector(6, 56, 924))
    assert working.free[1] == (NODE,)
    assert (working.version, working.placed) == ([1, 0], 1)


def test_the_history_answers_what_a_pool_held_after_any_number_of_placements() -> None:
    working = WorkingFree([pool("x", 1), pool("y", 1)])
    working.take(0, Vector(2, 0, 0), (0,))  # placement 1
    working.take(1, Vector(8, 0, 0), (0,))  # placement 2
    working.take(0, Vector(2, 0, 0), (0,))  # placement 3
    seen = [(working.at(0, n)[0].accelerators, working.at(1, n)[0].accelerators) for n in range(4)]
    assert seen == [(8, 8), (6, 8), (6, 0), (4, 0)]

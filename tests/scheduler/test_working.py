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


def test_a_reservation_moves_the_pools_version_but_not_the_version_of_its_free_vectors() -> None:
    """Answers that read only `free` (a class's capacity yes) are kept per `taken`, so a reservation,
    which changes only the guarded capacity, must leave `taken` and `free` as they were."""
    working = WorkingFree([pool("x", 2)])
    before = working.free[0]
    working.reserve(0, "big", None, (NODE, Vector()))
    assert (working.version, working.taken) == ([1], [0])
    assert working.free[0] is before
    assert working.guarded[0] == (Vector(), NODE)
    working.take(0, Vector(2, 8, 100), (1,))
    assert (working.version, working.taken) == ([2], [1])

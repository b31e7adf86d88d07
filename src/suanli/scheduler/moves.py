"""Moves (ADR 0028): which running attempts may move to make a wider job's room whole, which of them
move off one pool, and whether they all fit elsewhere at once.

A job may be kept out only by *where* smaller attempts sit: the network has its room, in pieces.
Once it has waited its expected run time (`service.moves_after_s`), `claims.Claims.move` picks the
pool where the fewest accelerators must move; the attempts in the way there that may move are
evicted as each passes a checkpoint, and restart at once on free room of other pools, provided all
of them fit there together. An attempt may move only if its spec ties it to no place
(`Running.moves`: the models its job takes on any pool), it runs on one node, can resume, is not
leaving, and is not protected by the ageing rule; and only for a job of its priority or higher.
The reserver (`reserve.py`) does the evicting and records the claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from suanli.domain.resources import Vector
from suanli.scheduler import service
from suanli.scheduler.fit import given_back, pick_nodes
from suanli.scheduler.snapshot import PoolView, Running

__all__ = ["may_move", "protected", "room_elsewhere", "started_s", "to_move"]


def may_move(r: Running, now: datetime, every_band: bool) -> bool:
    """Whether the attempt may move for some job: its spec ties it to no place, it runs on one
    node, can resume, is not leaving and is not protected."""
    return (
        bool(r.moves)
        and len(r.nodes) == 1
        and r.preemptible
        and not r.leaving
        and not protected(r, now, every_band)
    )


def protected(r: Running, now: datetime, every_band: bool) -> bool:
    """Whether the attempt was aged at its start and has not yet run its ageing bound."""
    until = service.protected_until(r, every_band)
    return until is not None and now < until


def to_move(
    need: Vector,
    count: int,
    coming: list[Vector],
    movable: Sequence[Running],
    evictable: Mapping[str, int],
    nodes_held: tuple[int, ...] | None,
) -> tuple[tuple[int, ...], list[Running]] | None:
    """On one pool: the nodes a job of `count` nodes of `need` takes (`nodes_held`, its claim, if
    given) and the fewest of `movable` to move off them, or None if moving them all would not make
    its room. `coming`: the pool's free room once the attempts already leaving have left (taken
    over). The attempts that may be evicted now (`evictable`) go first, their room comes at once;
    then the most recently started."""
    free = given_back(coming, movable)
    nodes = nodes_held if nodes_held is not None else pick_nodes(need, count, tuple(free))
    if nodes is None or not all(need.fits_in(free[n]) for n in nodes):
        return None
    on = set(nodes)
    ranked = sorted(
        (r for r in movable if on & set(r.nodes)),
        key=lambda r: (evictable.get(r.attempt_id, 0) == 0, -started_s(r)),
    )
    left = coming
    chosen: list[Running] = []
    for r in ranked:
        if all(need.fits_in(left[n]) for n in nodes):
            break
        for n in r.nodes:
            left[n] = left[n] + r.per_node
        chosen.append(r)
    return nodes, chosen


def room_elsewhere(
    moved: Sequence[Running], pool: int, pools: Sequence[PoolView], guarded: Sequence[Sequence[Vector]]
) -> bool:
    """Whether every attempt of `moved` fits at once, all together, in the room other jobs may use
    (`guarded`, per pool and node) on pools other than `pool` whose accelerator its job takes."""
    spare: dict[int, list[Vector]] = {}
    for r in sorted(moved, key=lambda r: -r.per_node.accelerators):
        for p, view in enumerate(pools):
            if p == pool or not view.online or view.accelerator not in r.moves:
                continue
            nodes = spare.get(p)
            if nodes is None:
                nodes = spare[p] = list(guarded[p])
            n = next((k for k, f in enumerate(nodes) if r.per_node.fits_in(f)), None)
            if n is not None:
                nodes[n] = nodes[n] - r.per_node
                break
        else:
            return False
    return True


def started_s(r: Running) -> float:
    """When the attempt started, in seconds of the epoch (0: not yet)."""
    return r.started_at.timestamp() if r.started_at is not None else 0.0

"""The frozen picture of the network a scheduling cycle reads: pools, their free nodes, pending jobs."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from suanli.domain.ledger import PriceBook
from suanli.domain.money import Money
from suanli.domain.resources import Resources, Vector
from suanli.domain.spec import DataInput


@dataclass(frozen=True)
class Release:
    """Capacity an active attempt gives back when it ends: at `at` (None: its end is not known)."""

    at: datetime | None
    nodes: tuple[int, ...]
    per_node: Vector


@dataclass(frozen=True)
class PoolView:
    """One pool of one site as the scheduler sees it; `free` holds each node's free vector."""

    id: str
    site_id: str
    site: str
    name: str
    accelerator: str | None
    per_node: Vector
    free: tuple[Vector, ...]
    online: bool = True
    region: str = ""
    # Per accelerator-hour (per CPU-hour for a CPU-only pool); None while the pool is not priced.
    price: Money | None = None
    # The pool's whole price book in force (accelerator, CPU and memory hours, minimum charge): what
    # a placement's hold is taken at. Where it is given, estimates price it, not `price` alone; the
    # simulator's networks give `price` only.
    book: PriceBook | None = None
    pue: Decimal | None = None  # the site's power usage effectiveness; None: not known
    carbon_g_per_kwh: int | None = None  # the site's grid intensity; None: not known
    # Mbit/s into the site from other regions, as (region, Mbps) pairs; "*" for any region not named.
    bandwidth_mbps: tuple[tuple[str, int], ...] = ()
    max_runtime_s: int | None = None  # the longest run the site's engine allows here; None: no limit
    # Filled only where expected start times are asked for (quotes); the scheduling cycle leaves it empty.
    releases: tuple[Release, ...] = ()
    stopped: bool = False  # offline because its agent said it was stopping (not silent)

    @property
    def label(self) -> str:
        return f"{self.site}/{self.name}"

    @cached_property
    def static_key(self) -> Hashable:
        """Everything but the free vectors (their count included): two views with equal keys get the same answer from every
        plugin that does not read `free` (`carry.Carry` keeps those answers between cycles)."""
        return (
            self.id,
            len(self.free),  # the node count: `shape` reads it
            self.site_id,
            self.site,
            self.name,
            self.accelerator,
            self.per_node,
            self.online,
            self.stopped,
            self.region,
            self.price,
            self.book,
            self.pue,
            self.carbon_g_per_kwh,
            self.bandwidth_mbps,
            self.max_runtime_s,
            self.releases,
        )


@dataclass(frozen=True)
class PendingJob:
    """A job waiting for a placement."""

    id: str
    resources: Resources
    created_at: datetime
    org_id: str = ""
    project_id: str = ""
    priority: int = 0
    regions: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    # Sites where an earlier attempt was lost: placed elsewhere when another pool fits.
    avoid_sites: frozenset[str] = frozenset()
    objective: str = "balanced"
    max_price_per_hour: Decimal | None = None  # in the pool's currency
    data_residency: str | None = None  # the job's data may not leave this region
    inputs: tuple[DataInput, ...] = ()  # datasets it reads: size and the regions holding a replica
    preemptible: bool = False  # the job can resume (checkpoints) or is in an interruptible class
    # Seconds run by earlier attempts that were preempted, whether their work was kept through a
    # checkpoint or lost: its attained service is this × its accelerators (a job that lost its work
    # still had the service; counting only what it kept, two such jobs could evict each other for
    # ever). Read by the `service` queue orders (`service.py`).
    ran_s: float = 0.0
    # What it is expected to run in all, in seconds: a prediction from finished jobs (`predict.py`),
    # else its max_runtime; None: nothing is known. Never its true length.
    expected_s: float | None = None

    # Its accelerator options as plain (model, count) pairs (`fit.options_key`): worked out with the
    # job, not as a `cached_property`, whose lock costs more than the tuple on 3.11.
    options_key: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "options_key", tuple([(o.model, o.count) for o in self.resources.accelerators])
        )


@dataclass(frozen=True)
class Running:
    """An active attempt as the scheduler sees it: what it holds, whose it is, whether it may be evicted.

    `leaving` marks an attempt already told to stop (preempted, cancelled): it still holds its
    capacity until `ends_at`, and is never chosen as a victim again."""

    attempt_id: str
    job_id: str
    pool_id: str
    nodes: tuple[int, ...]
    per_node: Vector
    accelerator: str | None = None
    org_id: str = ""
    project_id: str = ""
    priority: int = 0
    preemptible: bool = False
    started_at: datetime | None = None
    ends_at: datetime | None = None  # started (or placed) + max_runtime; None: not known
    leaving: bool = False
    created_at: datetime | None = None  # the job's submit instant (the `service` order's ageing)
    ran_s: float = 0.0  # seconds run by the job's earlier, preempted attempts (as `PendingJob.ran_s`)
    expected_s: float | None = None  # as `PendingJob.expected_s`
    checkpoint_s: float | None = None  # how often it checkpoints (spec); None: not declared
    # The accelerator models its job takes on any pool: its spec names no region, site, residency,
    # price cap or input data, so it may be *moved* (evicted to restart at once on free room of such
    # a pool) to make whole the room a wider job needs (`reserve.py`, ADR 0028); empty: never moved.
    moves: tuple[str, ...] = ()
    # Answers worked out from this attempt's fields alone (`service.protected_until`), kept with it:
    # the simulator hands the same attempt to cycle after cycle
    memo: dict[object, object] = field(default_factory=dict, init=False, compare=False, repr=False)


@dataclass(frozen=True)
class BudgetCap:
    """A project's hard-capped budget this month: what it leaves for new holds (`left`: the budget
    less the month's charges and what open holds still reserve), of `budget`."""

    left: Money
    budget: Money
    month: str


@dataclass(frozen=True)
class Quota:
    """An org's share of the network in compute units: `guaranteed` is always its own (taken back
    from borrowers by preemption); up to `limit` it may borrow idle capacity; None: no limit."""

    guaranteed_cu: Decimal = Decimal(0)
    limit_cu: Decimal | None = None


@dataclass(frozen=True)
class Usage:
    """What an org or project has used, decayed by the fair-share half-life: resource-hours."""

    cu_h: float = 0.0
    cpu_h: float = 0.0
    gib_h: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    pools: tuple[PoolView, ...] = ()
    jobs: tuple[PendingJob, ...] = field(default_factory=tuple)
    running: tuple[Running, ...] = ()  # active attempts: fair shares, quotas, reservations, victims
    usage: Mapping[str, Usage] = field(default_factory=dict)  # by org id and by project id
    quotas: Mapping[str, Quota] = field(default_factory=dict)  # by org id; absent: no quota
    half_life_h: float = 168.0  # of the fair-share usage decay
    preempt_after_s: float = 120.0  # a blocked job that would start later than this may preempt
    hold_default_s: int = 3600  # the runtime a hold assumes for a job without max_runtime
    # Money each project may still commit to holds (the `funds` gate); None: funds are not checked.
    funds: Mapping[str, Money] | None = None
    # By project id: the hard-capped budgets in force (the `budget` gate); absent: no hard cap.
    caps: Mapping[str, BudgetCap] = field(default_factory=dict)
    # The queue order (`order.QUEUE_ORDERS`): "fair" (priority, fair share, age) or "service"
    # (least attained service with an ageing bound, `service.py`).
    order: str = "fair"
    # Job id → (pool id, nodes): the room blocked jobs claimed last cycle by moving attempts off it
    # (the plan's reservations with `claim`, ADR 0028). A claim is held for its job before any job
    # is placed, so the room it gathers is not taken by jobs ahead of it in the queue; the job takes
    # it as soon as it fits. It lapses when the job starts or leaves the queue, or when a cycle no
    # longer finds the move worth making (the next plan does not claim it again).
    claims: Mapping[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)
    # How `running` differs from the `running` of the snapshot before it from the same source, if the
    # source knows (the simulator does): the cycle's books then catch up by the changes alone
    # instead of comparing hundreds of attempts. None: they compare.
    running_changes: RunningChanges | None = None


@dataclass(frozen=True, slots=True)
class RunningChanges:
    """`Snapshot.running` as `before` (the earlier snapshot's `running`, the object itself) less the
    attempts `gone`, plus the attempts `added` (a changed attempt is a new object: gone and added)."""

    before: tuple[Running, ...]
    gone: tuple[Running, ...] = ()
    added: tuple[Running, ...] = ()

"""Pure placement policy: a frozen snapshot in, a plan with reasons out. No I/O, no clock, no globals."""

from suanli.scheduler.carry import Carry
from suanli.scheduler.explain import Candidate, explain
from suanli.scheduler.feasibility import never_fits
from suanli.scheduler.framework import Profile, schedule
from suanli.scheduler.plan import Code, Placement, Plan, PoolVerdict, Status
from suanli.scheduler.profiles import PROFILES
from suanli.scheduler.snapshot import PendingJob, PoolView, Snapshot

__all__ = [
    "PROFILES",
    "Candidate",
    "Carry",
    "Code",
    "PendingJob",
    "Placement",
    "Plan",
    "PoolVerdict",
    "PoolView",
    "Profile",
    "Snapshot",
    "Status",
    "explain",
    "never_fits",
    "schedule",
]

"""Gate `quota`: an org with a quota holds no more compute units than its limit (guaranteed + borrowable).

Quotas are in compute units held now (running attempts and this cycle's placements), counted on the
pool the cycle chose: CU per accelerator from the catalog × accelerators per node × nodes. Within
its guarantee an org's capacity is its own (`reserve.py` takes it back from borrowers); between the
guarantee and the limit it borrows what others leave idle and may be preempted for it. A job whose
accelerators have no CU figure, or that uses none, counts 0. An org without a quota is not limited.
"""

from __future__ import annotations

from decimal import Decimal

from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.scheduler.books import Books, cu_of
from suanli.scheduler.framework import register_gate
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class QuotaGate:
    name = "quota"

    def admit(self, job: PendingJob, pool: PoolView, per_node: Vector, books: Books) -> Status:
        quota = books.quota(job.org_id)
        if quota is None or quota.limit_cu is None:
            return OK
        need = cu_of(pool.accelerator, per_node, job.resources.nodes)
        held = books.cu_held(job.org_id)
        if need == 0 or held + need <= quota.limit_cu:
            return OK
        borrowable = quota.limit_cu - quota.guaranteed_cu
        return Status(
            Code.UNSCHEDULABLE,
            f"over org quota: holds {_cu(held)} CU of its {_cu(quota.limit_cu)} CU limit "
            f"(guaranteed {_cu(quota.guaranteed_cu)} + borrowable {_cu(borrowable)}); "
            f"this job needs {_cu(need)} CU; borrowing limit reached",
        )

    def hold(self, job: PendingJob, pool: PoolView, books: Books) -> Money | None:
        return None


def _cu(value: Decimal) -> str:
    return f"{value.normalize():f}"


register_gate(QuotaGate.name, QuotaGate)

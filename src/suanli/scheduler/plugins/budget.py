"""Gate `budget`: a project's hard-capped budget covers the hold a placement takes.

A project whose budget this month is hard-capped (`suanli budget set … --hard-cap`) takes no new
job once the month's charges reach it (`control/budgets.refuse_over_cap`, at submit). Jobs already
queued are held to it here: a placement's hold (the same `expected_cost` the `funds` gate takes)
must fit in what the budget leaves (`Snapshot.caps`: the budget less the month's charges and what
open holds still reserve, less this cycle's holds). Otherwise the job waits with "hard-capped
budget: needs X, Y left of the project's Z for MONTH", until a new month or finance raises the
budget. The applier's hold checks it again with the ledger as it is then.
"""

from __future__ import annotations

from suanli.domain.billing import cap_refusal
from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.scheduler.books import Books
from suanli.scheduler.estimate import expected_cost
from suanli.scheduler.framework import register_gate
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class BudgetGate:
    name = "budget"

    def admit(self, job: PendingJob, pool: PoolView, per_node: Vector, books: Books) -> Status:
        cap = books.cap(job.project_id)
        if cap is None:
            return OK
        hold = expected_cost(job, pool, books.hold_default_s)
        if hold is None or hold.minor == 0 or hold.currency != cap.left.currency:
            return OK
        if hold.minor > cap.left.minor:
            return Status(Code.UNSCHEDULABLE, cap_refusal(hold, cap.left, cap.budget, cap.month))
        return OK

    def hold(self, job: PendingJob, pool: PoolView, books: Books) -> Money | None:
        return None  # the `funds` gate's hold is the placement's; this gate only reads it


register_gate(BudgetGate.name, BudgetGate)

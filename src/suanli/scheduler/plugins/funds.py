"""Gate `funds`: the job's project can pay the hold a placement takes (the money hook).

Where the snapshot carries funds (`Snapshot.funds`, what each project may still commit: balance +
credit limit − open holds, stretched by the part its org's vouchers would pay), a placement takes
a hold of the job's expected cost on the chosen pool (`estimate.expected_cost`: the pool's whole
price book on what the job holds, for its max_runtime; without one, `Snapshot.hold_default_s`, the
server's `hold_without_max_runtime`; the book's minimum included), to the minor unit what the
control plane will hold. A project that cannot cover it waits with the reason
"insufficient funds: needs X, can hold Y" (`domain.billing.funds_refusal`: Y is the cash
available stretched by the vouchers' share). An unpriced pool needs no hold. Without funds in the
snapshot nothing is checked. The control plane's applier takes the real hold, with vouchers judged
at that pool (a voucher for other providers stretches the funds here but pays nothing there), and
has the last word.
"""

from __future__ import annotations

from suanli.domain.billing import funds_refusal
from suanli.domain.money import Money
from suanli.domain.resources import Vector
from suanli.scheduler.books import Books
from suanli.scheduler.estimate import expected_cost, expected_hours
from suanli.scheduler.framework import register_gate
from suanli.scheduler.plan import OK, Code, Status
from suanli.scheduler.snapshot import PendingJob, PoolView


class FundsGate:
    name = "funds"

    def admit(self, job: PendingJob, pool: PoolView, per_node: Vector, books: Books) -> Status:
        if not books.checks_funds:
            return OK
        hold = expected_cost(job, pool, books.hold_default_s)
        if hold is None or hold.minor == 0:
            return OK
        available = books.funds(job.project_id)
        hours = f"{expected_hours(job, books.hold_default_s):.2f}".rstrip("0").rstrip(".")
        if available is None:
            return Status(
                Code.UNSCHEDULABLE, f"insufficient funds: the project has no account for a hold of {hold}"
            )
        if available.currency != hold.currency:
            return Status(
                Code.UNSCHEDULABLE,
                f"insufficient funds: {pool.label} prices in {hold.currency}, the project pays in {available.currency}",
            )
        if available.minor < hold.minor:
            return Status(
                Code.UNSCHEDULABLE,
                f"{funds_refusal(hold, available)} (a hold for {hours} h on {pool.label})",
            )
        return OK

    def hold(self, job: PendingJob, pool: PoolView, books: Books) -> Money | None:
        """The hold the placement takes from the project's funds (`Books.take`); none when the
        snapshot carries no funds (a simulation): there is nothing to take it from."""
        if not books.checks_funds:
            return None
        return expected_cost(job, pool, books.hold_default_s)


register_gate(FundsGate.name, FundsGate)

"""Agent routes: enrollment, and the one sync call (report in, launches/cancels/kills out, long poll)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from suanli.api.deps import Mutation, caller, mutation, plane
from suanli.api.schemas import Enroll, SyncIn
from suanli.control import accounts, sync
from suanli.control.errors import Forbidden
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.control.signals import site_topic
from suanli.store import PoolOffer, Tx

router = APIRouter(prefix="/agent", tags=["agent"])


@router.post("/enroll")
def enroll(body: Enroll, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        return 200, {"site": body.site, "token": accounts.enroll(tx, m.who, body.site, m.cp.clock())}

    return m.run(change)


@router.post("/sync")
async def agent_sync(
    body: SyncIn, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    if who.kind != "agent" or who.site_id is None:
        raise Forbidden("only a site's agent token may sync")
    site_id = who.site_id
    topic = site_topic(site_id)
    seen = cp.signals.version(topic)
    outcome = await run_in_threadpool(_apply, cp, site_id, body)
    if outcome.capacity_changed or outcome.jobs_changed:
        cp.poke(schedule=outcome.capacity_changed, jobs=outcome.jobs_changed)
    reported = {a.id for a in body.attempts}
    answer = await run_in_threadpool(_answer, cp, site_id, reported, outcome)
    wait = min(body.wait, cp.settings.sync_max_wait)
    idle = not (answer["launch"] or answer["cancel"] or answer["kill"] or answer["ack"])
    if wait > 0 and idle and await cp.signals.wait_async(topic, seen, wait):
        answer = await run_in_threadpool(_answer, cp, site_id, reported, outcome)
    return answer


def _apply(cp: ControlPlane, site_id: str, body: SyncIn) -> sync.Outcome:
    pools = None
    if body.pools is not None:
        pools = [
            PoolOffer(
                p.name,
                p.accelerator,
                p.accelerators_per_node,
                p.nodes,
                p.cpus_per_node,
                p.memory_mib_per_node,
                p.max_runtime_s,
            )
            for p in body.pools
        ]
    with cp.db.transaction() as tx:
        site = tx.sites.site(site_id)
        assert site is not None
        if body.site is not None and body.site != site.name:  # an agent started with another site's token
            raise Forbidden(  # not 401: the token is good, and its agent must not throw it away
                f"this agent token is site {site.name}'s, not {body.site}'s: start the agent with "
                f"--site {site.name}, or with {body.site}'s own token (suanli site enroll-token {body.site})",
                code="wrong_site",
            )
        return sync.apply_report(
            tx,
            site,
            cp.clock(),
            cp.settings.lease_ttl,
            pools=pools,
            attempts=[
                sync.Report(
                    a.id, a.fencing_token, a.state, a.exit_code, a.reason, a.started_at, a.interrupted
                )
                for a in body.attempts
            ],
            usage=[
                sync.UsageReport(
                    u.seq,
                    u.attempt_id,
                    u.wall_seconds,
                    u.cpu_seconds,
                    u.accelerator_seconds,
                    u.started_at,
                    u.ended_at,
                )
                for u in body.usage
            ],
            logs=[sync.LogReport(c.attempt_id, c.offset, c.data) for c in body.logs],
            stopping=body.stopping,
        )


def _answer(cp: ControlPlane, site_id: str, reported: set[str], outcome: sync.Outcome) -> dict[str, Any]:
    with cp.db.read() as tx:
        site = tx.sites.site(site_id)
        assert site is not None
        return {
            "launch": sync.launches(tx, site, reported),
            "cancel": sync.cancels(tx, site),
            "kill": outcome.kill,
            "ack": outcome.ack,
            "lease_ttl": cp.settings.lease_ttl,
            "usage_acked_seq": outcome.usage_acked_seq,
            "usage_next_seq": outcome.usage_next_seq,
        }

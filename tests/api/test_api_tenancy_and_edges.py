"""Tenancy, token and role rules, and the job path's edges (cancel, leases, retries, lists, logs, usage)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from api_net import CPU_POOL, Net

from suanli.control import accounts, settlement
from suanli.control import jobs as control_jobs

HELLO = {"name": "hello", "run": "echo hello"}


def sync(net: Net, agent: str, attempts: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    return net.ok("POST", "/agent/sync", agent, json={"attempts": attempts or [], **extra})


def report(launch: dict[str, Any], state: str, **kw: Any) -> dict[str, Any]:
    return {"id": launch["attempt_id"], "fencing_token": launch["fencing_token"], "state": state, **kw}


def member_token(net: Net, org: str, user: str, role: str) -> str:
    """A token for `user`, added to `org` with `role` by the operator."""
    net.ok("POST", f"/orgs/{org}/members", net.operator, json={"user": user, "role": role})
    return str(net.ok("POST", "/tokens", net.operator, json={"name": "t", "user": user})["token"])


def submit(net: Net, spec: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = net.ok("POST", "/jobs", token or net.tenant, json={"spec": spec or HELLO})
    return job


def job(net: Net, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = net.ok("GET", f"/jobs/{job_id}", net.tenant)
    return view


def launched(net: Net, agent: str) -> dict[str, Any]:
    """Run a cycle and return the one launch the agent's next sync gets."""
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    return dict(launch)


# tokens and who may call what


def test_enrolling_again_revokes_the_agent_token_before_and_a_token_serves_only_its_site(net: Net) -> None:
    """A site has one agent: moving it (a new enrollment) stops the old one; an agent started for
    one site with another site's token is refused, not taken for that other site."""
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    first = net.ok("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc"})["enrollment_token"]
    old = net.ok("POST", "/agent/enroll", first, json={"site": "sh1"})["token"]
    assert net.call("POST", "/agent/sync", old, json={"site": "sh1", "pools": [CPU_POOL]}).status_code == 200
    again = net.ok("POST", "/sites/sh1/enrollment-tokens", net.operator)["enrollment_token"]
    new = net.ok("POST", "/agent/enroll", again, json={"site": "sh1"})["token"]
    refused = net.call("POST", "/agent/sync", old, json={"site": "sh1"})
    assert refused.status_code == 401 and refused.json()["code"] == "revoked_token"
    assert net.call("POST", "/agent/sync", new, json={"site": "sh1"}).status_code == 200
    wrong = net.call("POST", "/agent/sync", new, json={"site": "sz1", "pools": []})
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_site"
    assert "site sh1's, not sz1's" in wrong.json()["detail"]
    assert [p["name"] for p in net.ok("GET", "/sites/sh1", net.tenant)["pools"]] == [CPU_POOL["name"]]


def test_an_enrollment_token_is_spent_by_the_first_enroll(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc"})["enrollment_token"]
    assert net.ok("POST", "/agent/enroll", enroll, json={"site": "sh1"})["token"].startswith("sla_")
    again = net.call("POST", "/agent/enroll", enroll, json={"site": "sh1"})
    assert again.status_code == 401 and again.json()["code"] == "revoked_token"


def test_a_retried_enroll_with_the_same_key_gets_the_first_answer(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc"})["enrollment_token"]
    key = {"Idempotency-Key": "enroll-sh1"}
    first = net.ok("POST", "/agent/enroll", enroll, json={"site": "sh1"}, headers=key)["token"]
    again = net.call("POST", "/agent/enroll", enroll, json={"site": "sh1"}, headers=key)
    assert again.status_code == 200 and again.json()["token"] == first


def test_an_enrollment_token_enrolls_only_its_own_site(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc"})["enrollment_token"]
    net.ok("POST", "/sites", net.operator, json={"name": "sh2", "org": "dc"})
    assert net.call("POST", "/agent/enroll", enroll, json={"site": "sh2"}).status_code == 403
    assert net.ok("POST", "/agent/enroll", enroll, json={"site": "sh1"})["site"] == "sh1"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/jobs", {"spec": HELLO}),
        ("GET", "/jobs", None),
        ("GET", "/jobs/job_0000", None),
        ("POST", "/jobs/job_0000/cancel", None),
        ("GET", "/orgs", None),
        ("GET", "/orgs/demo", None),
        ("POST", "/orgs/demo/projects", {"name": "p2"}),
        ("GET", "/tokens", None),
        ("POST", "/tokens", {"name": "mine"}),
        ("POST", "/tokens/tok_0000/revoke", None),
        ("POST", "/sites/sh1/disable", None),
    ],
)
def test_an_agent_token_may_not_call_tenant_routes(
    net: Net, method: str, path: str, body: dict[str, Any] | None
) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    resp = net.call(method, path, agent, json=body)
    assert resp.status_code == 403, resp.text


def test_a_tenant_token_may_not_sync_or_enroll(net: Net) -> None:
    net.add_site("sh1", [CPU_POOL])
    assert net.call("POST", "/agent/sync", net.tenant, json={"attempts": []}).status_code == 403
    assert net.call("POST", "/agent/enroll", net.tenant, json={"site": "sh1"}).status_code == 403


def test_an_agent_cannot_revoke_another_sites_agent_token(net: Net) -> None:
    a = net.add_site("sh1", [CPU_POOL])
    b = net.add_site("sh2", [CPU_POOL])
    tokens = net.ok("GET", "/tokens", net.operator)["items"]
    [b_token] = [t["id"] for t in tokens if t["name"] == "agent sh2"]
    assert net.call("POST", f"/tokens/{b_token}/revoke", a).status_code == 403
    sync(net, b)  # still valid


def test_a_token_minted_for_yourself_is_of_your_tokens_kind(net: Net) -> None:
    """An operator's `token create --name x` once minted a tenant token of the operator's account:
    no org, so no rights at all. Minted for yourself, a token has your token's kind; for someone
    else, or asked for as a tenant token, it is a tenant token."""
    bob = member_token(net, "demo", "bob", "member")
    for caller, body, kind, operator in [
        (net.operator, {"name": "ci"}, "operator", True),
        (net.operator, {"name": "ci", "user": "operator"}, "operator", True),
        (net.operator, {"name": "ci", "operator": False}, "tenant", False),
        (net.operator, {"name": "ci", "user": "bob"}, "tenant", False),
        (net.tenant, {"name": "ci"}, "tenant", False),
        (bob, {"name": "ci"}, "tenant", False),
    ]:
        minted = net.ok("POST", "/tokens", caller, json=body)
        assert minted["kind"] == kind, (body, minted)
        assert net.ok("GET", "/whoami", minted["token"])["operator"] is operator
    assert net.call("POST", "/tokens", bob, json={"name": "ci", "operator": True}).status_code == 403


def test_expired_and_revoked_tokens_are_401_with_distinct_codes(net: Net) -> None:
    short = net.ok("POST", "/tokens", net.tenant, json={"name": "short", "expires_in": "1m"})
    other = net.ok("POST", "/tokens", net.tenant, json={"name": "other"})
    assert net.call("GET", "/jobs", short["token"]).status_code == 200
    answer = net.ok("POST", f"/tokens/{other['id']}/revoke", net.tenant)
    listed = next(t for t in net.ok("GET", "/tokens", net.tenant)["items"] if t["id"] == other["id"])
    assert answer == listed and answer["user"] == "demo" and answer["revoked_at"]
    revoked = net.call("GET", "/jobs", other["token"])
    assert revoked.status_code == 401 and revoked.json()["code"] == "revoked_token"
    assert revoked.headers["www-authenticate"] == "Bearer"
    net.clock.advance(61)
    expired = net.call("GET", "/jobs", short["token"])
    assert expired.status_code == 401 and expired.json()["code"] == "expired_token"


def test_a_token_expiry_out_of_range_or_unparsable_names_the_field(net: Net) -> None:
    for bad in ("soon", "10s", "9999d"):
        resp = net.call("POST", "/tokens", net.tenant, json={"name": "x", "expires_in": bad})
        assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "expires_in", bad


# roles


def test_a_viewer_may_read_but_not_submit_or_cancel(net: Net) -> None:
    viewer = member_token(net, "demo", "vic", "viewer")
    mine = submit(net)
    refused = net.call("POST", "/jobs", viewer, json={"spec": HELLO})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert net.ok("GET", f"/jobs/{mine['id']}", viewer)["id"] == mine["id"]
    assert net.call("POST", f"/jobs/{mine['id']}/cancel", viewer).status_code == 403
    assert job(net, mine["id"])["state"] == "PENDING"


def test_a_member_may_not_create_projects_but_an_org_admin_may(net: Net) -> None:
    member = member_token(net, "demo", "mia", "member")
    admin = member_token(net, "demo", "ada", "admin")
    assert net.call("POST", "/orgs/demo/projects", member, json={"name": "p2"}).status_code == 403
    resp = net.call("POST", "/orgs/demo/projects", admin, json={"name": "p2"})
    assert resp.status_code == 201 and resp.json() == {**resp.json(), "org": "demo", "name": "p2"}
    names = [p["name"] for p in net.ok("GET", "/orgs/demo/projects", member)["items"]]
    assert names == ["default", "p2"]


def test_an_admin_may_not_demote_or_disable_an_owner(net: Net) -> None:
    admin = member_token(net, "demo", "ada", "admin")
    demote = net.call("POST", "/orgs/demo/members", admin, json={"user": "demo", "role": "viewer"})
    assert demote.status_code == 403
    assert net.call("POST", "/orgs/demo/members/demo/disable", admin).status_code == 403
    assert net.call("POST", "/jobs", net.tenant, json={"spec": HELLO}).status_code == 201


def test_an_unknown_role_names_the_allowed_ones(net: Net) -> None:
    resp = net.call("POST", "/orgs/demo/members", net.operator, json={"user": "x", "role": "boss"})
    assert resp.status_code == 422
    assert resp.json()["errors"] == [
        {"field": "role", "message": "allowed: owner, admin, finance, member, viewer"}
    ]


def test_disabling_an_org_takes_its_jobs_out_of_its_members_reach(net: Net) -> None:
    mine = submit(net)
    net.ok("POST", "/orgs/demo/disable", net.operator)
    assert net.call("GET", f"/jobs/{mine['id']}", net.tenant).status_code == 404
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []
    assert net.call("POST", "/jobs", net.tenant, json={"spec": HELLO}).status_code == 422
    assert net.ok("GET", f"/jobs/{mine['id']}", net.operator)["id"] == mine["id"]


def test_a_disabled_org_runs_its_running_jobs_on_and_enabling_it_gives_it_back(net: Net) -> None:
    """What `org disable --help` says: the running job runs on, the queued one waits, the members'
    tokens still work but reach the org no more; `org enable` undoes it, audited as `enable_org`."""
    agent = net.add_site("sh1", [CPU_POOL])
    running = submit(net)
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    queued = submit(net)
    net.ok("POST", "/orgs/demo/disable", net.operator)
    [demo] = [o for o in net.ok("GET", "/orgs", net.operator)["items"] if o["name"] == "demo"]
    assert demo["disabled"] is True
    net.cycle()
    answer = sync(net, agent, [report(launch, "RUNNING")])
    assert (answer["launch"], answer["cancel"], answer["kill"]) == ([], [], [])
    assert net.ok("GET", f"/jobs/{running['id']}", net.operator)["state"] == "RUNNING"
    assert (
        net.ok("GET", "/whoami", net.tenant)["memberships"] == []
    )  # the token works; the org is out of reach
    assert net.call("POST", "/orgs/demo/enable", net.tenant).status_code == 403
    assert net.ok("POST", "/orgs/demo/enable", net.operator)["disabled"] is False
    assert net.ok("GET", f"/jobs/{running['id']}", net.tenant)["state"] == "RUNNING"
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent, [report(launch, "RUNNING")])["launch"]] == [queued["id"]]
    [audited] = net.ok("GET", "/audit", net.operator, params={"action": "enable_org"})["items"]
    assert audited["target"] == "/orgs/demo/enable"


def test_only_operators_disable_orgs(net: Net) -> None:
    assert net.call("POST", "/orgs/demo/disable", net.tenant).status_code == 403


# sites and placement


def test_a_disabled_site_gets_no_placements(net: Net) -> None:
    a = net.add_site("sh1", [CPU_POOL])
    b = net.add_site("sh2", [CPU_POOL])
    net.ok("POST", "/sites/sh1/disable", net.operator)
    assert net.ok("GET", "/sites/sh1", net.tenant)["state"] == "disabled"
    jobs = [submit(net) for _ in range(3)]
    net.cycle()
    assert sorted(x["job_id"] for x in sync(net, b)["launch"]) == sorted(j["id"] for j in jobs)
    # Its agent still syncs (what runs there finishes and is reported); it just gets no new work.
    assert sync(net, a)["launch"] == []
    net.ok("POST", "/sites/sh1/enable", net.operator)
    assert net.ok("GET", "/sites/sh1", net.tenant)["state"] == "online"


def test_a_new_site_is_priced_before_it_takes_a_job_by_enrolling_it_disabled(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc"})["enrollment_token"]
    net.ok("POST", "/sites/sh1/disable", net.operator)  # no job may run there unpriced
    job = submit(net)
    agent = net.ok("POST", "/agent/enroll", enroll, json={"site": "sh1"})["token"]
    net.ok("POST", "/agent/sync", agent, json={"pools": [CPU_POOL], "attempts": []})
    net.cycle()
    assert sync(net, agent)["launch"] == []  # offered, but disabled
    net.ok("POST", "/sites/sh1/pools/cpu/price", net.operator, json={"price_per_hour": "2.00"})
    net.ok("POST", "/sites/sh1/enable", net.operator)
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100.00"})
    net.cycle()
    assert [x["job_id"] for x in sync(net, agent)["launch"]] == [job["id"]]
    assert net.ok("GET", f"/jobs/{job['id']}", net.tenant)["charges"][0]["held"] != "0.00 CNY"


def test_a_job_pinned_to_a_disabled_site_is_unsatisfiable(net: Net) -> None:
    net.add_site("sh1", [CPU_POOL])
    net.add_site("sh2", [CPU_POOL])
    net.ok("POST", "/sites/sh1/disable", net.operator)
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": {**HELLO, "constraints": {"sites": ["sh1"]}}})
    assert resp.status_code == 422 and resp.json()["code"] == "unsatisfiable"


def test_constraints_naming_an_unknown_site_is_unsatisfiable(net: Net) -> None:
    net.add_site("sh1", [CPU_POOL])
    spec = {**HELLO, "constraints": {"sites": ["nowhere"]}}
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": spec})
    assert resp.status_code == 422 and resp.json()["code"] == "unsatisfiable"
    assert "constraints.sites" in resp.json()["errors"][0]["message"]
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []


def test_a_site_region_that_is_too_long_is_refused_clearly(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    resp = net.call("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc", "region": "r" * 65})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "region"


def test_out_of_range_numbers_in_a_sync_are_422_not_500(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    launch = (submit(net), launched(net, agent))[1]
    for body in (
        {"attempts": [report(launch, "FAILED", exit_code=2**40)]},
        {"usage": [{"seq": 2**70, "attempt_id": launch["attempt_id"]}]},
        {"pools": [{**CPU_POOL, "accelerator": "X" * 100}]},
    ):
        resp = net.call("POST", "/agent/sync", agent, json=body)
        assert resp.status_code == 422 and resp.json()["code"] == "invalid_request", body
    huge = net.call("GET", f"/jobs/{launch['job_id']}/logs", net.tenant, params={"offset": 2**64})
    assert huge.status_code == 422


# cancel


def test_cancelling_a_pending_job_is_immediate(net: Net) -> None:
    net.add_site("sh1", [CPU_POOL])
    pending = submit(net)
    done = net.ok("POST", f"/jobs/{pending['id']}/cancel", net.tenant)
    assert (done["state"], done["attempts"], done["reason"]) == ("CANCELLED", [], "cancelled")
    net.cycle()
    assert job(net, pending["id"])["attempts"] == []


def test_cancelling_an_assigned_job_the_agent_never_started(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net)
    net.cycle()  # placed; the agent has not synced since
    view = net.ok("POST", f"/jobs/{mine['id']}/cancel", net.tenant)
    assert view["state"] == "CANCELLED" and [a["state"] for a in view["attempts"]] == ["CANCELLED"]
    answer = sync(net, agent)
    assert answer["launch"] == [] and answer["cancel"] == []
    # The launch raced the cancel: a late report of the attempt running is answered with kill.
    [attempt] = view["attempts"]
    late = {"id": attempt["id"], "fencing_token": 1, "state": "RUNNING"}
    assert sync(net, agent, [late])["kill"] == [attempt["id"]]
    assert job(net, mine["id"])["state"] == "CANCELLED"


def test_a_cancelling_job_whose_lease_expires_is_cancelled_not_retried(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net, {**HELLO, "retries": 3})
    launch = launched(net, agent)
    sync(net, agent, [report(launch, "RUNNING")])
    assert net.ok("POST", f"/jobs/{mine['id']}/cancel", net.tenant)["state"] == "CANCELLING"
    net.clock.advance(41)  # lease 30 + grace 10
    net.cycle()
    net.cycle()
    view = job(net, mine["id"])
    assert view["state"] == "CANCELLED" and view["retries_left"] == 3
    assert [a["state"] for a in view["attempts"]] == ["LOST"]


# retries


def test_a_job_that_fails_twice_then_succeeds_with_two_retries(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net, {**HELLO, "retries": 2})
    for expected_left in (1, 0):
        launch = launched(net, agent)
        sync(net, agent, [report(launch, "FAILED", exit_code=1, reason="exit 1")])
        view = job(net, mine["id"])
        assert (view["state"], view["retries_left"]) == ("PENDING", expected_left)
    launch = launched(net, agent)
    assert launch["attempt"] == 3
    sync(net, agent, [report(launch, "SUCCEEDED", exit_code=0)])
    view = job(net, mine["id"])
    assert view["state"] == "SUCCEEDED" and view["exit_code"] == 0
    assert [a["state"] for a in view["attempts"]] == ["FAILED", "FAILED", "SUCCEEDED"]


def test_an_attempt_the_site_stopped_on_its_own_queues_the_job_again_with_its_retries(net: Net) -> None:
    """An agent asked to stop stops its attempts: not the job's failure, so even a job with no
    retries runs again, three times at most (a site restarting for ever must not bounce it for ever)."""
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net, HELLO)  # no retries
    launch = launched(net, agent)
    sync(net, agent, [report(launch, "FAILED", exit_code=143, reason="agent shut down", interrupted=True)])
    view = job(net, mine["id"])
    assert (view["state"], view["retries_left"]) == ("PENDING", 0)
    kinds = [e["message"] for e in net.ok("GET", f"/jobs/{mine['id']}/events", net.tenant)["items"]]
    assert any("the site stopped it, not the job" in k for k in kinds)
    for _ in range(2):  # three requeues free in all; the fourth interruption spends a retry as any failure
        launch = launched(net, agent)
        sync(net, agent, [report(launch, "FAILED", reason="agent shut down", interrupted=True)])
        assert job(net, mine["id"])["state"] == "PENDING"
    launch = launched(net, agent)
    sync(net, agent, [report(launch, "FAILED", reason="agent shut down", interrupted=True)])
    assert job(net, mine["id"])["state"] == "FAILED"


def test_a_job_out_of_retries_fails_with_the_attempts_reason(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net)
    launch = launched(net, agent)
    sync(net, agent, [report(launch, "FAILED", exit_code=3, reason="exit 3")])
    view = job(net, mine["id"])
    assert (view["state"], view["exit_code"], view["reason"]) == ("FAILED", 3, "exit 3")


# lists


def test_job_lists_page_with_a_cursor_and_filter_by_state(net: Net) -> None:
    ids = []
    for _ in range(5):
        ids.append(submit(net)["id"])
        net.clock.advance(1)
    net.ok("POST", f"/jobs/{ids[1]}/cancel", net.tenant)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = net.ok("GET", "/jobs", net.tenant, params=params)
        assert len(page["items"]) <= 2
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    pending = net.ok("GET", "/jobs", net.tenant, params={"state": "pending"})["items"]
    assert [j["id"] for j in pending] == [i for i in ids[::-1] if i != ids[1]]
    both = net.ok("GET", "/jobs", net.tenant, params={"state": "PENDING,CANCELLED", "limit": 500})
    assert len(both["items"]) == 5


def test_a_bad_state_filter_names_the_allowed_states(net: Net) -> None:
    resp = net.call("GET", "/jobs", net.tenant, params={"state": "DONE"})
    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert error["field"] == "state"
    assert "PENDING" in error["message"] and "CANCELLING" in error["message"]


@pytest.mark.parametrize("limit", [0, 501])
def test_a_list_limit_out_of_range_is_422(net: Net, limit: int) -> None:
    resp = net.call("GET", "/jobs", net.tenant, params={"limit": limit})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "query.limit"


def test_a_cursor_from_another_tenants_job_is_refused(net: Net) -> None:
    other = net.tenant_token("rival", "bob")
    theirs = submit(net, token=other)
    resp = net.call("GET", "/jobs", net.tenant, params={"cursor": theirs["id"]})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "cursor"
    resp = net.call("GET", "/jobs", net.tenant, params={"cursor": "job_nope"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "cursor"


# logs


def test_following_logs_returns_as_soon_as_output_arrives(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net)
    launch = launched(net, agent)
    sync(net, agent, [report(launch, "RUNNING")])
    answers: list[tuple[float, Any]] = []

    def follow() -> None:
        started = time.monotonic()
        params = {"offset": 0, "follow": "true", "wait": 20}
        body = net.ok("GET", f"/jobs/{mine['id']}/logs", net.tenant, params=params)
        answers.append((time.monotonic() - started, body))

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(0.5)
    assert not answers  # nothing to read yet: the call waits
    logs = [{"attempt_id": launch["attempt_id"], "offset": 0, "data": "step 1\n"}]
    sync(net, agent, [report(launch, "RUNNING")], logs=logs)
    reader.join(timeout=10)
    assert not reader.is_alive()
    [(took, body)] = answers
    assert took < 10
    assert (body["data"], body["next_offset"], body["complete"]) == ("step 1\n", 7, False)


def test_a_log_chunk_sent_twice_is_kept_once(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net)
    launch = launched(net, agent)
    chunk = {"attempt_id": launch["attempt_id"], "offset": 0, "data": "abc\n"}
    sync(net, agent, [report(launch, "RUNNING")], logs=[chunk])
    sync(net, agent, [report(launch, "RUNNING")], logs=[chunk, {**chunk, "offset": 4, "data": "d\n"}])
    assert net.ok("GET", f"/jobs/{mine['id']}/logs", net.tenant)["data"] == "abc\nd\n"


# usage


def test_usage_records_are_kept_once_per_site_and_sequence(net: Net) -> None:
    a = net.add_site("sh1", [CPU_POOL])
    b = net.add_site("sh2", [CPU_POOL])
    first = submit(net, {**HELLO, "constraints": {"sites": ["sh1"]}})
    second = submit(net, {**HELLO, "constraints": {"sites": ["sh2"]}})
    net.cycle()
    [la] = sync(net, a)["launch"]
    [lb] = sync(net, b)["launch"]

    def usage(launch: dict[str, Any], seq: int, wall: int = 10) -> dict[str, Any]:
        return {"seq": seq, "attempt_id": launch["attempt_id"], "wall_seconds": wall, "cpu_seconds": 5}

    assert sync(net, a, [report(la, "RUNNING")], usage=[usage(la, 1)])["usage_acked_seq"] == 1
    again = sync(net, a, [report(la, "RUNNING")], usage=[usage(la, 1), usage(la, 2, wall=20)])
    assert (again["usage_acked_seq"], again["usage_next_seq"]) == (2, 3)
    sync(net, b, [report(lb, "RUNNING")], usage=[usage(lb, 1)])  # same seq, another site
    # Another site's agent cannot book usage on this site's attempt.
    sync(net, b, usage=[usage(la, 3)])
    with net.cp.db.transaction() as tx:
        assert [(u.seq, u.wall_seconds) for u in tx.jobs.usage(first["id"])] == [(1, 10), (2, 20)]
        assert [u.seq for u in tx.jobs.usage(second["id"])] == [1]


def test_an_agent_that_counts_from_one_again_loses_no_usage_and_books_none_twice(net: Net) -> None:
    """A new state dir (an agent moved, or its state deleted) numbers usage from 1 again: a record
    under a number the site used for another is kept under the next free one, and the server says
    where to number on from; a record sent again is flagged as a duplicate and charged once."""
    agent = net.add_site("sh1", [CPU_POOL])
    first, second = submit(net, HELLO), submit(net, HELLO)
    net.cycle()
    launches = sync(net, agent)["launch"]
    la, lb = sorted(launches, key=lambda launch: launch["job_id"] != first["id"])
    ended = {"started_at": "2026-11-25T12:00:00Z", "ended_at": "2026-11-25T12:01:00Z", "cpu_seconds": 60}
    sync(net, agent, usage=[{"seq": 1, "attempt_id": la["attempt_id"], "wall_seconds": 60, **ended}])
    fresh = sync(net, agent, usage=[{"seq": 1, "attempt_id": lb["attempt_id"], "wall_seconds": 60, **ended}])
    assert (fresh["usage_acked_seq"], fresh["usage_next_seq"]) == (1, 3)
    # Sent again (its answer was lost, or a quick sync went first):
    again = sync(net, agent, usage=[{"seq": 1, "attempt_id": lb["attempt_id"], "wall_seconds": 60, **ended}])
    assert again["usage_next_seq"] == 3  # a resend: recognised by the site's own number, kept
    # The same usage under another number is kept too, as a duplicate: flagged, charged once.
    sync(net, agent, usage=[{"seq": 7, "attempt_id": lb["attempt_id"], "wall_seconds": 60, **ended}])
    with net.cp.db.transaction() as tx:
        assert [(u.seq, u.wall_seconds) for u in tx.jobs.usage(first["id"])] == [(1, 60)]
        repeated = tx.jobs.usage(second["id"])
        assert [(u.seq, u.reported_seq) for u in repeated] == [(2, 1), (7, None)]
        original = settlement.is_duplicate(tx, repeated[1])
        assert original is not None and original.seq == 2


# idempotency


def test_the_same_idempotency_key_from_two_users_does_not_collide(net: Net) -> None:
    other = net.tenant_token("rival", "bob")
    key = {"Idempotency-Key": "same-key"}
    mine = net.call("POST", "/jobs", net.tenant, json={"spec": HELLO}, headers=key)
    theirs = net.call("POST", "/jobs", other, json={"spec": HELLO}, headers=key)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["org"] == "rival"
    assert net.call("GET", f"/jobs/{mine.json()['id']}", other).status_code == 404


def test_an_idempotent_cancel_replays_the_first_answer(net: Net) -> None:
    mine = submit(net)
    key = {"Idempotency-Key": "cancel-1"}
    first = net.call("POST", f"/jobs/{mine['id']}/cancel", net.tenant, headers=key)
    again = net.call("POST", f"/jobs/{mine['id']}/cancel", net.tenant, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    unkeyed = net.call("POST", f"/jobs/{mine['id']}/cancel", net.tenant)
    assert unkeyed.status_code == 409 and unkeyed.json()["code"] == "job_ended"


def test_an_idempotency_key_too_long_is_refused(net: Net) -> None:
    resp = net.call("POST", "/jobs", net.tenant, json={"spec": HELLO}, headers={"Idempotency-Key": "k" * 201})
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_idempotency_key"
    assert net.ok("GET", "/jobs", net.tenant)["items"] == []


# races: each holds one transaction open while the API does the other thing (they only interleave
# on PostgreSQL; SQLite's single writer serialises them, where the same outcome must hold)


def hold_open(net: Net, change: Any) -> tuple[threading.Thread, threading.Event]:
    """Run `change(tx)` in a transaction on a thread and keep it open half a second after it."""
    ready = threading.Event()

    def work() -> None:
        with net.cp.db.transaction() as tx:
            change(tx)
            tx.flush()
            ready.set()
            time.sleep(0.5)

    thread = threading.Thread(target=work)
    thread.start()
    assert ready.wait(10)
    return thread, ready


def test_a_sync_racing_a_cancel_of_an_unstarted_attempt_is_told_to_kill(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net)
    launch = launched(net, agent)
    who = net.cp.principal(net.tenant)
    thread, _ = hold_open(net, lambda tx: control_jobs.cancel(tx, who, mine["id"], net.clock()))
    answer = sync(net, agent, [report(launch, "RUNNING")])
    thread.join()
    assert answer["kill"] == [launch["attempt_id"]]
    view = job(net, mine["id"])
    assert view["state"] == "CANCELLED" and [a["state"] for a in view["attempts"]] == ["CANCELLED"]


def test_lease_expiry_racing_a_renewing_sync_does_not_lose_the_attempt(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    mine = submit(net)
    launch = launched(net, agent)
    sync(net, agent, [report(launch, "RUNNING")])
    net.clock.advance(41)  # past lease + grace: the next cycle would declare it lost

    def renew(tx: Any) -> None:  # what a sync does, held open
        tx.jobs.lock([mine["id"]])
        attempt = tx.jobs.attempt(launch["attempt_id"])
        attempt.lease_expires_at = net.clock() + timedelta(seconds=30)

    thread, _ = hold_open(net, renew)
    net.cycle()
    thread.join()
    view = job(net, mine["id"])
    assert view["state"] == "RUNNING" and [a["state"] for a in view["attempts"]] == ["RUNNING"]


def test_two_enrolls_racing_with_one_token_give_one_agent_token(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": "sh1", "org": "dc"})["enrollment_token"]
    who = net.cp.principal(enroll)
    thread, _ = hold_open(net, lambda tx: accounts.enroll(tx, who, "sh1", net.clock()))
    second = net.call("POST", "/agent/enroll", enroll, json={"site": "sh1"})
    thread.join()
    assert second.status_code == 401 and second.json()["code"] == "revoked_token"
    agents = [t for t in net.ok("GET", "/tokens", net.operator)["items"] if t["kind"] == "agent"]
    assert len(agents) == 1


def test_whoami_answers_an_agent_with_its_site(net: Net) -> None:
    agent = net.add_site("sh1", [CPU_POOL])
    me = net.ok("GET", "/whoami", agent)
    assert (me["kind"], me["site"], me["user"]) == ("agent", "sh1", None)


def test_many_log_follows_waiting_do_not_hold_up_other_requests(net: Net) -> None:
    """Following waits without a worker thread: with 60 follows waiting (more than the server's 40
    threads), other requests are answered while they still wait, and new output wakes them all."""
    agent = net.add_site("sh1", [CPU_POOL])
    job = net.ok("POST", "/jobs", net.tenant, json={"spec": HELLO})
    net.cycle()
    [launch] = sync(net, agent)["launch"]
    sync(net, agent, [report(launch, "RUNNING")])
    answers: list[str] = []

    def follow() -> None:
        params = {"offset": 0, "follow": "true", "wait": 60}
        answers.append(net.ok("GET", f"/jobs/{job['id']}/logs", net.tenant, params=params)["data"])

    followers = [threading.Thread(target=follow) for _ in range(60)]
    for t in followers:
        t.start()
    time.sleep(0.5)  # let them reach their wait
    assert net.ok("GET", "/whoami", net.tenant)["user"] == "demo"
    assert answers == []  # answered while every follow still waits
    sync(
        net,
        agent,
        [report(launch, "RUNNING")],
        logs=[{"attempt_id": launch["attempt_id"], "offset": 0, "data": "hi\n"}],
    )
    for t in followers:
        t.join(timeout=30)
    assert answers == ["hi\n"] * 60

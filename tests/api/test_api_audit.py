"""Every change a person makes through the API is in the audit trail, in the same transaction:
who, when, which change, on what, with the request's fields (secrets masked). Operators read all
of it; an org's owners, admins and finance members read their org's."""

from __future__ import annotations

from importlib import import_module
from pkgutil import iter_modules

import pytest
from api_net import CPU_POOL, GPU_POOL, Net
from fastapi.routing import APIRoute

from suanli.api import routes
from suanli.api.deps import mutation
from suanli.control import audit


def trail(net: Net, token: str, **params: str) -> list[dict[str, object]]:
    return list(net.ok("GET", "/audit", token, params=params)["items"])


def test_administration_is_audited_with_actor_target_and_fields(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "lab", "kind": "tenant"})
    net.ok("PUT", "/orgs/lab/quota", net.operator, json={"guaranteed_cu": "8", "limit_cu": "16"})
    net.ok("POST", "/orgs/lab/projects", net.operator, json={"name": "vision"})
    net.ok("POST", "/orgs/lab/members", net.operator, json={"user": "ming", "role": "admin"})
    net.add_site("sh1", [GPU_POOL])
    net.ok("POST", "/sites/sh1/disable", net.operator)
    token = net.ok("POST", "/tokens", net.operator, json={"name": "ci", "user": "ming"})
    net.ok("POST", "/orgs/lab/projects/vision/disable", net.operator)
    net.ok("POST", "/sites/sh1/enrollment-tokens", net.operator)

    got = [(e["action"], e["target"]) for e in trail(net, net.operator)]
    for change in [  # a creation names what it made
        ("create_org", "/orgs/lab"),
        ("set_quota", "/orgs/lab/quota"),
        ("create_project", "/orgs/lab/projects/vision"),
        ("add_member", "/orgs/lab/members/ming"),
        ("create_site", "/sites/sh1"),
        ("disable_site", "/sites/sh1/disable"),
        ("create_token", f"/tokens/{token['id']}"),  # its id, never its secret
        ("disable_project", "/orgs/lab/projects/vision/disable"),
        ("new_enrollment_token", "/sites/sh1/enrollment-tokens"),  # nothing names it: the path
    ]:
        assert change in got, (change, got)
    assert token["id"] != token["token"] and not any(token["token"] in target for _, target in got)
    [quota] = trail(net, net.operator, action="set_quota")
    assert quota["actor"] == "operator" and quota["detail"] == {"guaranteed_cu": "8", "limit_cu": "16"}


def test_an_org_reads_its_own_trail_and_secrets_are_masked(net: Net) -> None:
    lab = net.tenant_token("lab", "ming")  # owner of lab
    net.ok("POST", "/orgs/lab/projects", lab, json={"name": "nlp"})
    net.ok("POST", "/tokens", lab, json={"name": "laptop"})
    mine = trail(net, lab, org="lab")
    assert [(e["actor"], e["action"]) for e in mine] == [
        ("operator", "create_org"),
        ("operator", "create_project"),
        ("operator", "add_member"),
        ("ming", "create_project"),
    ]
    assert all(e["target"].startswith("/orgs") for e in mine)
    token_record = next(e for e in trail(net, net.operator, action="create_token") if e["actor"] == "ming")
    assert token_record["detail"] == {"name": "laptop"}
    assert net.call("GET", "/audit", lab, params={"org": "demo"}).status_code in (403, 404)
    # the org's own routes name it `{name}`: their records are the org's too
    net.ok("PUT", "/orgs/lab/quota", net.operator, json={"guaranteed_cu": "8"})
    net.ok("POST", "/orgs/lab/disable", net.operator)
    net.ok("POST", "/orgs/lab/enable", net.operator)
    later = [(e["action"], e["object"]) for e in trail(net, lab, org="lab")][len(mine) :]
    assert later == [("set_quota", "org lab"), ("disable_org", "org lab"), ("enable_org", "org lab")]


def test_job_submissions_and_agent_syncs_are_not_administration(net: Net) -> None:
    agent = net.add_site("sh1", [GPU_POOL])
    before = len(trail(net, net.operator))
    net.ok("POST", "/jobs", net.tenant, json={"spec": {"name": "hello", "run": "echo hi"}})
    net.ok("POST", "/agent/sync", agent, json={"attempts": []})
    assert len(trail(net, net.operator)) == before


def test_a_refused_change_leaves_no_record(net: Net) -> None:
    before = len(trail(net, net.operator))
    assert (
        net.call("POST", "/orgs", net.operator, json={"name": "Bad Name", "kind": "tenant"}).status_code
        == 422
    )
    assert net.call("POST", "/orgs/demo/disable", net.tenant).status_code == 403
    assert len(trail(net, net.operator)) == before


def test_a_voucher_and_its_programme_are_audited_with_their_sums(net: Net) -> None:
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "sh-2026", "budget": "1000.00 CNY"})
    body = {"org": "demo", "face": "200", "valid_until": "2027-01-01"}
    net.ok("POST", "/voucher-programmes/sh-2026/vouchers", net.operator, json=body)
    [programme] = trail(net, net.operator, action="create_programme")
    [grant] = trail(net, net.operator, action="grant")
    assert programme["amount"]["text"] == "1000.00 CNY"
    assert grant["amount"]["text"] == "200.00 CNY"


def test_a_price_book_version_is_audited_with_its_headline_rate(net: Net) -> None:
    """Its body gives rates in major units without a currency, or leaves them out to keep the
    version before's: the amount is the new version's headline rate per hour, in minor units."""
    net.add_site("sh1", [GPU_POOL, CPU_POOL])
    gpu = {"currency": "USD", "tenant": {"accelerator_hour": "38.5", "cpu_hour": "0.20"},
           "wholesale": {"accelerator_hour": "30", "cpu_hour": "0.10"}}  # fmt: skip
    net.ok("POST", "/sites/sh1/pools/gpu/prices", net.operator, json=gpu)
    cpu = {"tenant": {"cpu_hour": "0.205"}, "wholesale": {"cpu_hour": "0.15"}}
    net.ok("POST", "/sites/sh1/pools/cpu/prices", net.operator, json=cpu)
    net.ok("POST", "/sites/sh1/pools/gpu/prices", net.operator, json={"minimum": "1.00"})  # rates kept
    net.ok("POST", "/sites/sh1/pools/cpu/price", net.operator, json={"price_per_hour": "0.30"})
    got = [(e["target"], e["amount"]) for e in trail(net, net.operator, action="set_price")]
    assert got == [
        ("/sites/sh1/pools/gpu/prices", {"minor": 3_850, "currency": "USD", "text": "38.50 USD"}),
        ("/sites/sh1/pools/cpu/prices", {"minor": 20, "currency": "CNY", "text": "0.20 CNY"}),  # per CPU-hour
        ("/sites/sh1/pools/gpu/prices", {"minor": 3_850, "currency": "USD", "text": "38.50 USD"}),
        ("/sites/sh1/pools/cpu/price", {"minor": 30, "currency": "CNY", "text": "0.30 CNY"}),
    ]
    [pool] = [p for p in net.ok("GET", "/sites/sh1", net.operator)["pools"] if p["name"] == "cpu"]
    assert pool["price_per_hour"] == "0.30 CNY"  # the headline the trail shows is the pool's list price


def test_an_action_nothing_records_is_refused_naming_the_allowed_ones(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])
    net.ok("POST", "/sites/sh1/disable", net.operator)
    lab = net.tenant_token("lab", "ming")  # owner of lab
    for token, params in [
        (net.operator, {"action": "bogus"}),
        (lab, {"org": "lab", "action": "disable-site"}),
    ]:
        refused = net.call("GET", "/audit", token, params=params)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == "action"
        assert "disable_site" in error["message"] and "topup" in error["message"]
    [disabled] = trail(net, net.operator, action="disable_site")
    assert (disabled["target"], disabled["object"]) == ("/sites/sh1/disable", "site sh1")
    assert trail(net, net.operator, action="enable_site") == []  # allowed, and nothing recorded yet


# Routes that take a `Mutation` but whose name is not an action: they run with `audited=False` (money
# changes record themselves under `topup`, `refund`, `credit_limit`, `budget`; a submission is use,
# not administration) or only agents call them.
NOT_RECORDED_BY_NAME = {"submit", "topup", "refund_job", "set_budget", "set_credit_limit", "enroll"}


def test_every_change_a_person_makes_is_recorded_under_an_allowed_action() -> None:
    routers = [import_module(f"{routes.__name__}.{m.name}").router for m in iter_modules(routes.__path__)]
    changes = {
        route.name
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and any(d.call is mutation for d in route.dependant.dependencies)
    }
    assert {"create_org", "disable_site", "cancel", "grant", "topup"} <= changes  # the walk finds them
    assert changes - NOT_RECORDED_BY_NAME <= audit.ACTIONS, changes - NOT_RECORDED_BY_NAME - audit.ACTIONS


def test_recording_an_action_outside_the_allowed_ones_is_refused(net: Net) -> None:
    operator = net.cp.principal(net.operator)
    before = trail(net, net.operator)
    with (
        pytest.raises(ValueError, match=r"'set_colour' is not in audit\.ACTIONS"),
        net.cp.db.transaction() as tx,
    ):
        audit.record(tx, operator, "set_colour", None, "/colour", net.clock())
    assert trail(net, net.operator) == before


def test_a_provider_reads_every_change_to_its_sites_in_its_own_trail(net: Net) -> None:
    net.add_site("sh1", [GPU_POOL])  # the provider org "dc" owns it
    net.ok("POST", "/sites/sh1/disable", net.operator)
    net.ok("POST", "/sites/sh1/enable", net.operator)
    net.ok("PATCH", "/sites/sh1", net.operator, json={"pue": "1.25"})
    net.ok("POST", "/sites/sh1/enrollment-tokens", net.operator)
    net.ok("POST", "/sites/sh1/pools/gpu/price", net.operator, json={"price_per_hour": "10.00"})
    ours = [e["action"] for e in trail(net, net.operator, org="dc")]
    assert ours == [
        "create_org",
        "create_site",
        "disable_site",
        "enable_site",
        "update_site",
        "new_enrollment_token",
        "set_price",
    ]

"""Money routes: roles, top-ups, price book versions, voucher programmes, grants, reports, relations."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api_net import GPU_POOL, Net

from suanli.control import holds
from suanli.control.bootstrap import DEMO_USER
from suanli.domain.ledger import Usage, cash_account

VALID_UNTIL = "2026-12-31T00:00:00Z"


def member_token(net: Net, org: str, user: str, role: str) -> str:
    net.ok("POST", f"/orgs/{org}/members", net.operator, json={"user": user, "role": role})
    return str(net.ok("POST", "/tokens", net.operator, json={"name": "t", "user": user})["token"])


def price_gpu(net: Net) -> dict[str, Any]:
    net.add_site("dc1", [GPU_POOL])
    body = {
        "currency": "CNY",
        "tenant": {"accelerator_hour": "38.00", "cpu_hour": "0.10"},
        "wholesale": {"accelerator_hour": "30.00", "cpu_hour": "0.08"},
        "minimum": "1.00",
    }
    view: dict[str, Any] = net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=body)
    return view


def test_topup_is_for_operators_and_balance_for_finance(net: Net) -> None:
    viewer = member_token(net, "demo", "vic", "viewer")
    finance = member_token(net, "demo", "fin", "finance")
    assert (
        net.call("POST", "/orgs/demo/projects/default/topups", finance, json={"amount": "10"}).status_code
        == 403
    )
    assert net.call("GET", "/orgs/demo/balance", viewer).status_code == 403
    key = {"Idempotency-Key": "k1"}
    first = net.call(
        "POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100.00"}, headers=key
    )
    again = net.call(
        "POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100.00"}, headers=key
    )
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    row = net.ok("GET", "/orgs/demo/balance", finance)["projects"][0]
    assert (row["balance"]["minor"], row["available"]["text"]) == (10_000, "100.00 CNY")
    assert net.call("GET", "/orgs/demo/balance", net.tenant).status_code == 200  # the owner


def test_a_price_version_keeps_what_it_leaves_out_and_never_pays_a_provider_nothing_unasked(net: Net) -> None:
    net.add_site("dc1", [GPU_POOL])
    first = {
        "tenant": {"accelerator_hour": "38", "cpu_hour": "0.50"},
        "wholesale": {"accelerator_hour": "30"},
    }
    refused = net.call("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=first)
    assert refused.status_code == 422  # the provider would be paid nothing for CPUs, unasked
    assert [e["field"] for e in refused.json()["errors"]] == ["wholesale.cpu_hour"]
    first["wholesale"]["cpu_hour"] = "0"  # said: nothing
    first["minimum"] = "1.00"
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=first)
    raised = net.ok(
        "POST", "/sites/dc1/pools/gpu/prices", net.operator, json={"tenant": {"accelerator_hour": "40"}}
    )
    assert (raised["version"], raised["currency"], raised["minimum"]["minor"]) == (2, "CNY", 100)
    assert raised["tenant"] == {"accelerator_hour": "40.00", "cpu_hour": "0.50", "gb_hour": "0.00"}
    assert raised["wholesale"]["accelerator_hour"] == "30.00"  # what the provider is paid, kept
    below = net.call(
        "POST", "/sites/dc1/pools/gpu/prices", net.operator, json={"tenant": {"accelerator_hour": "29"}}
    )
    assert below.json()["errors"] == [
        {"field": "tenant.accelerator_hour", "message": "at least the wholesale rate, 30.00"}
    ]
    nothing = net.call("POST", "/sites/dc1/pools/gpu/prices", net.operator, json={})
    assert nothing.status_code == 422 and "nothing to change" in nothing.json()["detail"]


def test_balance_leaves_out_a_currency_the_project_never_used(net: Net) -> None:
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "10.00"})
    with net.cp.db.transaction() as tx:  # opened at zero, as a placement on a USD pool would
        demo = tx.tenancy.org_by_name("demo")
        assert demo is not None
        [project] = tx.tenancy.projects(demo.id)
        tx.ledger.lock_accounts([cash_account(project.id, "USD")], "USD", net.clock())
    rows = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"]
    assert [(r["project"], r["currency"], r["balance"]["minor"]) for r in rows] == [("default", "CNY", 1_000)]


def test_price_versions_append_and_the_pool_price_follows(net: Net) -> None:
    first = price_gpu(net)
    assert (first["version"], first["tenant"]["accelerator_hour"], first["in_force"]) == (1, "38.00", True)
    body = {"tenant": {"accelerator_hour": "20"}, "wholesale": {"accelerator_hour": "25"}}
    refused = net.call("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=body)
    assert refused.status_code == 422 and "wholesale" in refused.text
    assert net.call("POST", "/sites/dc1/pools/gpu/prices", net.tenant, json=body).status_code == 403
    body = {"tenant": {"accelerator_hour": "40"}, "wholesale": {"accelerator_hour": "30"}}
    net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=body)
    items = net.ok("GET", "/prices?site=dc1", net.tenant)["items"]
    assert [(i["version"], i["in_force"], i["price_per_hour"]) for i in items] == [
        (1, False, "38.00 CNY"),
        (2, True, "40.00 CNY"),
    ]
    assert "wholesale" not in items[0] and "wholesale" in net.ok("GET", "/prices", net.operator)["items"][0]
    pool = net.ok("GET", "/sites/dc1", net.tenant)["pools"][0]
    assert pool["price_per_hour"] == "40.00 CNY"  # what the scheduler's cost score reads


def test_a_programme_grants_vouchers_within_budget_and_reports(net: Net) -> None:
    price_gpu(net)
    net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    grant = {"org": "demo", "face": "300.00", "share": "30%", "valid_until": VALID_UNTIL}
    voucher = net.ok("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    assert (voucher["share"], voucher["remaining"]["minor"]) == ("0.3", 30_000)
    over = net.call("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=grant)
    assert over.status_code == 409 and "200.00 CNY of 500.00 CNY left to grant" in over.json()["detail"]
    assert net.call("POST", "/voucher-programmes/haidian/vouchers", net.tenant, json=grant).status_code == 403
    net.ok("POST", "/orgs/demo/projects/default/topups", net.operator, json={"amount": "100"})
    with net.cp.db.transaction() as tx:  # what the scheduling loop will do at placement and on usage
        project = tx.tenancy.project_by_name(tx.tenancy.org_by_name("demo").id, "default")  # type: ignore[union-attr]
        pool = tx.sites.pools()[0]
        holds.hold(tx, "h1", project_id=project.id, pool_id=pool.id, amount=5_000, now=net.clock())  # type: ignore[union-attr]
        holds.capture(tx, "h1", "u1", Usage(accelerator_seconds=3600), net.clock(), final=True)
    report = net.ok("GET", "/voucher-programmes/haidian/report", net.operator)
    assert (report["issued"]["minor"], report["redeemed"]["minor"], report["reconciles"]) == (
        30_000,
        1_140,
        True,
    )
    assert report["by_provider"][0]["provider"] == "dc" and report["by_org"][0]["org"] == "demo"
    mine = net.ok("GET", "/vouchers?org=demo", net.tenant)["items"]
    assert mine[0]["remaining"]["minor"] == 30_000 - 1_140
    assert net.ok("GET", "/vouchers", net.tenant)["items"] == mine  # their only org's, unnamed
    net.ok("POST", "/orgs", net.operator, json={"name": "lab", "kind": "tenant"})
    net.ok("POST", "/orgs/lab/members", net.operator, json={"user": DEMO_USER, "role": "finance"})
    unnamed = net.call("GET", "/vouchers", net.tenant)  # two orgs: which one?
    assert unnamed.status_code == 403 and "--org ORG`; yours: demo, lab" in unnamed.json()["detail"]
    assert net.call("GET", "/voucher-programmes/haidian/report", net.tenant).status_code == 403


def test_a_related_provider_is_declared_once(net: Net) -> None:
    net.add_site("dc1", [GPU_POOL])
    for _ in range(2):
        net.ok(
            "POST",
            "/provider-relations",
            net.operator,
            json={"org": "demo", "provider": "dc", "note": "same owner"},
        )
    tenant = net.call("POST", "/provider-relations", net.operator, json={"org": "demo", "provider": "demo"})
    assert tenant.status_code == 422 and tenant.json()["detail"] == "org 'demo' is a tenant"
    assert tenant.json()["errors"] == [{"field": "provider", "message": "a provider org"}]
    nobody = net.call("POST", "/provider-relations", net.operator, json={"org": "demo", "provider": "x"})
    assert nobody.status_code == 404
    granted = grant_with(net, providers=["dc", "demo"])
    assert granted.status_code == 422 and granted.json()["errors"][0]["field"] == "providers"


def grant_with(net: Net, **fields: Any) -> Any:
    """A grant out of a fresh 'haidian' programme: a voucher of 5.00 until 2027 unless `fields` say."""
    if net.call("GET", "/voucher-programmes", net.operator).json()["items"] == []:
        net.ok("POST", "/voucher-programmes", net.operator, json={"name": "haidian", "budget": "500.00"})
    body = {"org": "demo", "face": "5", "valid_until": "2027-01-01T00:00:00Z", **fields}
    return net.call("POST", "/voucher-programmes/haidian/vouchers", net.operator, json=body)


def test_a_time_without_a_zone_is_utc_and_a_bad_one_names_its_field(net: Net) -> None:
    price_gpu(net)
    for fields, key, utc in [
        ({"valid_until": "2027-01-01"}, "valid_until", "2027-01-01T00:00:00Z"),
        ({"valid_until": "2027-01-01T08:30:00"}, "valid_until", "2027-01-01T08:30:00Z"),
        ({"valid_from": "2026-12-01T00:00:00"}, "valid_from", "2026-12-01T00:00:00Z"),
        ({"valid_until": "2027-01-01T08:00:00+08:00"}, "valid_until", "2027-01-01T00:00:00Z"),
    ]:
        answer = grant_with(net, **fields)
        assert answer.status_code == 201, answer.text
        assert answer.json()[key] == utc
        listed = net.ok("GET", "/vouchers", net.operator)["items"]
        assert next(v for v in listed if v["id"] == answer.json()["id"])[key] == utc  # as stored
    later = {"tenant": {"accelerator_hour": "40"}, "wholesale": {"accelerator_hour": "30"}}
    version = net.ok(
        "POST", "/sites/dc1/pools/gpu/prices", net.operator, json={**later, "effective_at": "2027-01-01"}
    )
    assert version["effective_at"] == "2027-01-01T00:00:00Z"
    for call, field in [
        (lambda: grant_with(net, valid_until="tomorrow"), "valid_until"),
        (lambda: grant_with(net, valid_from="2026-13-01"), "valid_from"),
        (lambda: net.call("GET", "/usage", net.operator, params={"since": "yesterday"}), "query.since"),
    ]:
        refused = call()
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == field and "2027-01-01T00:00:00Z" in error["message"], error
    backwards = grant_with(net, valid_from="2027-02-01", valid_until="2027-01-01")
    assert backwards.status_code == 422 and backwards.json()["errors"] == [
        {
            "field": "valid_until",
            "message": "later than its start, 2027-02-01T00:00:00Z; given 2027-01-01T00:00:00Z",
        }
    ]


def test_a_grant_names_a_known_accelerator_for_a_tenant_org(net: Net) -> None:
    net.add_site("dc1", [GPU_POOL])
    voucher = grant_with(net, accelerators=["a100", "CPU"]).json()
    assert voucher["accelerators"] == ["A100", "cpu"]  # as pools name them, so the voucher matches
    unknown = grant_with(net, accelerators=["B300"])
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "accelerators"
    assert "unknown accelerator 'B300'; known: " in unknown.text and "H100" in unknown.text
    provider = grant_with(net, org="dc")
    assert provider.status_code == 422 and provider.json()["errors"][0]["field"] == "org"
    assert "dc is a provider org" in provider.text
    # a model the catalog does not know, as a site offers it: the voucher may name it as pools do
    net.add_site("dc2", [{**GPU_POOL, "name": "mi", "accelerator": "MI300X-Custom"}])
    custom = grant_with(net, accelerators=["MI300X-Custom"])
    assert custom.status_code == 201 and custom.json()["accelerators"] == ["MI300X-Custom"]


def test_a_refused_grant_names_only_the_wrong_fields(net: Net) -> None:
    for fields, errors in [
        ({"share": "150%"}, {"share"}),
        ({"share": "abc"}, {"share"}),
        ({"share": "0.0000000001"}, {"share"}),  # finer than a hundredth of a percent (was kept as 1E-10)
        ({"face": "0"}, {"face"}),
        ({"face": "-5"}, {"face"}),
    ]:
        refused = grant_with(net, **fields)
        assert refused.status_code == 422, refused.text
        assert {e["field"] for e in refused.json()["errors"]} == errors, refused.text
    share = grant_with(net, share="abc").text
    assert "30%" in share and "38.00" not in share  # an example of a share, not of an amount


def test_a_top_up_in_a_currency_no_pool_charges_is_refused(net: Net) -> None:
    project = "/orgs/demo/projects/default"
    # no price book yet: nothing says which currency the network bills in
    assert (
        net.ok("POST", f"{project}/topups", net.operator, json={"amount": "10 USD"})["balance"]["minor"]
        == 1_000
    )
    net.ok("POST", "/orgs/demo/projects", net.operator, json={"name": "research"})
    price_gpu(net)  # CNY
    refused = net.call("POST", "/orgs/demo/projects/research/topups", net.operator, json={"amount": "10 USD"})
    assert refused.status_code == 422 and refused.json()["detail"] == "no pool on this network charges USD"
    assert refused.json()["errors"] == [
        {"field": "amount", "message": "pools charge CNY: e.g. '1000.00 CNY'"}
    ]
    balances = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"]
    assert ("research", "USD") not in [(b["project"], b["currency"]) for b in balances]
    net.ok("POST", "/orgs/demo/projects/research/topups", net.operator, json={"amount": "10"})
    # a project that holds USD already may add to it
    assert (
        net.ok("POST", f"{project}/topups", net.operator, json={"amount": "5 USD"})["balance"]["minor"]
        == 1_500
    )


def test_a_negative_amount_is_refused_by_its_rule(net: Net) -> None:
    net.add_site("dc1", [GPU_POOL])
    project = "/orgs/demo/projects/default"
    for method, path, body, detail, field in [
        ("POST", f"{project}/topups", {"amount": "-5"}, "a top-up is positive", "amount"),
        ("PUT", f"{project}/credit-limit", {"limit": "-5"}, "a credit limit is never negative", "limit"),
        ("POST", "/sites/dc1/pools/gpu/price", {"price_per_hour": "-5"}, "a price is never negative",
         "price_per_hour"),
        ("POST", "/voucher-programmes", {"name": "p", "budget": "-5"}, "a budget is never negative",
         "budget"),
        # the headline once named the field, `invalid tenant.accelerator_hour: '-5'`
        ("POST", "/sites/dc1/pools/gpu/prices", {"tenant": {"accelerator_hour": "-5"}},
         "a rate is never negative", "tenant.accelerator_hour"),
        ("POST", "/sites/dc1/pools/gpu/prices", {"tenant": {"accelerator_hour": "38"}, "wholesale": {"accelerator_hour": "ten"}},
         "'ten' is not a price per hour", "wholesale.accelerator_hour"),
    ]:  # fmt: skip
        refused = net.call(method, path, net.operator, json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == detail and refused.json()["errors"][0]["field"] == field
    refused = net.call("PUT", f"{project}/credit-limit", net.operator, json={"limit": "-0"})
    assert refused.status_code == 422 and refused.json()["detail"] == "a credit limit has no sign"
    assert net.ok("PUT", f"{project}/credit-limit", net.operator, json={"limit": "0"})  # zero itself is fine
    refused = net.call("POST", f"{project}/topups", net.operator, json={"amount": "ten"})
    [error] = refused.json()["errors"]
    assert "38.00" in refused.json()["detail"] and "38.00" in error["message"]  # one example, twice


def test_pricing_a_pool_no_agent_offered_says_which_pools_there_are(net: Net) -> None:
    net.ok("POST", "/orgs", net.operator, json={"name": "dc", "kind": "provider"})
    enroll = net.ok("POST", "/sites", net.operator, json={"name": "dc1", "org": "dc"})["enrollment_token"]
    before = net.call("POST", "/sites/dc1/pools/gpu/price", net.operator, json={"price_per_hour": "38.00"})
    assert before.status_code == 404 and "its agent has offered none yet" in before.json()["detail"]
    agent = net.ok("POST", "/agent/enroll", enroll, json={"site": "dc1"})["token"]
    net.ok("POST", "/agent/sync", agent, json={"pools": [GPU_POOL], "attempts": []})
    body = {"tenant": {"accelerator_hour": "38"}, "wholesale": {"accelerator_hour": "30"}}
    wrong = net.call("POST", "/sites/dc1/pools/a100/prices", net.operator, json=body)
    assert wrong.status_code == 404 and wrong.json()["detail"].endswith("(it offers: gpu)")


def test_a_price_book_cannot_be_removed_and_the_error_names_no_field(net: Net) -> None:
    price_gpu(net)
    removed = net.call("POST", "/sites/dc1/pools/gpu/price", net.operator, json={"price_per_hour": None})
    assert removed.status_code == 422 and "cannot be removed" in removed.json()["detail"]
    assert not removed.json().get("errors")


def test_amounts_and_rates_past_what_the_ledger_keeps_are_refused_by_field_not_crashed(net: Net) -> None:
    """Each of these once reached the database and came back 500 (an integer past 64 bits)."""
    price_gpu(net)
    member_token(net, "demo", "ada", "viewer")
    project = "/orgs/demo/projects/default"
    for method, path, body, field in [
        ("POST", f"{project}/topups", {"amount": "99999999999999999999999"}, "amount"),
        ("POST", f"{project}/topups", {"amount": "92233720368547758.00"}, "amount"),
        ("PUT", f"{project}/credit-limit", {"limit": "99999999999999999999"}, "limit"),
        ("POST", "/sites/dc1/pools/gpu/price", {"price_per_hour": "99999999999"}, "price_per_hour"),
        ("POST", "/tokens", {"name": "t", "user": "ada", "expires_in": "999999999999999999999d"}, "expires_in"),
    ]:  # fmt: skip
        refused = net.call(method, path, net.operator, json=body)
        assert refused.status_code in (400, 422), refused.text
        assert refused.json()["errors"][0]["field"] == field
    refused = net.call("POST", f"{project}/topups", net.operator, json={"amount": "10000000000000.01"})
    assert refused.json()["errors"][0]["message"] == "at most 10000000000000.00 CNY"  # not "such as 38.00"
    largest = net.ok("POST", f"{project}/topups", net.operator, json={"amount": "10000000000000.00"})
    assert largest["balance"]["minor"] == 10**15  # the largest amount one request may name is taken
    for rate, why in [
        ("1e3", "exponent"),
        ("1e30", "huge"),
        ("1.0000001", "past a millionth"),
        ("-1", "sign"),
    ]:
        body = {"tenant": {"accelerator_hour": rate}, "wholesale": {}}
        refused = net.call("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=body)
        assert refused.status_code == 422, (why, refused.text)
        assert refused.json()["errors"][0]["field"] == "tenant.accelerator_hour"
    # a tenth of a fen per CPU-hour is a price
    sub_cent = {"tenant": {"cpu_hour": "0.005", "accelerator_hour": "38"}, "wholesale": {"cpu_hour": "0.004"}}
    assert net.ok("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=sub_cent)["version"] == 2
    empty = net.call(
        "POST", "/sites/dc1/pools/gpu/prices", net.operator, json={"tenant": {}, "wholesale": {}}
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "tenant"  # no silent free pool
    below = {"tenant": {"accelerator_hour": "38", "cpu_hour": "0.01"}, "wholesale": {"cpu_hour": "0.02"}}
    refused = net.call("POST", "/sites/dc1/pools/gpu/prices", net.operator, json=below)
    assert [e["field"] for e in refused.json()["errors"]] == ["tenant.cpu_hour"]  # which rate, not "each"


def test_a_transfer_id_names_one_top_up_and_another_amount_under_it_is_refused(net: Net) -> None:
    topups = "/orgs/demo/projects/default/topups"
    net.ok("POST", topups, net.operator, json={"amount": "1", "transfer_id": "bank-0001"})
    same = net.ok("POST", topups, net.operator, json={"amount": "1.00 CNY", "transfer_id": "bank-0001"})
    assert same["balance"]["minor"] == 100  # the same top-up again: answered, not posted twice
    for amount in ("2", "1 USD"):
        other = net.call("POST", topups, net.operator, json={"amount": amount, "transfer_id": "bank-0001"})
        assert other.status_code == 409 and other.json()["code"] == "transfer_reused", other.text
    [row] = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"]
    assert row["balance"]["minor"] == 100


def test_a_credit_limit_budget_or_programme_in_a_currency_no_pool_charges_is_refused(net: Net) -> None:
    price_gpu(net)  # CNY
    project = "/orgs/demo/projects/default"
    for path, body, field in [
        (f"{project}/credit-limit", {"limit": "5 JPY", "reason": "pilot"}, "limit"),
        (f"{project}/budget", {"month": "*", "amount": "5 HKD"}, "amount"),
        (
            "/voucher-programmes",
            {"name": "sh-usd", "budget": "100 USD"},
            "budget",
        ),  # its vouchers would pay nothing
    ]:
        refused = net.call("POST" if "programmes" in path else "PUT", path, net.operator, json=body)
        assert refused.status_code == 422 and refused.json()["code"] == "currency_not_used", refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    net.ok("PUT", f"{project}/credit-limit", net.operator, json={"limit": "5", "reason": "pilot"})
    net.ok("PUT", f"{project}/budget", net.operator, json={"month": "*", "amount": "5 CNY"})


def test_the_same_top_up_sent_at_once_from_many_clients_is_posted_once_and_answered_alike(net: Net) -> None:
    topups = "/orgs/demo/projects/default/topups"
    start = threading.Barrier(8)

    def send(_: int) -> Any:
        start.wait()
        return net.call("POST", topups, net.operator, json={"amount": "5", "transfer_id": "bank-race"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    # the losers of the race answer as a retry does: the first answer, never a database error
    assert {a.status_code for a in answers} <= {200, 201}, [a.text for a in answers]
    assert {a.json()["transfer"] for a in answers} == {answers[0].json()["transfer"]}
    [row] = net.ok("GET", "/orgs/demo/balance", net.operator)["projects"]
    assert row["balance"]["minor"] == 500

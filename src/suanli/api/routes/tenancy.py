"""Tenancy routes: orgs, projects, members, tokens, whoami."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from suanli.api.deps import Mutation, caller, mutation, plane
from suanli.api.schemas import AddMember, CreateOrg, CreateProject, CreateToken, SetQuota, UpdateProject
from suanli.control import accounts
from suanli.control.errors import NotFound
from suanli.control.plane import ControlPlane
from suanli.control.principal import Principal
from suanli.control.views import org_view, project_view, quota_view, token_view, ts
from suanli.store import Tx
from suanli.store.tables import Org

router = APIRouter(tags=["tenancy"])


@router.get("/whoami")
def whoami(cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        orgs = {o.id: o.name for o in tx.tenancy.orgs(list(who.roles))}
        site = tx.sites.site(who.site_id) if who.site_id else None
        site_name = site.name if site else None  # read inside the transaction: the row detaches after it
    return {
        "kind": who.kind,
        "user": who.user_name,
        "operator": who.operator,
        "site": site_name,
        "memberships": [{"org": orgs.get(o, o), "role": r} for o, r in sorted(who.roles.items())],
    }


@router.get("/orgs")
def list_orgs(cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    accounts.require_user(who)
    with cp.db.read() as tx:
        return {"items": [org_view(o) for o in tx.tenancy.orgs(who.visible_orgs())], "next_cursor": None}


@router.post("/orgs", status_code=201)
def create_org(body: CreateOrg, m: Mutation = Depends(mutation)) -> JSONResponse:
    return m.run(
        lambda tx: (201, org_view(accounts.create_org(tx, m.who, body.name, body.kind, m.cp.clock())))
    )


@router.get("/orgs/{name}")
def get_org(name: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    with cp.db.read() as tx:
        org = accounts.org_for(tx, who, name)
        view = org_view(org)
        view["projects"] = [project_view(p, org.name) for p in tx.tenancy.projects(org.id)]
        view["quota"] = quota_view(tx.tenancy.quota(org.id))
        return view


@router.put("/orgs/{name}/quota")
def set_quota(name: str, body: SetQuota, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        quota = accounts.set_quota(
            tx,
            m.who,
            name,
            guaranteed_cu=str(body.guaranteed_cu),
            limit_cu=None if body.limit_cu is None else str(body.limit_cu),
            max_priority=body.max_priority,
            now=m.cp.clock(),
        )
        return 200, {"org": name, "quota": quota_view(quota)}

    return m.run(change)


@router.post("/orgs/{name}/disable")
def disable_org(name: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    return m.run(lambda tx: (200, org_view(_set_disabled(tx, m, name, True))))


@router.post("/orgs/{name}/enable", summary="Undo an org's disable (operators)")
def enable_org(name: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    return m.run(lambda tx: (200, org_view(_set_disabled(tx, m, name, False))))


def _set_disabled(tx: Tx, m: Mutation, name: str, disabled: bool) -> Org:
    accounts.require_operator(m.who)
    org = accounts.org_for(tx, m.who, name)
    org.disabled = disabled
    return org


@router.get("/orgs/{org}/projects")
def list_projects(
    org: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        o = accounts.org_for(tx, who, org)
        return {"items": [project_view(p, o.name) for p in tx.tenancy.projects(o.id)], "next_cursor": None}


@router.post("/orgs/{org}/projects", status_code=201)
def create_project(org: str, body: CreateProject, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        p = accounts.create_project(
            tx, m.who, org, body.name, m.cp.clock(), on_funds_exhausted=body.on_funds_exhausted
        )
        return 201, project_view(p, org)

    return m.run(change)


@router.patch("/orgs/{org}/projects/{name}", summary="Change a project's settings (owners, admins)")
def update_project(org: str, name: str, body: UpdateProject, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        p, org_name = accounts.update_project(
            tx, m.who, org, name, on_funds_exhausted=body.on_funds_exhausted
        )
        return 200, project_view(p, org_name)

    return m.run(change)


@router.post("/orgs/{org}/projects/{name}/disable")
def disable_project(org: str, name: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        o = accounts.org_for(tx, m.who, org, admin=True)
        p = tx.tenancy.project_by_name(o.id, name)
        if p is None:
            raise NotFound(f"no project {org}/{name}")
        p.disabled = True
        return 200, project_view(p, o.name)

    return m.run(change)


@router.get("/orgs/{org}/members")
def list_members(
    org: str, cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)
) -> dict[str, Any]:
    with cp.db.read() as tx:
        o = accounts.org_for(tx, who, org)
        items = [
            {"user": u.name, "role": m.role, "disabled": m.disabled, "since": ts(m.created_at)}
            for m, u in tx.tenancy.members(o.id)
        ]
        return {"items": items, "next_cursor": None}


@router.post("/orgs/{org}/members", status_code=201)
def add_member(org: str, body: AddMember, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        user = accounts.add_member(tx, m.who, org, body.user, body.role, m.cp.clock())
        return 201, {"org": org, "user": user.name, "role": body.role, "disabled": False}

    return m.run(change)


@router.post("/orgs/{org}/members/{user}/disable")
def disable_member(org: str, user: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        o = accounts.org_for(tx, m.who, org, admin=True)
        u = tx.tenancy.user_by_name(user)
        membership = tx.tenancy.membership(o.id, u.id) if u else None
        if membership is None:
            raise NotFound(f"{user!r} is not a member of {org}")
        accounts.require_owner_rights(m.who, membership)
        membership.disabled = True
        return 200, {"org": org, "user": user, "role": membership.role, "disabled": True}

    return m.run(change)


@router.get("/tokens")
def list_tokens(cp: ControlPlane = Depends(plane), who: Principal = Depends(caller)) -> dict[str, Any]:
    accounts.require_user(who)
    with cp.db.read() as tx:
        rows = tx.tenancy.tokens(user_id=None if who.operator else who.user_id or "-")
        names = {}
        for user_id in {t.user_id for t in rows if t.user_id}:
            user = tx.tenancy.user(user_id)
            names[user_id] = user.name if user else user_id
        items = [token_view(t, names.get(t.user_id or "")) for t in rows]
        return {"items": items, "next_cursor": None}


@router.post("/tokens", status_code=201)
def create_token(body: CreateToken, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        tid, token, expires = accounts.create_token(
            tx, m.who, body.name, body.user, body.expires_in, body.operator, m.cp.clock()
        )
        row = tx.tenancy.token(tid)
        minted = {"id": tid, "name": body.name, "kind": row.kind if row else None}
        user = body.user or m.who.user_name
        return 201, minted | {"user": user, "token": token, "expires_at": ts(expires)}

    return m.run(change)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: str, m: Mutation = Depends(mutation)) -> JSONResponse:
    def change(tx: Tx) -> tuple[int, Any]:
        # Without this a site's token (no user) would match every other site's token (no user).
        accounts.require_user(m.who)
        row = tx.tenancy.token(token_id)
        if row is None or not (m.who.operator or row.user_id == m.who.user_id):
            raise NotFound(f"no token {token_id}")
        row.revoked_at = row.revoked_at or m.cp.clock()
        user = tx.tenancy.user(row.user_id) if row.user_id else None
        return 200, token_view(row, user.name if user else row.user_id)

    return m.run(change)

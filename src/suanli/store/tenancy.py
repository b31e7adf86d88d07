"""Users, orgs, projects, memberships and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from suanli.store.ids import new_id
from suanli.store.tables import Membership, Org, OrgQuota, Project, Token, User


class TenancyRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    # users
    def user(self, user_id: str) -> User | None:
        return self._s.get(User, user_id)

    def user_by_name(self, name: str) -> User | None:
        return self._s.scalar(select(User).where(User.name == name))

    def add_user(self, name: str, now: datetime, *, operator: bool = False) -> User:
        user = User(id=new_id("usr"), name=name, is_operator=operator, disabled=False, created_at=now)
        self._s.add(user)
        self._s.flush()
        return user

    # orgs
    def org(self, org_id: str) -> Org | None:
        return self._s.get(Org, org_id)

    def org_by_name(self, name: str) -> Org | None:
        return self._s.scalar(select(Org).where(Org.name == name))

    def orgs(self, ids: list[str] | None = None) -> list[Org]:
        q = select(Org).order_by(Org.name)
        if ids is not None:
            q = q.where(Org.id.in_(ids))
        return list(self._s.scalars(q))

    def add_org(self, name: str, kind: str, now: datetime) -> Org:
        org = Org(id=new_id("org"), name=name, kind=kind, disabled=False, created_at=now)
        self._s.add(org)
        self._s.flush()
        return org

    # quotas
    def quota(self, org_id: str) -> OrgQuota | None:
        return self._s.get(OrgQuota, org_id)

    def quotas(self) -> list[OrgQuota]:
        return list(self._s.scalars(select(OrgQuota)))

    def set_quota(
        self,
        org_id: str,
        *,
        guaranteed_cu_milli: int,
        limit_cu_milli: int | None,
        max_priority: str,
        now: datetime,
    ) -> OrgQuota:
        quota = self._s.get(OrgQuota, org_id)
        if quota is None:
            quota = OrgQuota(org_id=org_id)
            self._s.add(quota)
        quota.guaranteed_cu_milli = guaranteed_cu_milli
        quota.limit_cu_milli = limit_cu_milli
        quota.max_priority = max_priority
        quota.updated_at = now
        self._s.flush()
        return quota

    # projects
    def project(self, project_id: str) -> Project | None:
        return self._s.get(Project, project_id)

    def project_by_name(self, org_id: str, name: str) -> Project | None:
        return self._s.scalar(select(Project).where(Project.org_id == org_id, Project.name == name))

    def projects(self, org_id: str) -> list[Project]:
        return list(self._s.scalars(select(Project).where(Project.org_id == org_id).order_by(Project.name)))

    def add_project(self, org_id: str, name: str, now: datetime) -> Project:
        project = Project(id=new_id("prj"), org_id=org_id, name=name, disabled=False, created_at=now)
        self._s.add(project)
        self._s.flush()
        return project

    # memberships
    def membership(self, org_id: str, user_id: str) -> Membership | None:
        return self._s.scalar(
            select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)
        )

    def memberships_of(self, user_id: str) -> list[Membership]:
        q = select(Membership).where(Membership.user_id == user_id, Membership.disabled.is_(False))
        return list(self._s.scalars(q))

    def members(self, org_id: str) -> list[tuple[Membership, User]]:
        q = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.org_id == org_id)
            .order_by(User.name)
        )
        return [(m, u) for m, u in self._s.execute(q).tuples()]

    def add_membership(self, org_id: str, user_id: str, role: str, now: datetime) -> Membership:
        m = Membership(
            id=new_id("mem"), org_id=org_id, user_id=user_id, role=role, disabled=False, created_at=now
        )
        self._s.add(m)
        self._s.flush()
        return m

    # tokens
    def add_token(
        self,
        *,
        digest: str,
        kind: str,
        name: str,
        now: datetime,
        expires_at: datetime | None,
        user_id: str | None = None,
        site_id: str | None = None,
    ) -> Token:
        token = Token(
            id=new_id("tok"),
            digest=digest,
            kind=kind,
            name=name,
            user_id=user_id,
            site_id=site_id,
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            used_at=None,
        )
        self._s.add(token)
        self._s.flush()
        return token

    def token_by_digest(self, digest: str) -> Token | None:
        return self._s.scalar(select(Token).where(Token.digest == digest))

    def token(self, token_id: str) -> Token | None:
        return self._s.get(Token, token_id)

    def spend_token(self, token_id: str, now: datetime) -> bool:
        """Mark a single-use token used and revoked; False if it was revoked already (atomic)."""
        result = self._s.execute(
            update(Token)
            .where(Token.id == token_id, Token.revoked_at.is_(None))
            .values(revoked_at=now, used_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def revoke_site_tokens(self, site_id: str, kind: str, now: datetime) -> int:
        """Revoke every live token of `kind` for the site; how many were live."""
        result = self._s.execute(
            update(Token)
            .where(Token.site_id == site_id, Token.kind == kind, Token.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def tokens(self, *, user_id: str | None = None, kinds: tuple[str, ...] | None = None) -> list[Token]:
        q = select(Token).order_by(Token.created_at.desc())
        if user_id is not None:
            q = q.where(Token.user_id == user_id)
        if kinds is not None:
            q = q.where(Token.kind.in_(kinds))
        return list(self._s.scalars(q))

"""Admin verbs for tenancy: `org`, `project`, `member` and `token` groups."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape

from suanli.cli.context import choice, fail, session, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.render import items_of, print_json, print_records, state_text

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
OrgName = Annotated[str, typer.Argument(metavar="ORG", help="The org's name.")]
_DURATION = re.compile(r"^\d+[smhd]$", re.ASCII)

org_app = typer.Typer(
    help="Create, list, show, disable and enable orgs (tenants and providers).",
    no_args_is_help=True,
)
project_app = typer.Typer(help="Create, list and disable an org's projects.", no_args_is_help=True)
member_app = typer.Typer(help="Add, list and disable an org's members.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


class OrgKind(StrEnum):
    tenant = "tenant"
    provider = "provider"


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    finance = "finance"
    member = "member"
    viewer = "viewer"


def _done(body: Any, json_out: bool, message: str) -> None:
    if json_out:
        print_json(body)
    else:
        stdout.print(message)


# -- orgs ------------------------------------------------------------------------------------------


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new org's name.")],
    kind: Annotated[
        OrgKind, typer.Option(help="A tenant submits jobs; a provider runs sites.", parser=choice(OrgKind))
    ],
    json_out: JsonOption = False,
) -> None:
    """Create an org.

    Examples:

    ```
    suanli org create acme-ai --kind tenant
    suanli org create pku-hpc --kind provider
    ```
    """
    with session() as client:
        body = client.create_org(name, kind.value)
    _done(body, json_out, f"org {escape(name)} created ({kind.value})")


@org_app.command("list")
def org_list(json_out: JsonOption = False) -> None:
    """List the orgs you can see."""
    with session() as client:
        body = client.list_orgs()
    if json_out:
        print_json(body)
        return
    print_records(
        [_with_state(o) for o in items_of(body)], ("name", "kind", "state", "created_at"), "no orgs"
    )


def _with_state(org: dict[str, Any]) -> dict[str, Any]:
    """An org's record with its `state`, `active` or `disabled`, from the API's `disabled` flag."""
    return {**org, "state": "disabled" if org.get("disabled") else "active"}


@org_app.command("show")
def org_show(name: OrgName, json_out: JsonOption = False) -> None:
    """Show one org."""
    with session() as client:
        body = client.get_org(name)
    if json_out:
        print_json(body)
        return
    print_records([_with_state(body)], ("name", "kind", "state", "created_at"), "")
    if body.get("disabled"):
        stdout.print(f"[dim]disabled: `suanli org enable {escape(name)}` undoes it[/dim]")
    quota = body.get("quota")
    if quota:
        limit = f"{quota['limit_cu']} CU" if quota["limit_cu"] is not None else "no limit"
        stdout.print(
            f"quota: guaranteed {quota['guaranteed_cu']} CU, limit {limit}, priority up to {quota['max_priority']}"
        )


@org_app.command("quota")
def org_quota(
    name: OrgName,
    guaranteed: Annotated[
        str | None,
        typer.Option(
            "--guaranteed",
            help="Compute units always the org's own (an A100 is 1 CU). Default: as it is (0).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit",
            help="Most compute units it may hold, borrowing idle capacity; `none` for no limit. "
            "Default: as it is (none).",
            show_default=False,
        ),
    ] = None,
    max_priority: Annotated[
        str | None,
        typer.Option(
            "--max-priority",
            help="Highest priority class its jobs may use: low, normal, high. Default: as it is (normal).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Show or set an org's quota (setting is for operators).

    Within its guaranteed part the org's capacity is its own: jobs of other orgs that borrowed it are
    preempted to give it back (only preemptible ones). Up to the limit it may borrow what others
    leave idle. Jobs over the limit wait with the reason shown by `suanli why`. Options left out keep
    what the quota has; with none, the quota is shown.

    Examples:

    ```
    suanli org quota pku --guaranteed 64 --limit 128 --max-priority high
    suanli org quota pku --limit none
    suanli org quota pku
    ```
    """
    with session() as client:
        current = client.get_org(name).get("quota") or {}
        if guaranteed is None and limit is None and max_priority is None:
            body: dict[str, Any] = {"org": name, "quota": current or None}
        else:
            body = client.set_quota(
                name,
                guaranteed_cu=guaranteed
                if guaranteed is not None
                else str(current.get("guaranteed_cu", "0")),
                limit_cu=(None if limit.strip().lower() == "none" else limit)
                if limit is not None
                else current.get("limit_cu"),
                max_priority=max_priority or current.get("max_priority", "normal"),
            )
    if json_out:
        print_json(body)
        return
    q: dict[str, Any] | None = body["quota"]
    if q is None:
        stdout.print(f"org {escape(name)} has no quota: nothing guaranteed, no limit, priority up to normal")
        return
    limit_text = f"{q['limit_cu']} CU" if q["limit_cu"] is not None else "none"
    stdout.print(
        f"org {escape(name)}: guaranteed {q['guaranteed_cu']} CU, limit {limit_text}, "
        f"priority up to {q['max_priority']}"
    )


@org_app.command("disable")
def org_disable(name: OrgName, json_out: JsonOption = False) -> None:
    """Disable an org (operators): its members' tokens keep working, but no longer reach it.

    They no longer see the org, its projects, jobs or money, and submit nothing to it (their other
    orgs are unchanged). Its queued jobs wait; its running jobs run on. A provider's sites keep
    taking work (`suanli site disable` stops that). `suanli org enable` undoes it.
    """
    with session() as client:
        body = client.disable_org(name)
    _done(body, json_out, f"org {escape(name)} {state_text('disabled')}")


@org_app.command("enable")
def org_enable(name: OrgName, json_out: JsonOption = False) -> None:
    """Enable a disabled org again (operators): its members reach it, its queued jobs are placed."""
    with session() as client:
        body = client.enable_org(name)
    _done(body, json_out, f"org {escape(name)} active")


# -- projects --------------------------------------------------------------------------------------


FundsPolicy = Annotated[
    str | None,
    typer.Option(
        "--on-funds-exhausted",
        help="When the project's funds run out: 'stop' its running jobs (the default) or 'continue' into arrears.",
    ),
]


@project_app.command("create")
def project_create(
    org: OrgName,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new project's name.")],
    on_funds_exhausted: FundsPolicy = None,
    json_out: JsonOption = False,
) -> None:
    """Create a project (the account jobs are billed to) in ORG.

    Example:

    ```
    suanli project create acme-ai vision --on-funds-exhausted continue
    ```
    """
    with session() as client:
        body = client.create_project(org, name, on_funds_exhausted=on_funds_exhausted)
    _done(body, json_out, f"project {escape(org)}/{escape(name)} created")


@project_app.command("set")
def project_set(
    org: OrgName,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The project's name.")],
    on_funds_exhausted: FundsPolicy = None,
    json_out: JsonOption = False,
) -> None:
    """Change a project's settings.

    Example:

    ```
    suanli project set acme-ai vision --on-funds-exhausted stop
    ```
    """
    with session() as client:
        body = client.update_project(org, name, on_funds_exhausted=on_funds_exhausted)
    _done(body, json_out, f"project {escape(org)}/{escape(name)} updated")


@project_app.command("list")
def project_list(org: OrgName, json_out: JsonOption = False) -> None:
    """List ORG's projects."""
    with session() as client:
        body = client.list_projects(org)
    if json_out:
        print_json(body)
        return
    print_records(items_of(body), ("name", "org", "state", "created_at"), "no projects")


@project_app.command("disable")
def project_disable(
    org: OrgName,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The project's name.")],
    json_out: JsonOption = False,
) -> None:
    """Disable a project: it accepts no new jobs."""
    with session() as client:
        body = client.disable_project(org, name)
    _done(body, json_out, f"project {escape(org)}/{escape(name)} {state_text('disabled')}")


# -- members ---------------------------------------------------------------------------------------

UserName = Annotated[str, typer.Argument(metavar="USER", help="The user's name (created if new).")]


@member_app.command("add")
def member_add(
    org: OrgName,
    user: UserName,
    role: Annotated[Role, typer.Option(help="What the member may do in the org.", parser=choice(Role))],
    json_out: JsonOption = False,
) -> None:
    """Add USER to ORG with a role; the user is created if new.

    Example:

    ```
    suanli member add acme-ai alice --role admin
    ```
    """
    with session() as client:
        body = client.add_member(org, user, role.value)
    _done(body, json_out, f"{escape(user)} is now {role.value} of {escape(org)}")


@member_app.command("list")
def member_list(org: OrgName, json_out: JsonOption = False) -> None:
    """List ORG's members and their roles."""
    with session() as client:
        body = client.list_members(org)
    if json_out:
        print_json(body)
        return
    print_records(items_of(body), ("user", "role", "state", "created_at"), "no members")


@member_app.command("disable")
def member_disable(org: OrgName, user: UserName, json_out: JsonOption = False) -> None:
    """Remove USER's access to ORG."""
    with session() as client:
        body = client.disable_member(org, user)
    _done(body, json_out, f"member {escape(user)} of {escape(org)} {state_text('disabled')}")


# -- tokens ----------------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. `ci` or `laptop`.")],
    user: Annotated[
        str | None,
        typer.Option(
            help="Mint a tenant token for this user (org admins, operators). Default: you, a token of "
            "the kind you sign in with (an operator's is an operator token, with operator rights)."
        ),
    ] = None,
    expires_in: Annotated[
        str | None, typer.Option(metavar="DURATION", help="Lifetime such as 90d, 12h, 30m.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Create an API token; it is printed once and cannot be shown again.

    Examples:

    ```
    suanli token create --name ci --expires-in 90d
    suanli token create --name bob-laptop --user bob --expires-in 30d
    ```
    """
    if expires_in is not None and not _DURATION.match(expires_in):
        fail(f"--expires-in {expires_in!r}: use a number and a unit, e.g. 90d, 12h, 30m, 45s", ExitCode.USAGE)
    with session() as client:
        body = client.create_token(name, user=user, expires_in=expires_in)
    if json_out:
        print_json(body)
        return
    stdout.print(escape(str(body.get("token"))), soft_wrap=True)
    if body.get("kind") and body.get("user"):
        operator = body["kind"] == "operator"
        what = (
            "an operator token, with operator rights," if operator else f"a {escape(str(body['kind']))} token"
        )
        stderr.print(f"{what} for {escape(str(body['user']))}")
    stderr.print(
        "[yellow]warning:[/yellow] this is the only time the token is shown; store it now "
        "(the server keeps only its hash)."
    )


@token_app.command("list")
def token_list(json_out: JsonOption = False) -> None:
    """List tokens (never their secrets)."""
    with session() as client:
        body = client.list_tokens()
    if json_out:
        print_json(body)
        return
    columns = ("id", "name", "user", "kind", "expires_at", "revoked_at", "last_used_at")
    print_records(items_of(body), columns, "no tokens")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id from `suanli token list`.")],
    json_out: JsonOption = False,
) -> None:
    """Revoke a token at once: requests with it are refused from now on.

    Example: `suanli token revoke tok_01JD…` (ids from `suanli token list`)
    """
    with session() as client:
        body = client.revoke_token(token_id)
    _done(body, json_out, f"token {escape(token_id)} revoked")


def register(app: typer.Typer) -> None:
    """Add the `org`, `project`, `member` and `token` groups to the `suanli` app."""
    app.add_typer(org_app, name="org")
    app.add_typer(project_app, name="project")
    app.add_typer(member_app, name="member")
    app.add_typer(token_app, name="token")

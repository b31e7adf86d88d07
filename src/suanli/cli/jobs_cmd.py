"""Watching and steering jobs: `jobs`, `job`, `logs`, `events`, `why`, `cancel`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from suanli.cli.context import session, stderr, stdout
from suanli.cli.exit_codes import ExitCode
from suanli.cli.log_stream import LogPrinter
from suanli.cli.render import items_of, print_events, print_job, print_jobs, print_json, state_text
from suanli.cli.render_placement import print_why

__all__ = ["register"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
JobId = Annotated[str, typer.Argument(metavar="ID", help="The job's id, as `suanli submit` printed it.")]
RECENT_EVENTS = 10


def jobs(
    state: Annotated[
        list[str] | None,
        typer.Option(
            help="Only jobs in this state (PENDING, RUNNING, FAILED, ...); repeat it, or give "
            "PENDING,RUNNING, for jobs in any of several.",
            show_default=False,
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            help="Only jobs of this project (ORG/PROJECT where the name is in several of your orgs)."
        ),
    ] = None,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Every matching job, not just the newest page.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many of the newest jobs to show.")] = 50,
    json_out: JsonOption = False,
) -> None:
    """List jobs, newest first.

    Examples:

    ```
    suanli jobs
    suanli jobs --state RUNNING --project vision
    suanli jobs --state PENDING --state RUNNING
    suanli jobs --all --json
    ```
    """
    states = ",".join(s.strip().upper() for s in state) if state else None  # the API reads a comma list
    with session() as client:
        if all_pages:
            found = list(client.iter_jobs(state=states, project=project))
            body: dict[str, object] = {"items": found, "next_cursor": None}
        else:
            body = client.list_jobs(state=states, project=project, limit=limit)
    if json_out:
        print_json(body)
        return
    print_jobs(items_of(body))
    if body.get("next_cursor"):
        stderr.print("[dim]more jobs exist: use --all or a larger --limit[/dim]")


def job(job_id: JobId, json_out: JsonOption = False) -> None:
    """Show one job: its state, where it ran, its attempts and recent events.

    Examples:

    ```
    suanli job job_01HZX3
    suanli job job_01HZX3 --json | jq .state
    ```
    """
    with session() as client:
        found = client.get_job(job_id)
        if json_out:
            print_json(found)
            return
        events = items_of(client.job_events(job_id))
    print_job(found, events[-RECENT_EVENTS:])


def logs(
    job_id: JobId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new output until the job ends.")
    ] = False,
    offset: Annotated[
        int,
        typer.Option(
            min=0,
            help="Start at this byte of the job's output, counted over all its attempts (with --attempt too).",
        ),
    ] = 0,
    attempt: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Only this attempt's output (1 is the first; `suanli job ID` lists them). "
            "With --follow, until that attempt has ended.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print a job's output (stdout and stderr combined), raw, to stdout.

    A job retried or preempted runs several attempts, and its output is theirs one after another:
    where each attempt after the first begins, a line such as `── attempt 2 on site sh-b, pool
    a100 ──` goes to stderr, so what is piped or redirected is the output alone.

    Examples:

    ```
    suanli logs job_01HZX3
    suanli logs -f job_01HZX3
    suanli logs job_01HZX3 --attempt 2
    suanli logs job_01HZX3 --offset 4096 > rest.txt
    ```
    """
    printer = LogPrinter(sys.stdout, marks=attempt is None)
    with session() as client:
        try:
            while True:
                answer = client.job_logs(job_id, offset=offset, follow=follow, attempt=attempt)
                printer.write(answer)
                next_offset = int(answer.get("next_offset", offset))
                more = (
                    not answer.get("complete")
                    if follow
                    else bool(answer.get("data")) and next_offset > offset
                )
                if not more:
                    return
                offset = max(next_offset, offset)
        except KeyboardInterrupt:
            sys.stdout.flush()
            raise typer.Exit(ExitCode.INTERRUPTED) from None


def events(job_id: JobId, json_out: JsonOption = False) -> None:
    """Show a job's history, oldest first: placement, starts, retries, why it waits.

    Example:

    ```
    suanli events job_01HZX3
    ```
    """
    with session() as client:
        body = client.job_events(job_id)
    if json_out:
        print_json(body)
        return
    print_events(items_of(body))


def cancel(job_id: JobId, json_out: JsonOption = False) -> None:
    """Cancel a job; a running one is stopped at its site (CANCELLING, then CANCELLED).

    Example:

    ```
    suanli cancel job_01HZX3
    ```
    """
    with session() as client:
        found = client.cancel_job(job_id)
    if json_out:
        print_json(found)
        return
    stdout.print(f"{escape(str(found.get('id', job_id)))} {state_text(found.get('state'))}")


def why(job_id: JobId, json_out: JsonOption = False) -> None:
    """Why a job waits: each pool and the reason it does not take the job now (or where it went).

    "not now" reasons pass (capacity frees up, a site comes back); "never" reasons need the job or
    the network to change.

    Example:

    ```
    suanli why job_01HZX3
    ```
    """
    with session() as client:
        found = client.why_job(job_id)
    if json_out:
        print_json(found)
        return
    print_why(found)


def register(app: typer.Typer) -> None:
    """Add the job commands to the `suanli` app."""
    for command in (jobs, job, logs, events, why, cancel):
        app.command()(command)

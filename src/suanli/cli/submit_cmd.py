"""`suanli submit`: read a job spec from YAML, submit it exactly once, and optionally wait for the end."""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from suanli.cli.context import fail, session, stderr, stdout
from suanli.cli.exit_codes import ExitCode, exit_code_for_job
from suanli.cli.render import TERMINAL_STATES, print_json, state_text
from suanli.cli.render_placement import print_quote
from suanli.client import Client, ServerUnreachable

__all__ = ["load_spec", "quote", "register", "submit", "submit_once", "wait_for_job"]

# Pauses between tries of a submit that could not reach the server; the same Idempotency-Key is sent
# every time, so a submit that did arrive is answered again rather than made twice.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
POLL_INTERVAL = 1.0
# Consecutive failed polls tolerated while waiting (the server may be restarting).
POLL_FAILURES_TOLERATED = 10


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_spec(source: str) -> dict[str, Any]:
    """Parse the YAML job spec at `source` (`-` is stdin); syntax errors name the line and column."""
    label = "<stdin>" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {label}: {exc.strerror or exc}", ExitCode.USAGE)
    except UnicodeDecodeError as exc:
        fail(
            f"{label}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}); a job spec is YAML",
            ExitCode.USAGE,
        )
    try:
        spec = yaml.load(text, Loader=_SpecLoader)  # a SafeLoader: builds only plain data
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow: placed by line and column
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        fail(
            f"{label}:{line}:{column}: invalid YAML: character {exc.character:#06x} is not allowed",
            ExitCode.USAGE,
        )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
        problem = getattr(exc, "problem", None) or str(exc)
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            problem += f" ({context} that starts at line {start.line + 1}, column {start.column + 1})"
        fail(f"{where}: invalid YAML: {problem}", ExitCode.USAGE)
    if not isinstance(spec, dict):
        fail(f"{label}: a job spec is a YAML mapping (name:, run:, resources: ...)", ExitCode.USAGE)
    return spec


def submit_once(client: Client, spec: dict[str, Any]) -> dict[str, Any]:
    """Submit `spec`, retrying unreachable-server errors with one Idempotency-Key: one job at most."""
    key = f"cli-{secrets.token_urlsafe(18)}"
    for delay in RETRY_DELAYS:
        try:
            return client.submit_job(spec, idempotency_key=key)
        except ServerUnreachable:
            time.sleep(delay)
    return client.submit_job(spec, idempotency_key=key)


def waiting_reason(job: dict[str, Any]) -> str | None:
    """Why a pending job waits, in one line: what holds it back first (a gate: funds, budget,
    quota), else the first pool's reason; None when it is not waiting or no cycle has said."""
    if job.get("state") != "PENDING":
        return None
    waiting = [w for w in job.get("waiting") or [] if isinstance(w, dict)]
    held = [w for w in waiting if str(w.get("pool", "")).startswith("(")]
    if held:
        return str(held[0].get("reason", ""))
    if not waiting:
        return None
    more = f" (and {len(waiting) - 1} more pools)" if len(waiting) > 1 else ""
    return f"{waiting[0].get('pool')}: {waiting[0].get('reason', '')}{more}"


def wait_for_job(client: Client, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it is terminal, showing its state beside a spinner on stderr, and a line
    each time the reason it waits changes (also where stderr is no terminal and shows no spinner)."""
    job_id = str(job["id"])
    failures = 0
    said: str | None = None
    with stderr.status(f"{escape(job_id)} {state_text(job.get('state'))}") as spinner:
        while job.get("state") not in TERMINAL_STATES:
            time.sleep(POLL_INTERVAL)
            try:
                job = client.get_job(job_id)
                failures = 0
            except ServerUnreachable:
                failures += 1
                if failures > POLL_FAILURES_TOLERATED:
                    raise
                continue
            reason = waiting_reason(job)
            if reason and reason != said:
                stderr.print(f"{escape(job_id)} waits: {escape(reason)} (suanli why {escape(job_id)})")
            said = reason
            where = f" on {job['site']}" if job.get("site") else ""
            spinner.update(f"{escape(job_id)} {state_text(job.get('state'))}{escape(where)}")
    return job


def submit(
    file: Annotated[str, typer.Argument(metavar="FILE.yaml", help="The job spec; `-` reads stdin.")],
    project: Annotated[str | None, typer.Option(help="Run in this project (overrides the spec's).")] = None,
    name: Annotated[str | None, typer.Option(help="Name the job (overrides the spec's).")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the job to end and exit with its exit code.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the job's JSON instead of its id.")] = False,
) -> None:
    """Submit a job described in YAML; prints the new job's id.

    The submit carries a fresh Idempotency-Key and is retried with the same key if the server cannot be
    reached, so it never makes two jobs. A job its project cannot pay for on any pool is accepted
    with a warning (it waits for funds). With --wait it shows the job's state until it ends, and why
    it waits whenever that changes, then exits with the job's exit code (1 if it failed without
    one); Ctrl-C stops waiting, not the job (exit 130).

    Examples:

    ```
    suanli submit examples/hello.yaml
    suanli submit train.yaml --project vision --name resnet-sweep-3 --wait
    JOB=$(suanli submit job.yaml) && suanli logs -f "$JOB"
    cat job.yaml | suanli submit - --json
    ```
    """
    spec = load_spec(file)
    if project is not None:
        spec["project"] = project
    if name is not None:
        spec["name"] = name
    with session() as client:
        job = submit_once(client, spec)
        if json_out and not wait:
            print_json(job)
            return
        if not json_out:
            stdout.print(escape(str(job.get("id"))), soft_wrap=True)
            for note in job.get("warnings") or []:
                stderr.print(f"[yellow]warning:[/yellow] {escape(str(note))}")
        if not wait:
            return
        try:
            job = wait_for_job(client, job)
        except KeyboardInterrupt:
            stderr.print(
                f"stopped waiting; job {escape(str(job.get('id')))} keeps running "
                f"(`suanli cancel {escape(str(job.get('id')))}` stops it)"
            )
            raise typer.Exit(ExitCode.INTERRUPTED) from None
    if json_out:
        print_json(job)
    else:
        exit_text = f", exit code {job['exit_code']}" if job.get("exit_code") is not None else ""
        reason = f" ({job['reason']})" if job.get("reason") and job["reason"] not in exit_text else ""
        stderr.print(f"{escape(str(job['id']))} {state_text(job.get('state'))}{escape(exit_text + reason)}")
    raise typer.Exit(exit_code_for_job(job))


def quote(
    source: Annotated[str, typer.Argument(metavar="FILE", help="The job spec (YAML); - reads stdin.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the API's JSON instead of a table.")
    ] = False,
) -> None:
    """Before submitting: every pool's price for the expected runtime, energy, carbon and score,
    and why the others do not fit. Nothing is submitted. A job without max_runtime is priced for the
    server's default hold (1 h unless configured). Exits 2 when no pool could ever run the job, as
    `submit` would refuse it.

    Example:

    ```
    suanli quote train.yaml
    ```
    """
    spec = load_spec(source)
    with session() as client:
        body = client.quote(spec)
    if json_out:
        print_json(body)
    else:
        print_quote(body)
    if body.get("runnable") is False:  # what `submit` refuses, with the same exit code
        stderr.print("[red]error:[/red] no pool in the network could ever run this job")
        raise typer.Exit(ExitCode.USAGE)


def register(app: typer.Typer) -> None:
    """Add `submit` and `quote` to the `suanli` app."""
    app.command()(submit)
    app.command()(quote)

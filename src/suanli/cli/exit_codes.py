"""The CLI's exit codes: one meaning each, the same for every command, listed in `suanli --help`."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EXIT_CODES_HELP", "ExitCode", "exit_code_for_job", "exit_code_for_status"]


class ExitCode(IntEnum):
    """What a script can learn from `$?` without parsing any output."""

    OK = 0
    FAILED = 1  # the job failed, the server erred, or anything not listed below
    USAGE = 2  # bad arguments or input the server refused as invalid (4xx validation)
    NOT_FOUND = 3  # no such job, site, org ... (or not visible to you)
    AUTH = 4  # not logged in, token rejected (401) or not allowed (403)
    UNREACHABLE = 5  # the server could not be reached
    LIMIT = 6  # refused by a spending limit: a project's hard-capped budget, a programme's budget
    INTERRUPTED = 130  # Ctrl-C


EXIT_CODES_HELP = (
    "**Exit codes**: 0 ok · 1 job failed or other error · 2 usage or invalid input · "
    "3 not found · 4 not logged in / not allowed · 5 server unreachable · 6 a spending limit reached "
    "(a project's hard-capped budget, a voucher programme's budget) · 130 interrupted. "
    "`submit --wait` exits with the job's own exit code."
)


# The problem codes of a refusal by a spending limit: valid input, refused until the limit is raised
LIMIT_CODES = frozenset({"budget_exceeded", "over_budget"})


def exit_code_for_status(status: int, code: str = "") -> ExitCode:
    """Map an HTTP error status (and the problem's `code`) to the exit code a script sees."""
    if code in LIMIT_CODES:
        return ExitCode.LIMIT
    if status in (401, 403):
        return ExitCode.AUTH
    if status == 404:
        return ExitCode.NOT_FOUND
    if 400 <= status < 500:
        return ExitCode.USAGE
    return ExitCode.FAILED


def exit_code_for_job(job: dict[str, object]) -> int:
    """The exit code `submit --wait` ends with: the job's own, 1 if it failed without one.

    A code outside 0-255 (a signal reported as negative, or a large value) cannot be an exit status:
    a signal n becomes 128+n as shells do, anything else becomes 1.
    """
    if job.get("state") == "SUCCEEDED":
        return 0
    code = job.get("exit_code")
    if isinstance(code, int) and not isinstance(code, bool):
        if 0 < code <= 255:
            return code
        if -127 <= code < 0:
            return 128 - code
    return int(ExitCode.FAILED)

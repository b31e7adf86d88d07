"""Slurm's command line: running `sinfo`, `squeue`, `scontrol`, `sbatch`, `scancel`, `sacct`, and
parsing what they print into values.

Every failure of a command becomes `BackendError` carrying Slurm's own message (the `sbatch: error:`
prefixes dropped); `SlurmUnreachable` when the controller does not answer, so that callers can keep
their last known state instead of failing attempts. Parsers are pure and tested on recorded outputs
(tests/agent/fixtures/slurm/).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from suanli.agent.errors import BackendError

__all__ = [
    "SQUEUE_FORMAT",
    "JobDetail",
    "JobRow",
    "NodeRow",
    "SlurmCli",
    "SlurmUnreachable",
    "error_message",
    "parse_gres",
    "parse_sacct",
    "parse_show_job",
    "parse_sinfo",
    "parse_squeue",
    "parse_time",
    "parse_time_limit",
]

SINFO_FORMAT = "%N|%P|%c|%m|%G|%T|%l"  # %l: the partition's time limit (MaxTime)
# id | name | state | reason | start | end | TRES per node | node count
SQUEUE_FORMAT = "%i|%j|%T|%r|%S|%e|%b|%D"
SACCT_FIELDS = "JobID,JobName,State,ExitCode,Start,End"
_UNREACHABLE = re.compile(r"unable to contact slurm controller|connection refused|socket timed out", re.I)
_ERROR_PREFIX = re.compile(r"^\s*\w+: error:\s*(Batch job submission failed:\s*)?", re.I)


class SlurmUnreachable(BackendError):
    """The Slurm controller did not answer (down, restarting, network)."""


@dataclass(frozen=True)
class NodeRow:
    """One node in one partition, from `sinfo -N`."""

    node: str
    partition: str
    cpus: int
    memory_mib: int
    gpus: Mapping[str | None, int]  # gpu type (None when untyped) → count
    state: str
    time_limit_s: int | None = None  # the partition's MaxTime; None: unlimited (or not reported)


@dataclass(frozen=True)
class JobRow:
    """One job as `squeue` shows it."""

    job_id: str
    name: str
    state: str
    reason: str
    started_at: datetime | None
    ended_at: datetime | None
    tres_per_node: str | None
    nodes: int


@dataclass(frozen=True)
class JobDetail:
    """What `scontrol show job` (or `sacct`) says about one job, the exit code included."""

    job_id: str
    name: str
    state: str
    reason: str
    exit_code: int | None
    signal: int | None
    started_at: datetime | None
    ended_at: datetime | None
    restarts: int = 0


class SlurmCli:
    """Runs Slurm's commands from `bin_dir` (default: PATH) with a bounded wait."""

    def __init__(self, bin_dir: str | None = None, timeout: float = 30.0) -> None:
        self._bin = Path(bin_dir) if bin_dir else None
        self._timeout = timeout

    def run(self, command: str, args: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
        """stdout of `command args`; BackendError (SlurmUnreachable) with Slurm's message on failure."""
        program = str(self._bin / command) if self._bin else command
        try:
            done = subprocess.run(
                [program, *args],
                capture_output=True,
                text=True,
                timeout=self._timeout,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SlurmUnreachable(f"{command} did not answer within {self._timeout:g}s") from exc
        except OSError as exc:
            raise BackendError(f"cannot run {program}: {exc}") from exc
        if done.returncode != 0:
            message = error_message(done.stderr) or f"{command} exited with {done.returncode}"
            kind = SlurmUnreachable if _UNREACHABLE.search(done.stderr) else BackendError
            raise kind(message)
        return done.stdout

    def nodes(self) -> list[NodeRow]:
        return parse_sinfo(self.run("sinfo", ["-h", "-N", "-o", SINFO_FORMAT]))

    def jobs(self, name: str | None = None) -> list[JobRow]:
        """The caller's jobs that the controller remembers (live, and ended within MinJobAge)."""
        args = ["-h", "--me", "-t", "all", "-o", SQUEUE_FORMAT]
        return parse_squeue(self.run("squeue", [*args, f"--name={name}"] if name else args))

    def show_job(self, job_id: str) -> JobDetail | None:
        """The job's details, or None once the controller has forgotten it."""
        try:
            return parse_show_job(self.run("scontrol", ["show", "job", job_id]))
        except SlurmUnreachable:
            raise
        except BackendError as exc:
            if "invalid job id" in str(exc).lower():
                return None
            raise

    def accounting(self, job_ids: Sequence[str]) -> dict[str, JobDetail] | None:
        """Ended jobs from `sacct`; None when the cluster keeps no accounting (no slurmdbd)."""
        try:
            out = self.run("sacct", ["-n", "-P", "-X", "-j", ",".join(job_ids), "-o", SACCT_FIELDS])
        except SlurmUnreachable:
            raise
        except BackendError:
            return None
        return {detail.job_id: detail for detail in parse_sacct(out)}

    def submit(self, args: Sequence[str], script: Path, env: Mapping[str, str] | None) -> str:
        """Submit a batch script; the job id."""
        out = self.run("sbatch", ["--parsable", *args, str(script)], env=env).strip()
        job_id = out.split(";")[0]  # --parsable prints "id" or "id;cluster"
        if not job_id.isdigit():
            raise BackendError(f"sbatch printed {out!r}, not a job id")
        return job_id

    def cancel(self, job_id: str) -> None:
        self.run("scancel", [job_id])


def error_message(stderr: str) -> str:
    """Slurm's message without the `cmd: error:` prefixes, one line per distinct line."""
    lines: list[str] = []
    for line in stderr.splitlines():
        text = _ERROR_PREFIX.sub("", line).strip()
        if text and text not in lines:
            lines.append(text)
    return "; ".join(lines)


def parse_sinfo(text: str) -> list[NodeRow]:
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) not in (6, 7) or not parts[2].isdigit():
            continue
        node, partition, cpus, memory, gres, state = parts[:6]
        memory_mib = int(memory.rstrip("+")) if memory.rstrip("+").isdigit() else 0
        limit = parse_time_limit(parts[6]) if len(parts) == 7 else None
        rows.append(
            NodeRow(node, partition.rstrip("*"), int(cpus), memory_mib, parse_gres(gres), state, limit)
        )
    return rows


_LIMIT = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_time_limit(text: str) -> int | None:
    """Seconds from a Slurm time limit (`7-00:00:00`, `1-12`, `2:00:00`, `30:00`, `45`); None for
    `infinite`, `UNLIMITED`, `n/a` or anything else it cannot read (the limit is then not offered).
    Slurm's forms: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
    days-hours:minutes, days-hours:minutes:seconds."""
    found = _LIMIT.match(text.strip())
    if found is None:
        return None
    days, first, second, third = found.groups()
    if days is not None:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
        return ((int(days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if third is not None:  # hours:minutes:seconds
        return (int(first) * 60 + int(second)) * 60 + int(third)
    if second is not None:  # minutes:seconds
        return int(first) * 60 + int(second)
    return int(first) * 60  # minutes


def parse_gres(text: str) -> dict[str | None, int]:
    """GPUs by type from a gres string: `gpu:4`, `gpu:a100:2(S:0-1),gpu:v100:2`, `(null)`."""
    gpus: dict[str | None, int] = {}
    for item in re.split(r",(?![^()]*\))", text):
        fields = re.sub(r"\(.*\)$", "", item.strip()).split(":")
        if len(fields) < 2 or fields[0] != "gpu":
            continue
        count = re.match(r"\d+", fields[-1])
        if count is None:
            continue
        kind = fields[1] if len(fields) > 2 else None
        gpus[kind] = gpus.get(kind, 0) + int(count.group())
    return gpus


def parse_squeue(text: str) -> list[JobRow]:
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 8 or not parts[0]:
            continue
        job_id, name, state, reason, start, end, tres, nodes = parts
        rows.append(
            JobRow(
                job_id=job_id,
                name=name,
                state=state,
                reason=reason,
                started_at=parse_time(start),
                ended_at=parse_time(end),
                tres_per_node=None if tres in ("N/A", "(null)", "") else tres,
                nodes=int(nodes) if nodes.isdigit() else 1,
            )
        )
    return rows


def parse_show_job(text: str) -> JobDetail | None:
    fields = dict(re.findall(r"(?:^|\s)([A-Za-z/:]+)=(\S*)", text))
    if "JobId" not in fields:
        return None
    exit_code, signal = _exit_status(fields.get("ExitCode", ""))
    restarts = fields.get("Restarts", "0")
    return JobDetail(
        job_id=fields["JobId"],
        name=fields.get("JobName", ""),
        state=fields.get("JobState", ""),
        reason=fields.get("Reason", ""),
        exit_code=exit_code,
        signal=signal,
        started_at=parse_time(fields.get("StartTime", "")),
        ended_at=parse_time(fields.get("EndTime", "")),
        restarts=int(restarts) if restarts.isdigit() else 0,
    )


def parse_sacct(text: str) -> list[JobDetail]:
    details = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 6 or not parts[0]:
            continue
        job_id, name, state, exit_status, start, end = parts
        exit_code, signal = _exit_status(exit_status)
        word, _, rest = state.partition(" ")  # "CANCELLED by 0"
        details.append(
            JobDetail(job_id, name, word, rest, exit_code, signal, parse_time(start), parse_time(end))
        )
    return details


def parse_time(text: str) -> datetime | None:
    """Slurm's local `2026-11-25T16:56:22` as an aware UTC time; None for N/A, NONE, Unknown."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def _exit_status(text: str) -> tuple[int | None, int | None]:
    code, _, signal = text.partition(":")
    if not code.isdigit():
        return None, None
    return int(code), int(signal) if signal.isdigit() else 0

"""Jobs, their attempts, events, logs and usage records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from suanli.domain.states import ATTEMPT_ACTIVE, JOB_TERMINAL, AttemptState, JobState
from suanli.store.batches import batches
from suanli.store.ids import new_id
from suanli.store.tables import Attempt, Job, JobEvent, LogChunk, Pool, Site, UsageRecord

MAX_LOG_READ = 1024 * 1024


@dataclass(slots=True)
class JobHead:
    """A job's row as a scheduling cycle reads it for every pending and running job: its columns
    without the spec, which never changes and is read once per job when first met (`JobRepo.specs`).
    Plain values, not an ORM object: a cycle over thousands of jobs reads them in a fraction of the
    time."""

    id: str
    org_id: str
    project_id: str
    name: str
    priority: int
    created_at: datetime
    spec: dict[str, Any] | None = None  # filled by the caller where it needs it


@dataclass(frozen=True, slots=True)
class AttemptLog:
    """Where one attempt's output lies in its job's log: its first byte and the byte after its last
    (job-level offsets; another attempt's output can lie between them only where a lost attempt's
    site sent the rest of its output late), and where the attempt ran."""

    number: int
    offset: int
    end: int
    site: str
    pool: str


_HEAD = (Job.id, Job.org_id, Job.project_id, Job.name, Job.priority, Job.created_at)


class JobRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        org_id: str,
        project_id: str,
        user_id: str,
        name: str,
        spec: dict[str, Any],
        retries: int,
        now: datetime,
        priority: int = 0,
    ) -> Job:
        job = Job(
            id=new_id("job"),
            org_id=org_id,
            project_id=project_id,
            user_id=user_id,
            name=name,
            spec=spec,
            state=JobState.PENDING.value,
            priority=priority,
            retries_left=retries,
            attempts_made=0,
            preemptions=0,
            exit_code=None,
            reason=None,
            log_bytes=0,
            created_at=now,
            updated_at=now,
            started_at=None,
            ended_at=None,
        )
        self._s.add(job)
        self._s.flush()
        return job

    def get(self, job_id: str, *, lock: bool = False) -> Job | None:
        if lock:
            q = select(Job).where(Job.id == job_id).with_for_update()
            return self._s.scalar(q.execution_options(populate_existing=True))
        return self._s.get(Job, job_id)

    def lock(self, job_ids: Iterable[str]) -> None:
        """Lock these jobs' rows (FOR UPDATE on PostgreSQL) in id order, so two lockers never deadlock.

        Every change to a job's attempts happens under its job's lock; read the attempts after it."""
        ids = sorted(set(job_ids))
        if ids:
            q = select(Job).where(Job.id.in_(ids)).order_by(Job.id).with_for_update()
            list(self._s.scalars(q.execution_options(populate_existing=True)))

    def search(
        self,
        *,
        org_ids: list[str] | None,
        states: list[str] | None = None,
        project_id: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """Newest first; `before` is the (created_at, id) of the last row of the previous page."""
        q = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        if org_ids is not None:
            q = q.where(Job.org_id.in_(org_ids))
        if states:
            q = q.where(Job.state.in_(states))
        if project_id:
            q = q.where(Job.project_id == project_id)
        if before is not None:
            at, jid = before
            q = q.where((Job.created_at < at) | ((Job.created_at == at) & (Job.id < jid)))
        return list(self._s.scalars(q))

    def pending(self) -> list[Job]:
        return list(
            self._s.scalars(select(Job).where(Job.state == JobState.PENDING.value).order_by(Job.created_at))
        )

    def pending_heads(self) -> list[JobHead]:
        """`pending` without the specs (`JobHead`), oldest first."""
        q = select(*_HEAD).where(Job.state == JobState.PENDING.value).order_by(Job.created_at)
        return [JobHead(*row) for row in self._s.execute(q)]

    def heads(self, job_ids: Iterable[str]) -> dict[str, JobHead]:
        """`by_ids` without the specs (`JobHead`)."""
        ids = sorted(set(job_ids))
        return {
            row[0]: JobHead(*row)
            for part in batches(ids)
            for row in self._s.execute(select(*_HEAD).where(Job.id.in_(part)))
        }

    def specs(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The specs of these jobs, by id (a first cycle reads every pending job's: in batches)."""
        ids = sorted(set(job_ids))
        return {
            job_id: spec
            for part in batches(ids)
            for job_id, spec in self._s.execute(select(Job.id, Job.spec).where(Job.id.in_(part))).tuples()
        }

    # attempts
    @staticmethod
    def new_attempt_id() -> str:
        """An id for an attempt about to be added (a hold is keyed by it before the row exists)."""
        return new_id("att")

    def add_attempt(
        self, job: Job, *, attempt_id: str | None = None, flush: bool = True, **fields: Any
    ) -> Attempt:
        """A new attempt of `job`; without `flush` it is written at the transaction's next flush
        (the applier writes a cycle's attempts together)."""
        job.attempts_made += 1
        attempt = Attempt(
            id=attempt_id or new_id("att"),
            job_id=job.id,
            number=job.attempts_made,
            fencing_token=job.attempts_made,
            state=AttemptState.ASSIGNED.value,
            cancel_requested=False,
            log_bytes=0,
            exit_code=None,
            reason=None,
            started_at=None,
            ended_at=None,
            **fields,
        )
        self._s.add(attempt)
        if flush:
            self._s.flush()
        return attempt

    def attempt(self, attempt_id: str) -> Attempt | None:
        return self._s.get(Attempt, attempt_id)

    def attempts(self, job_id: str) -> list[Attempt]:
        return list(self._s.scalars(select(Attempt).where(Attempt.job_id == job_id).order_by(Attempt.number)))

    def attempts_by_ids(self, ids: list[str], *, fresh: bool = False) -> dict[str, Attempt]:
        """`fresh` re-reads rows already loaded in this transaction (after taking a lock)."""
        if not ids:
            return {}
        found: dict[str, Attempt] = {}
        for part in batches(sorted(set(ids))):
            q = select(Attempt).where(Attempt.id.in_(part))
            if fresh:
                q = q.execution_options(populate_existing=True)
            found.update((a.id, a) for a in self._s.scalars(q))
        return found

    def active_attempts_of_site(self, site_id: str) -> list[Attempt]:
        q = select(Attempt).where(
            Attempt.site_id == site_id, Attempt.state.in_([s.value for s in ATTEMPT_ACTIVE])
        )
        return list(self._s.scalars(q.order_by(Attempt.created_at)))

    def expired_attempts(self, cutoff: datetime) -> list[Attempt]:
        """Active attempts whose lease ended before `cutoff` (callers pass now − grace)."""
        q = select(Attempt).where(
            Attempt.state.in_([s.value for s in ATTEMPT_ACTIVE]), Attempt.lease_expires_at < cutoff
        )
        return list(self._s.scalars(q))

    def avoided_sites(self, job_ids: list[str]) -> dict[str, set[str]]:
        """For each job, the sites where one of its attempts was lost or pulled back."""
        out: dict[str, set[str]] = {}
        if not job_ids:
            return out
        failed_there = [AttemptState.LOST.value, AttemptState.WITHDRAWN.value]
        q = select(Attempt.job_id, Attempt.site_id).where(
            Attempt.job_id.in_(job_ids), Attempt.state.in_(failed_there)
        )
        for job_id, site_id in self._s.execute(q).tuples():
            out.setdefault(job_id, set()).add(site_id)
        return out

    def finished_since(
        self, after: tuple[datetime, str] | None, limit: int, *, newest: bool = False
    ) -> list[tuple[Job, float]]:
        """Jobs that succeeded after the (ended_at, id) mark `after`, oldest end first: the first
        `limit` of them, or with `newest` the last `limit`. Each comes with the seconds its attempts
        ran in all: the history that run-time predictions learn from."""
        q = select(Job).where(Job.state == JobState.SUCCEEDED.value, Job.ended_at.is_not(None))
        if after is not None:
            at, job_id = after
            q = q.where((Job.ended_at > at) | ((Job.ended_at == at) & (Job.id > job_id)))
        if newest:
            done = list(self._s.scalars(q.order_by(Job.ended_at.desc(), Job.id.desc()).limit(limit)))[::-1]
        else:
            done = list(self._s.scalars(q.order_by(Job.ended_at, Job.id).limit(limit)))
        ran = self.run_seconds([j.id for j in done])
        return [(j, ran.get(j.id, 0.0)) for j in done]

    def ended_between(
        self,
        org_ids: list[str] | None,
        since: datetime,
        until: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Job]:
        """Jobs submitted in [since, until) that have ended, oldest submission first, the first
        `limit` after the (created_at, id) mark `after`; only `org_ids`' when given."""
        q = select(Job).where(
            Job.state.in_([s.value for s in JOB_TERMINAL]), Job.created_at >= since, Job.created_at < until
        )
        if org_ids is not None:
            q = q.where(Job.org_id.in_(org_ids))
        if after is not None:
            at, job_id = after
            q = q.where((Job.created_at > at) | ((Job.created_at == at) & (Job.id > job_id)))
        return list(self._s.scalars(q.order_by(Job.created_at, Job.id).limit(limit)))

    def last_runs(self, job_ids: Iterable[str]) -> dict[str, Attempt]:
        """Per job, its last attempt that started and ended (the highest number); jobs with none are absent."""
        ids = list(set(job_ids))
        out: dict[str, Attempt] = {}
        for batch in batches(ids):
            q = select(Attempt).where(
                Attempt.job_id.in_(batch), Attempt.started_at.is_not(None), Attempt.ended_at.is_not(None)
            )
            for a in self._s.scalars(q):
                if a.job_id not in out or a.number > out[a.job_id].number:
                    out[a.job_id] = a
        return out

    def run_seconds(self, job_ids: Iterable[str], states: Iterable[AttemptState] = ()) -> dict[str, float]:
        """Per job, the seconds its ended attempts ran (start to end); only attempts in `states` when
        given. Jobs with no such attempt are absent."""
        ids, wanted = list(set(job_ids)), [s.value for s in states]
        out: dict[str, float] = {}
        for start in range(0, len(ids), 1000):
            q = select(Attempt.job_id, Attempt.started_at, Attempt.ended_at).where(
                Attempt.job_id.in_(ids[start : start + 1000]),
                Attempt.started_at.is_not(None),
                Attempt.ended_at.is_not(None),
            )
            if wanted:
                q = q.where(Attempt.state.in_(wanted))
            for job_id, began, ended in self._s.execute(q).tuples():
                if began is not None and ended is not None:  # as the query asks; for the type checker
                    out[job_id] = out.get(job_id, 0.0) + max(0.0, (ended - began).total_seconds())
        return out

    def by_ids(self, job_ids: Iterable[str]) -> dict[str, Job]:
        ids = sorted(set(job_ids))
        return {
            j.id: j for part in batches(ids) for j in self._s.scalars(select(Job).where(Job.id.in_(part)))
        }

    def attempts_since(self, since: datetime) -> list[tuple[Attempt, str, str]]:
        """Attempts that ran at some time after `since` (still active, or ended after it), with their
        job's org and project: what fair-share usage is measured from."""
        q = (
            select(Attempt, Job.org_id, Job.project_id)
            .join(Job, Job.id == Attempt.job_id)
            .where(
                Attempt.started_at.is_not(None),
                (Attempt.ended_at.is_(None)) | (Attempt.ended_at > since),
            )
        )
        return [(a, org, project) for a, org, project in self._s.execute(q).tuples()]

    def unstarted_attempts(self, placed_before: datetime) -> list[Attempt]:
        """Attempts placed before `placed_before` that are still not running (ASSIGNED or STARTING)."""
        q = select(Attempt).where(
            Attempt.state.in_([AttemptState.ASSIGNED.value, AttemptState.STARTING.value]),
            Attempt.created_at < placed_before,
        )
        return list(self._s.scalars(q.order_by(Attempt.job_id)))

    # events
    def add_event(self, job_id: str, at: datetime, kind: str, message: str) -> None:
        self._s.add(JobEvent(job_id=job_id, at=at, kind=kind, message=message))

    def add_events(self, events: list[dict[str, Any]]) -> None:
        """Many events (`job_id`, `at`, `kind`, `message`) in one statement: the ORM would insert
        them one by one on SQLite, to read each new id back."""
        if events:
            self._s.execute(insert(JobEvent), events)

    def events(self, job_id: str, limit: int = 1000) -> list[JobEvent]:
        q = select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id).limit(limit)
        return list(self._s.scalars(q))

    # logs
    def append_log(self, job: Job, attempt: Attempt, offset: int, data: str) -> None:
        """Append an attempt's chunk at the job level; the part already received is skipped."""
        raw = data.encode("utf-8")
        if offset + len(raw) <= attempt.log_bytes:
            return
        fresh = raw[max(0, attempt.log_bytes - offset) :].decode("utf-8", errors="replace")
        size = len(fresh.encode("utf-8"))
        if not size:
            return
        self._s.add(
            LogChunk(
                job_id=job.id,
                offset=job.log_bytes,
                end=job.log_bytes + size,
                data=fresh,
                attempt=attempt.number,
            )
        )
        attempt.log_bytes = offset + len(raw)
        job.log_bytes += size

    def read_log(
        self, job_id: str, offset: int, limit: int = MAX_LOG_READ, *, attempt: int | None = None
    ) -> tuple[str, int]:
        """Text from byte `offset` (at most about `limit` bytes) and the offset after it; with
        `attempt`, that attempt's chunks only (their offsets stay the job's)."""
        q = select(LogChunk).where(LogChunk.job_id == job_id, LogChunk.end > offset)
        if attempt is not None:
            q = q.where(LogChunk.attempt == attempt)
        parts: list[bytes] = []
        size = 0
        end = offset
        for chunk in self._s.scalars(q.order_by(LogChunk.offset).limit(1000)):
            raw = chunk.data.encode("utf-8")[max(0, offset - chunk.offset) :]
            parts.append(raw)
            size += len(raw)
            end = chunk.end
            if size >= limit:
                break
        return b"".join(parts).decode("utf-8", errors="replace"), end

    def attempt_logs(self, job_id: str) -> list[AttemptLog]:
        """The attempts that have written output, in the order their output begins: one grouped
        read. Chunks written before attempts were recorded (migration 0010) belong to none."""
        q = (
            select(Attempt.number, func.min(LogChunk.offset), func.max(LogChunk.end), Site.name, Pool.name)
            .select_from(LogChunk)
            .join(Attempt, (Attempt.job_id == LogChunk.job_id) & (Attempt.number == LogChunk.attempt))
            .join(Site, Site.id == Attempt.site_id)
            .join(Pool, Pool.id == Attempt.pool_id)
            .where(LogChunk.job_id == job_id)
            .group_by(Attempt.number, Site.name, Pool.name)
            .order_by(func.min(LogChunk.offset))
        )
        return [
            AttemptLog(number, int(first), int(end), site, pool)
            for number, first, end, site, pool in self._s.execute(q).tuples()
        ]

    # usage
    def add_usage(
        self, *, site_id: str, seq: int, attempt: Attempt, now: datetime, **fields: Any
    ) -> UsageRecord | None:
        """Record a usage record once; None if the site sent it before (a resend: the same attempt
        and figures under the same number the site gave it).

        A record under a number the site already used for another record (an agent with a new state
        dir, or moved to another machine, counts from 1 again) is kept under the site's next free
        number, with the site's own as `reported_seq`, never dropped; a resend of it is recognised
        by that. A record repeating usage recorded under another number is kept: settlement flags it
        as a duplicate, and it is charged once (`control.settlement.is_duplicate`)."""
        mine = select(UsageRecord).where(UsageRecord.site_id == site_id, UsageRecord.attempt_id == attempt.id)
        sent = [  # by the site's numbers, each through its own index (an OR would read the site's rows)
            *self._s.scalars(mine.where(UsageRecord.seq == seq)),
            *self._s.scalars(mine.where(UsageRecord.reported_seq == seq)),
        ]
        for seen in sent:
            if (seen.reported_seq or seen.seq) == seq and all(
                getattr(seen, k) == v for k, v in fields.items()
            ):
                return None
        taken = self._s.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.site_id == site_id, UsageRecord.seq == seq)
        )
        reported = None
        if taken:
            reported, seq = seq, self.max_usage_seq(site_id) + 1
        record = UsageRecord(
            site_id=site_id,
            seq=seq,
            reported_seq=reported,
            attempt_id=attempt.id,
            job_id=attempt.job_id,
            recorded_at=now,
            **fields,
        )
        self._s.add(record)
        self._s.flush()  # the next record of this sync sees its number taken
        return record

    def max_usage_seq(self, site_id: str) -> int:
        value = self._s.scalar(select(func.max(UsageRecord.seq)).where(UsageRecord.site_id == site_id))
        return int(value or 0)

    def usage(self, job_id: str) -> list[UsageRecord]:
        return list(
            self._s.scalars(select(UsageRecord).where(UsageRecord.job_id == job_id).order_by(UsageRecord.id))
        )

    def count_by_state(self) -> dict[str, int]:
        q = select(Job.state, func.count()).group_by(Job.state)
        return {state: int(n) for state, n in self._s.execute(q).tuples()}

"""The agent's run loop: its configuration, the sync conversation with the control plane, and fencing.

One thread (the caller of `run_agent`) owns every decision: it reads the backend's states, builds
reports, handles replies and fences. HTTP happens on two sync lanes (`sync_lane.py`), each with its
own thread and client:

- the *quick* lane sends a sync with `wait=0` as soon as there is news (an attempt started or
  ended, new output, a usage record) or the lease needs renewing;
- the *long* lane holds a long poll (`wait` up to `sync_wait`) open while there is none, so a
  launch or cancel reaches the agent the moment the server has it.

Two lanes rather than one short poll in a loop: news goes out within one loop turn (the backend and
the lanes wake the loop through one Event) while an idle agent costs the server one call per
`sync_wait`. Both calls carry the full, level-triggered report, so their order does not matter.

Fencing: the loop remembers when the last *successful* sync was *sent*. When more than
`lease_ttl * (1 - lease_margin)` has passed it kills every live attempt and reports them FAILED
("lease lost") once it gets through again. A long poll is never held open past that point, so an
agent that is merely waiting never fences itself.

Metering: each attempt's usage goes out as it runs, one record per `meter_every` seconds of its
run, and a last one when it ends (`meter.py`), through the outbox (`usage_outbox.py`). What each
sync offers is `offers.py`'s.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from suanli.agent import meter
from suanli.agent.backends.base import Backend, BackendError
from suanli.agent.backends.registry import BackendSettings, make_backend
from suanli.agent.backends.registry import names as backend_names
from suanli.agent.credentials import agent_token, retire_saved_token
from suanli.agent.errors import AgentError, AgentRefused, AgentUnauthorized, InvalidLaunch
from suanli.agent.held import HeldAttempts, Report
from suanli.agent.offers import describe, offerable
from suanli.agent.pools import LocalPool
from suanli.agent.sync_lane import SyncLane, SyncOutcome
from suanli.agent.usage_outbox import UsageOutbox
from suanli.agent.wire import offer_json, parse_launch, parse_reply
from suanli.client import ApiError, Client, ClientError

__all__ = ["LEASE_LOST", "SHUT_DOWN", "AgentConfig", "run_agent"]

log = logging.getLogger("suanli.agent")

LEASE_LOST = "lease lost: control plane unreachable"
SHUT_DOWN = "agent shut down"
BACKENDS = backend_names()
_TICK_S = 0.1  # the longest the loop sleeps when nothing wakes it (stop, timers)
_FIRST_BACKOFF_S = 0.2
_FINAL_SYNC_TIMEOUT_S = 5.0
_TOKEN_VALUE = re.compile(r"^sl[taoe]_[0-9A-Za-z]{20,}$")


@dataclass(frozen=True)
class AgentConfig:
    """How to run one site's agent. `pools` empty means: discover them (GPUs, else all CPUs)."""

    server: str
    token: str | None  # sle_… (enrolls once), sla_…, or None to use the saved agent token
    site: str
    backend: str = "local"
    pools: tuple[LocalPool, ...] = ()
    state_dir: Path | None = None  # default ~/.suanli/agent-<site>
    sync_wait: float = 20.0
    lease_margin: float = 0.2
    max_backoff: float = 5.0
    kill_grace: float = 10.0
    meter_every: float = meter.METER_EVERY_S  # seconds between a running attempt's usage records
    backend_options: tuple[tuple[str, str], ...] = ()  # `--backend-opt KEY=VALUE`, engine-specific
    transport: httpx.BaseTransport | None = field(default=None, repr=False, compare=False)  # for tests

    def __post_init__(self) -> None:
        if not self.site:
            raise ValueError("site must not be empty")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        if not 0 <= self.sync_wait <= 30:
            raise ValueError(f"sync_wait must be between 0 and 30 seconds, not {self.sync_wait}")
        if not 0 <= self.lease_margin < 1:
            raise ValueError(f"lease_margin must be a fraction in [0, 1), not {self.lease_margin}")
        names = [pool.name for pool in self.pools]
        if len(set(names)) != len(names):
            raise ValueError(f"pool names must be unique, got {', '.join(names)}")
        if not 1 <= self.meter_every <= 86_400:
            raise ValueError(f"meter_every must be between 1 and 86400 seconds, not {self.meter_every}")
        if self.max_backoff <= 0 or self.kill_grace < 0:
            raise ValueError("max_backoff must be positive and kill_grace not negative")

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir or Path.home() / ".suanli" / f"agent-{self.site}"


def run_agent(config: AgentConfig, stop: threading.Event | None = None) -> None:
    """Run the agent until `stop` is set; then stop its attempts and report them one last time.

    Raises AgentUnauthorized when the server refuses the agent's token, AgentRefused when the token
    is another site's, AgentError when the agent cannot start (no usable token, state dir in use by
    another agent).
    """
    stop = stop or threading.Event()
    state_dir = config.resolved_state_dir
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _exclusive(state_dir):

        def make_client(token: str | None) -> Client:
            return Client(config.server, token, transport=config.transport)

        try:
            token = agent_token(
                state_dir,
                config.server,
                config.site,
                config.token,
                make_client=make_client,
                stop=stop,
                max_backoff=config.max_backoff,
            )
        except AgentError:
            if stop.is_set():
                return
            raise
        wake = threading.Event()
        backend = make_backend(
            config.backend,
            BackendSettings(
                pools=config.pools,
                state_dir=state_dir,
                kill_grace=config.kill_grace,
                notify=wake.set,
                base_env=_job_base_env(),
                options=dict(config.backend_options),
            ),
        )
        pools = backend.capacity()
        outbox = UsageOutbox(state_dir / "usage.json")
        log.info(
            "site %s at %s, backend %s, offers %s",
            config.site,
            config.server,
            config.backend,
            ", ".join(describe(p) for p in pools) or "no pools",
        )
        try:
            _Agent(config, backend, outbox, lambda: make_client(token), wake).run(stop)
        except AgentUnauthorized:
            retire_saved_token(state_dir, token)  # so that a fresh enrollment token can enroll again
            raise


@dataclass(frozen=True)
class _Sent:
    """What a sync carried, to record once it succeeds."""

    report: Report
    usage_seqs: list[int]
    pools: list[dict[str, Any]]


class _Agent:
    """The loop of one agent run; every method runs on the caller's thread."""

    def __init__(
        self,
        config: AgentConfig,
        backend: Backend,
        outbox: UsageOutbox,
        make_client: Callable[[], Client],
        wake: threading.Event,
    ) -> None:
        self.config = config
        self.backend = backend
        self.outbox = outbox
        self.held = HeldAttempts()
        for launch in backend.adopted():  # e.g. Slurm jobs still running from before a restart
            self.held.hold(launch)
        self.make_client = make_client
        self.wake = wake
        self.outcomes: queue.SimpleQueue[SyncOutcome] = queue.SimpleQueue()
        self.quick = SyncLane("quick", make_client(), self._arrived)
        self.long = SyncLane("long", make_client(), self._arrived)
        self.pools_reported: list[dict[str, Any]] | None = None
        self.said: set[str] = set()  # pools the server would refuse, or no job can use: said once each
        self.lease_ttl: float | None = None
        self.last_ok_sent = time.monotonic()
        self.failures = 0
        self.retry_at = 0.0
        self.connected = False

    def run(self, stop: threading.Event) -> None:
        refused = False  # the server will not hear this agent: a last sync would only fail
        deliberate = False  # asked to stop (SIGINT, SIGTERM), not ended by an error
        try:
            while not stop.is_set():
                self._turn(time.monotonic())
                self.wake.wait(_TICK_S)
                self.wake.clear()
            deliberate = True
        except AgentRefused:
            refused = True
            raise
        finally:
            self._shut_down(final_sync=not refused, deliberate=deliberate)

    def _arrived(self, outcome: SyncOutcome) -> None:  # on a lane's thread
        self.outcomes.put(outcome)
        self.wake.set()

    def _turn(self, now: float) -> None:
        while not self.outcomes.empty():
            self._handle(self.outcomes.get())
        self._observe()
        self.held.refresh_logs(self.backend.read_logs, now)
        meter.add_final_records(self.held, self.outbox, self.backend.usage)
        self._fence(now)
        self._forget_done()
        meter.add_interim_records(self.held, self.outbox, datetime.now(UTC), self.config.meter_every)
        self._sync(now)

    # -- reading the backend -----------------------------------------------------------------------

    def _observe(self) -> None:
        for held in self.held.update(self.backend.poll()):
            status = held.report(final=True)  # how it ended (reported once its output is all sent)
            log.info("attempt %s %s%s", held.attempt_id, status["state"], _because(status["reason"]))

    def _fence(self, now: float) -> None:
        if self.lease_ttl is None or now - self.last_ok_sent <= self._fence_after():
            return
        live = [held for held in self.held.live() if held.forced_reason is None and not held.cancelling]
        if not live:
            return
        log.error(
            "no successful sync for %.1fs (lease %.0fs): killing %d attempt(s)",
            now - self.last_ok_sent,
            self.lease_ttl,
            len(live),
        )
        for held in live:
            held.force(LEASE_LOST)
            self.backend.cancel(held.attempt_id, LEASE_LOST)

    def _fence_after(self) -> float:
        return (self.lease_ttl or 0.0) * (1 - self.config.lease_margin)

    # -- talking to the server ---------------------------------------------------------------------

    def _sync(self, now: float) -> None:
        if now < self.retry_at:
            return
        news = self.pools_reported is None or self.held.has_news() or self.outbox.has_new()
        if not self.quick.busy and (news or self._lease_due(now)):
            self.quick.send(*self._body(0.0))
        elif not self.quick.busy and not self.long.busy and not news:
            self.long.send(*self._body(self._long_wait(now)))

    def _lease_due(self, now: float) -> bool:
        if self.lease_ttl is None or not self.held.live():
            return False
        return now - self.last_ok_sent > self._fence_after() * 0.75

    def _long_wait(self, now: float) -> float:
        wait = self.config.sync_wait
        if self.lease_ttl is not None and self.held.live():
            # answer before the lease needs renewing: never fence while merely waiting
            wait = min(wait, self.last_ok_sent + self._fence_after() * 0.75 - now)
        return round(max(0.0, min(30.0, wait)), 3)

    def _body(self, wait: float, *, final: bool = False) -> tuple[dict[str, Any], _Sent]:
        report = self.held.report(final=final)
        usage = self.outbox.pending()
        offered = offerable(self.backend.capacity(), self.config.backend, self.said)
        pools = [offer_json(offer) for offer in offered]
        body = {
            "site": self.config.site,
            "pools": pools,
            "attempts": report.attempts,
            "usage": usage,
            "logs": report.logs,
            "wait": wait,
        }
        if (
            final
        ):  # the agent is going away: the site is offline now, and what it never started goes elsewhere
            body["stopping"] = True
        return body, _Sent(report, [record["seq"] for record in usage], pools)

    def _handle(self, outcome: SyncOutcome) -> None:
        outcome.lane.busy = False
        if outcome.error is not None:
            self._failed(outcome.error)
            return
        if self.failures:
            log.info("control plane reachable again after %d failed sync(s)", self.failures)
        elif not self.connected:
            log.info("connected to %s as site %s", self.config.server, self.config.site)
        self.connected, self.failures, self.retry_at = True, 0, 0.0
        self.last_ok_sent = max(self.last_ok_sent, outcome.sent_at)
        sent: _Sent = outcome.context
        self.held.accepted(sent.report)
        self.outbox.delivered(sent.usage_seqs)
        self.pools_reported = sent.pools
        self._apply(outcome.reply)

    def _failed(self, error: Exception) -> None:
        if isinstance(error, ApiError) and error.status == 403 and error.code == "wrong_site":
            # The token is good, for another site: keep it, and say which --site it belongs to.
            raise AgentRefused(f"the control plane refused this agent: {error.detail}") from error
        if isinstance(error, ApiError) and error.status == 401:
            log.error(
                "the control plane refused the agent token (%s): it was revoked or belongs to another "
                "site; enroll again with a fresh enrollment token",
                error,
            )
            raise AgentUnauthorized(str(error)) from error
        self.failures += 1
        delay = min(self.config.max_backoff, _FIRST_BACKOFF_S * 2 ** (self.failures - 1))
        self.retry_at = time.monotonic() + delay
        if self.failures == 1:
            what = "refused a sync" if isinstance(error, ApiError) else "is unreachable"
            log.warning(
                "control plane %s: %s; retrying (backoff up to %gs)", what, error, self.config.max_backoff
            )

    def _apply(self, raw: Any) -> None:
        reply = parse_reply(raw)
        if reply.lease_ttl is not None:
            self.lease_ttl = reply.lease_ttl
        if reply.usage_acked_seq is not None:
            self.outbox.acked(reply.usage_acked_seq)
        if reply.usage_next_seq is not None:
            self.outbox.number_from(reply.usage_next_seq)
        for attempt_id in reply.kill:
            if attempt_id in self.held:
                log.warning("killing attempt %s: the control plane no longer knows it", attempt_id)
            self.backend.forget(attempt_id)
            self.held.forget(attempt_id)
        for attempt_id in reply.cancel:
            held = self.held.get(attempt_id)
            if held is not None and not held.status.terminal:
                log.info("cancelling attempt %s", attempt_id)
                held.cancelling = True
            self.backend.cancel(attempt_id, "cancelled")
        for launch in reply.launch:
            self._launch(launch)
        for attempt_id in reply.ack:
            self.held.ack(attempt_id)

    def _launch(self, raw: Any) -> None:
        attempt_id, token = raw.get("attempt_id"), raw.get("fencing_token")
        if isinstance(attempt_id, str) and self.held.known(attempt_id):
            return  # launch is idempotent on attempt_id
        try:
            launch = parse_launch(raw)
        except InvalidLaunch as exc:
            log.error("cannot launch %r: %s", attempt_id, exc)
            if isinstance(attempt_id, str) and isinstance(token, int):
                self.held.hold_failed(attempt_id, token, f"invalid launch: {exc}")
            return
        try:
            self.backend.submit(launch)
        except BackendError as exc:
            log.warning("attempt %s of job %s failed to start: %s", launch.attempt_id, launch.job_id, exc)
            self.held.hold_failed(launch.attempt_id, launch.fencing_token, str(exc))
            return
        self.held.hold(launch)
        log.info("started attempt %s of job %s in pool %s", launch.attempt_id, launch.job_id, launch.pool)

    # -- stopping ----------------------------------------------------------------------------------

    def _shut_down(self, *, final_sync: bool, deliberate: bool = False) -> None:
        """Stop every attempt (it would be lost anyway), report them once more, release the backend.
        Only a `deliberate` stop (the agent was asked to stop) reports them as interrupted, keeping
        their jobs' retries: an agent that fails may have been brought down by a job (ADR 0032)."""
        self.quick.close()
        self.long.close()
        try:
            live = self.held.live()
            if live:
                log.info("shutting down: stopping %d attempt(s)", len(live))
            for held in live:
                held.force(SHUT_DOWN, interrupted=deliberate)
                self.backend.cancel(held.attempt_id, SHUT_DOWN)
            deadline = time.monotonic() + self.config.kill_grace + 6.0
            while self.held.live() and time.monotonic() < deadline:
                self.wake.wait(_TICK_S)
                self.wake.clear()
                self._observe()
            self._observe()
            self.held.refresh_logs(self.backend.read_logs, time.monotonic(), everything=True)
            meter.add_final_records(self.held, self.outbox, self.backend.usage, regardless=True)
            if final_sync:
                self._final_sync()
        finally:
            self.backend.close()

    def _final_sync(self) -> None:
        body, sent = self._body(0.0, final=True)
        try:
            with self.make_client() as client:
                reply = client.agent_sync(body, timeout=_FINAL_SYNC_TIMEOUT_S)
        except (ClientError, ValueError) as exc:
            log.warning("could not report the final state of attempts: %s", exc)
            return
        self.outbox.delivered(sent.usage_seqs)
        answer = parse_reply(reply)
        if answer.usage_acked_seq is not None:
            self.outbox.acked(answer.usage_acked_seq)
        # What the server now has whole is forgotten here, files and all: otherwise the next agent
        # on this state dir would find it and report it again as left behind (LocalBackend.adopted).
        self.held.accepted(sent.report)
        for attempt_id in answer.ack:
            self.held.ack(attempt_id)
        self._forget_done()

    def _forget_done(self) -> None:
        """Let go of attempts the server has whole: in the backend, the table and the meter."""
        for attempt_id in self.held.forgettable():
            self.backend.forget(attempt_id)
            self.held.forget(attempt_id)
            self.outbox.forget(attempt_id)


@contextmanager
def _exclusive(state_dir: Path) -> Iterator[None]:
    """Hold the state dir's lock: two agents on one state dir would kill each other's attempts."""
    fd = os.open(state_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise AgentError(f"another agent is running with state dir {state_dir}") from exc
        yield
    finally:
        os.close(fd)


def _job_base_env() -> dict[str, str]:
    """The agent's environment for its jobs, without any suanli token: a job must not speak for the site."""
    return {key: value for key, value in os.environ.items() if not _TOKEN_VALUE.match(value)}


def _because(reason: Any) -> str:
    return f" ({reason})" if reason else ""

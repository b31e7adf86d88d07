"""The job routes: submit, list, inspect, cancel, events and the job's log stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from suanli.client.base import RouteGroup, segment

__all__ = ["JobsApi"]

# The server holds a follow call open up to `wait` seconds; the HTTP timeout must outlast it.
_FOLLOW_TIMEOUT_MARGIN = 15.0


class JobsApi(RouteGroup):
    """Typed calls for `/jobs`; every method returns the decoded JSON body."""

    def submit_job(self, spec: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Submit a job spec; reuse `idempotency_key` when retrying so the job is created once."""
        result: dict[str, Any] = self.request(
            "POST", "/jobs", json={"spec": spec}, idempotency_key=idempotency_key
        )
        return result

    def list_jobs(
        self,
        *,
        state: str | None = None,
        project: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of jobs, newest first: `{"items": [...], "next_cursor": str | None}`."""
        params = {"state": state, "project": project, "limit": limit, "cursor": cursor}
        result: dict[str, Any] = self.request("GET", "/jobs", params=params)
        return result

    def iter_jobs(
        self, *, state: str | None = None, project: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every job matching the filters, newest first, fetching pages as they are needed."""
        cursor: str | None = None
        while True:
            page = self.list_jobs(state=state, project=project, limit=page_size, cursor=cursor)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def get_job(self, job_id: str) -> dict[str, Any]:
        """One job with its attempts."""
        result: dict[str, Any] = self.request("GET", f"/jobs/{segment(job_id)}")
        return result

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask for a job to stop; the answer's state is `CANCELLING` or `CANCELLED`."""
        result: dict[str, Any] = self.request("POST", f"/jobs/{segment(job_id)}/cancel")
        return result

    def quote(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Every pool's price, energy, carbon and score for `spec`, without submitting it."""
        result: dict[str, Any] = self.request("POST", "/quote", json={"spec": spec})
        return result

    def why_job(self, job_id: str) -> dict[str, Any]:
        """Why a job waits (each pool's verdict now), or where it was placed."""
        result: dict[str, Any] = self.request("GET", f"/jobs/{segment(job_id)}/why")
        return result

    def job_events(self, job_id: str) -> dict[str, Any]:
        """The job's history, oldest first: `{"items": [{"at", "kind", "message"}]}`."""
        result: dict[str, Any] = self.request("GET", f"/jobs/{segment(job_id)}/events")
        return result

    def job_logs(
        self,
        job_id: str,
        offset: int = 0,
        follow: bool = False,
        wait: float = 20.0,
        attempt: int | None = None,
    ) -> dict[str, Any]:
        """One chunk of combined output from byte `offset`; with `attempt`, only that attempt's.

        Answers `{"data", "offset", "next_offset", "complete", "attempts"}`, where `attempts` says
        where each attempt's output begins: `[{"number", "offset", "site", "pool"}]`. Offsets are
        the job's, with `attempt` too. With `follow` the server waits up to `wait` seconds for new
        output before answering.
        """
        params: dict[str, Any] = {"offset": offset, "follow": follow, "attempt": attempt}
        timeout: float | None = None
        if follow:
            params["wait"] = wait
            timeout = wait + _FOLLOW_TIMEOUT_MARGIN
        result: dict[str, Any] = self.request(
            "GET", f"/jobs/{segment(job_id)}/logs", params=params, timeout=timeout
        )
        return result

    def follow_logs(
        self, job_id: str, offset: int = 0, wait: float = 20.0, attempt: int | None = None
    ) -> Iterator[str]:
        """Yield the job's output as it arrives until the job is terminal and its log complete;
        with `attempt`, that attempt's output until the attempt has ended and all of it is read."""
        while True:
            chunk = self.job_logs(job_id, offset=offset, follow=True, wait=wait, attempt=attempt)
            data = chunk.get("data") or ""
            if data:
                yield data
            offset = int(chunk.get("next_offset", offset + len(data.encode())))
            if chunk.get("complete"):
                return

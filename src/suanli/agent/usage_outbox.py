"""Usage records on their way to the server, numbered by the site's sequence, kept on disk until acked.

The file (`<state_dir>/usage.json`: `{"next_seq", "unsent"}`) is rewritten atomically on every
change, so a restarted agent continues the sequence and still sends what the server has not acked.
The server ignores a record it holds under the same number, so sending it twice is harmless. A
number the site used before for another record (a new state dir, an agent moved to another
machine) does not lose the record either: the server keeps it under its next free number. Still, the
sequence only ever moves forward, past any `usage_acked_seq` the server reports and up to its
`usage_next_seq`, so numbers stay unique where they can.

Beside the records it keeps what interim records have metered of each running attempt
(`meter.Metered`) and which attempts have had their final record, written with the record that
changed them: a restarted agent meters on from where its records stop, and never sends a final
record twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from suanli.agent.backends.base import Usage
from suanli.agent.meter import Metered, after
from suanli.agent.wire import usage_json

__all__ = ["UsageOutbox"]


class UsageOutbox:
    """Unacked usage records in sequence order; used by one thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._next_seq = 1
        self._unsent: list[dict[str, Any]] = []
        self._delivered: set[int] = set()  # sent in a sync that succeeded, not yet acked
        self._metered: dict[str, Metered] = {}  # running attempts' interim records so far
        self._finished: set[str] = set()  # attempts whose final record was made, until forgotten
        if path.exists():
            saved = json.loads(path.read_text())
            self._next_seq = int(saved["next_seq"])
            self._unsent = list(saved["unsent"])
            self._metered = {k: Metered.from_json(v) for k, v in saved.get("metered", {}).items()}
            # a file from before interim records: every record in it was an attempt's final one
            self._finished = set(saved.get("finished", [r["attempt_id"] for r in self._unsent]))

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def add(self, usage: Usage, *, interim: bool = False) -> int:
        """Number a record with the next sequence number and keep it; returns the number. An
        `interim` record of a running attempt moves its metering on; any other is its final one."""
        seq = self._next_seq
        self._next_seq += 1
        self._unsent.append(usage_json(seq, usage))
        if interim:
            self._metered[usage.attempt_id] = after(self._metered.get(usage.attempt_id), usage)
        else:
            self._metered.pop(usage.attempt_id, None)
            self._finished.add(usage.attempt_id)
        self._save()
        return seq

    def metered(self, attempt_id: str) -> Metered | None:
        """What the attempt's interim records have said so far (None: none yet)."""
        return self._metered.get(attempt_id)

    def finished(self, attempt_id: str) -> bool:
        """Whether the attempt's final record was made (it may be acked already)."""
        return attempt_id in self._finished

    def forget(self, attempt_id: str) -> None:
        """The agent is done with the attempt: its metering is no longer needed."""
        if attempt_id in self._finished or attempt_id in self._metered:
            self._finished.discard(attempt_id)
            self._metered.pop(attempt_id, None)
            self._save()

    def pending(self, limit: int = 500) -> list[dict[str, Any]]:
        """The oldest records not yet acked, to send in the next sync."""
        return self._unsent[:limit]

    def has_new(self) -> bool:
        """Whether a record has never been part of a successful sync."""
        return any(record["seq"] not in self._delivered for record in self._unsent)

    def delivered(self, seqs: list[int]) -> None:
        """Records in a sync that succeeded: sent again until acked, but no longer news."""
        self._delivered.update(seqs)

    def acked(self, seq: int) -> None:
        """The server has every record up to `seq`: drop them, and never number a record at or below it."""
        kept = [record for record in self._unsent if record["seq"] > seq]
        if len(kept) == len(self._unsent) and self._next_seq > seq:
            return
        self._unsent = kept
        self._delivered = {s for s in self._delivered if s > seq}
        self._next_seq = max(self._next_seq, seq + 1)
        self._save()

    def number_from(self, seq: int) -> None:
        """Number new records from `seq` at least (the server's next free number for this site);
        records already numbered keep theirs."""
        if seq > self._next_seq:
            self._next_seq = seq
            self._save()

    def _save(self) -> None:
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(
                {
                    "next_seq": self._next_seq,
                    "unsent": self._unsent,
                    "metered": {k: v.to_json() for k, v in self._metered.items()},
                    "finished": sorted(self._finished),
                },
                out,
            )
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self._path)

"""A job's output as `suanli logs` prints it: raw on stdout, and on stderr a marker line where each
attempt after the first begins, so a pipe gets the output alone and a person sees the seams."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from rich.markup import escape

from suanli.cli.context import stderr

__all__ = ["LogPrinter", "marker", "split_at_attempts"]


def marker(attempt: Mapping[str, Any]) -> str:
    """`── attempt 2 on site sh-b, pool a100 ──`."""
    return f"── attempt {attempt.get('number')} on site {attempt.get('site')}, pool {attempt.get('pool')} ──"


def split_at_attempts(answer: Mapping[str, Any]) -> list[tuple[Mapping[str, Any] | None, str]]:
    """One answer of `GET /jobs/{id}/logs` cut where attempts begin inside it: `(attempt, text)`
    pairs, `attempt` the one beginning before `text` (None for the first piece when none does).

    An attempt whose output begins at the job's first byte gets no marker: nothing came before it.
    The answer's bytes are `[offset, next_offset)` of the job's output, but its first character may
    be a replacement for a partial one where `offset` fell inside it, so positions are counted
    back from the end. Attempts begin at chunk boundaries, which are character boundaries."""
    data = str(answer.get("data") or "")
    start = int(answer.get("offset") or 0)
    end = int(answer.get("next_offset") or start)
    raw = data.encode("utf-8")
    begins = sorted(
        (int(a["offset"]), a)
        for a in answer.get("attempts") or []
        if isinstance(a, Mapping) and int(a.get("offset", 0)) > 0 and start <= int(a["offset"]) < end
    )
    pieces: list[tuple[Mapping[str, Any] | None, str]] = []
    cut, opening = 0, None
    for at, attempt in begins:
        here = max(cut, len(raw) - (end - at))
        if here > cut or opening is not None:
            pieces.append((opening, raw[cut:here].decode("utf-8", errors="replace")))
        cut, opening = here, attempt
    pieces.append((opening, raw[cut:].decode("utf-8", errors="replace")))
    return [(a, text) for a, text in pieces if a is not None or text]


class LogPrinter:
    """Writes the answers of one `suanli logs` run in order. `marks`: print markers (not when the
    output is one attempt's, `--attempt`); `same_screen`: stdout and stderr are one terminal, so a
    marker after output that ended mid-line starts a line of its own."""

    def __init__(self, out: TextIO, *, marks: bool = True, same_screen: bool | None = None) -> None:
        self.out = out
        self.marks = marks
        self.same_screen = _both_terminals(out) if same_screen is None else same_screen
        self.mid_line = False  # the last character written to `out` was not a newline

    def write(self, answer: Mapping[str, Any]) -> None:
        pieces = split_at_attempts(answer) if self.marks else [(None, str(answer.get("data") or ""))]
        for attempt, text in pieces:
            if attempt is not None:
                self.out.flush()  # the output before the marker reaches the screen before it
                lead = "\n" if self.mid_line and self.same_screen else ""
                stderr.print(f"{lead}[dim]{escape(marker(attempt))}[/dim]")
                self.mid_line = False
            if text:
                self.out.write(text)
                self.mid_line = not text.endswith("\n")
        self.out.flush()


def _both_terminals(out: TextIO) -> bool:
    try:
        return out.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: nothing shares a screen with it
        return False

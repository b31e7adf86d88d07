"""`suanli logs`' printer: where an answer is cut at the attempts beginning in it, and the marker line
that starts on its own line when output and markers share a terminal."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

from suanli.cli.log_stream import LogPrinter, split_at_attempts

A1 = {"number": 1, "offset": 0, "site": "sh-a", "pool": "cpu"}
A2 = {"number": 2, "offset": 7, "site": "sh-b", "pool": "a100"}
A2_AT_3 = {**A2, "offset": 3}
MARKER_2 = "── attempt 2 on site sh-b, pool a100 ──"


def answer(data: str, offset: int, next_offset: int, *attempts: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": data,
        "offset": offset,
        "next_offset": next_offset,
        "complete": False,
        "attempts": list(attempts),
    }


@pytest.mark.parametrize(
    ("given", "pieces"),
    [
        ({"data": "hi\n", "offset": 0, "next_offset": 3}, [(None, "hi\n")]),  # a server without `attempts`
        (answer("hi\n", 0, 3, A1), [(None, "hi\n")]),  # the first attempt: nothing came before it
        (answer("epoch 1resuming\n", 0, 16, A1, A2), [(None, "epoch 1"), (A2, "resuming\n")]),
        (answer("resuming\n", 7, 16, A1, A2), [(A2, "resuming\n")]),  # begins where the answer does
        (answer("epoch 1", 0, 7, A1, A2), [(None, "epoch 1")]),  # begins in the next answer
        (answer("", 16, 16, A1, A2), []),
        (answer("ö\né\n", 0, 6, A1, A2_AT_3), [(None, "ö\n"), (A2_AT_3, "é\n")]),  # offsets are bytes
        # read from inside `ö`: the server's replacement character is longer than the byte it replaced
        (answer("\ufffd\né\n", 1, 6, A1, A2_AT_3), [(None, "\ufffd\n"), (A2_AT_3, "é\n")]),
    ],
)
def test_an_answer_is_cut_where_later_attempts_begin(given: dict[str, Any], pieces: list[Any]) -> None:
    assert split_at_attempts(given) == pieces


def test_on_one_terminal_a_marker_after_a_partial_line_starts_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)  # stdout and stderr on one screen, as in a terminal
    LogPrinter(screen, same_screen=True).write(answer("epoch 1resuming\n", 0, 16, A1, A2))
    assert screen.getvalue() == f"epoch 1\n{MARKER_2}\nresuming\n"


def test_piped_output_gets_no_extra_newline(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    printer = LogPrinter(out, same_screen=False)
    printer.write(answer("epoch 1", 0, 7, A1))
    printer.write(answer("resuming\n", 7, 16, A1, A2))
    assert (out.getvalue(), err.getvalue()) == ("epoch 1resuming\n", f"{MARKER_2}\n")


def test_a_marker_after_a_whole_line_needs_no_newline_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    LogPrinter(screen, same_screen=True).write(answer("step 1\nresuming\n", 0, 16, A1, A2))
    assert screen.getvalue() == f"step 1\n{MARKER_2}\nresuming\n"


def test_one_attempts_output_gets_no_markers(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    LogPrinter(out, marks=False, same_screen=True).write(answer("resuming\n", 0, 16, A1, A2))
    assert (out.getvalue(), err.getvalue()) == ("resuming\n", "")

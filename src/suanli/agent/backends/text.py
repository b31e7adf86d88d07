"""What every backend shares about attempt ids and job output.

- `ATTEMPT_ID`: the attempt ids a backend accepts (they name directories and engine jobs).
- `decoder()`: an incremental UTF-8 decoder for job output that writes one "?" per undecodable
  byte, and per NUL (which the server's database cannot store), so `len(text.encode())` stays
  equal to the bytes consumed and log offsets stay in bytes.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["ATTEMPT_ID", "decoder"]

ATTEMPT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_LOG_ERRORS = "suanli-log-replace"


def _replace_each_byte(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "?" * (exc.end - exc.start), exc.end


codecs.register_error(_LOG_ERRORS, _replace_each_byte)


class _LogDecoder(codecs.getincrementaldecoder("utf-8")):  # type: ignore[misc]
    def decode(self, data: bytes, final: bool = False) -> str:
        text: str = super().decode(data, final)
        return text.replace("\x00", "?")


def decoder() -> codecs.IncrementalDecoder:
    return _LogDecoder(_LOG_ERRORS)

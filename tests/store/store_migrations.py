"""One migration file loaded as a module, for tests that run its steps by hand."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from suanli.store.db import MIGRATIONS


def load_migration(stem: str) -> ModuleType:
    """`versions/<stem>.py` as a module (its `upgrade`, `downgrade` and helpers)."""
    spec = importlib.util.spec_from_file_location(
        f"migration_{stem[:4]}", MIGRATIONS / "versions" / f"{stem}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Loader for the Alibaba GPU cluster trace of 2023 (`openb_pod_list_*.csv`, Weng et al., ATC '23).

One row per pod (task): `name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos, pod_phase,
creation_time, deletion_time, scheduled_time`, times in seconds from the trace start (which the trace
does not date, so second 0 is 1970-01-01). How a pod becomes a rigid job:

| job field | pod column |
|---|---|
| `id`, `name` | `name` |
| `submit` | `creation_time` |
| `duration` | `deletion_time − scheduled_time` (the time it held its GPUs) |
| `gpus` | `num_gpu`; a GPU-sharing pod (`num_gpu` 1, `gpu_milli` < 1000) counts as 1 whole GPU |
| `model` | `gpu_spec` when set (`T4`, `V100M16|V100M32`: any of these), else any |
| `tenant` | `qos` (`LS`, `BE`, `Burstable`, `Guaranteed`): the file has no owner column |

The simulator's jobs are rigid and whole-GPU, so a pod asking for 0.46 of a GPU holds a whole one and
the replay overstates the load of GPU-sharing traces. Skipped and counted in `Trace.skipped`: CPU-only
pods (`num_gpu` 0) and pods never scheduled (`scheduled_time` empty: the `Pending` ones). The
`multigpuNN` variants carry no times at all and are refused. Pods still running when the trace ended
end at their `deletion_time` like the rest.
"""

from __future__ import annotations

import csv
from pathlib import Path

from suanli.sim.errors import TraceError
from suanli.sim.loaders.records import Cell, Skips, columns, finite, opened, seconds_text, up_to, whole
from suanli.sim.trace import EPOCH, MAX_DURATION_S, MAX_SPAN_S, Trace, TraceJob

__all__ = ["COLUMNS", "load_alibaba"]

COLUMNS = (
    "name",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)


def load_alibaba(path: Path, limit: int | None = None) -> Trace:
    """The GPU pods of an `openb_pod_list_*.csv` in file order; `limit` keeps only the first jobs."""
    jobs: list[TraceJob] = []
    skips = Skips()
    with opened(path) as handle:
        reader = csv.reader(handle)
        try:
            for line, cell in columns(
                path,
                reader,
                COLUMNS,
                f"the pod list's {', '.join(COLUMNS)} (the multigpuNN variants have no times and cannot be replayed)",
            ):
                if limit is not None and len(jobs) >= limit:
                    break
                job = _job(line, cell, skips)
                if job is not None:
                    jobs.append(job)
        except csv.Error as exc:
            raise TraceError(f"{path}:{reader.line_num + 1}: not a CSV text file: {exc}") from exc
    if not jobs:
        raise TraceError(f"{path}: no GPU jobs in the file")
    return Trace(str(path), EPOCH, tuple(jobs), skips.as_tuple())


def _job(line: int, cell: Cell, skips: Skips) -> TraceJob | None:
    gpus = whole(*cell["num_gpu"], "a whole number of GPUs (0 or more)")
    if gpus < 0:
        raise TraceError(f"{cell['num_gpu'][1]}: {cell['num_gpu'][0]!r} is not 0 or more GPUs")
    milli = whole(*cell["gpu_milli"], "thousandths of a GPU (0 to 1000)")
    if not 0 <= milli <= 1000:
        raise TraceError(f"{cell['gpu_milli'][1]}: {cell['gpu_milli'][0]!r} is not between 0 and 1000")
    if gpus == 0:
        skips.add("CPU only")
        return None
    submit = up_to(_seconds(cell, "creation_time"), *cell["creation_time"], "a creation time", MAX_SPAN_S)
    if not cell["scheduled_time"][0]:
        skips.add("never scheduled")
        return None
    if not cell["deletion_time"][0]:
        skips.add("no end time")
        return None
    scheduled, deleted = _seconds(cell, "scheduled_time"), _seconds(cell, "deletion_time")
    if deleted < scheduled:
        raise TraceError(
            f"{cell['deletion_time'][1]}: {cell['deletion_time'][0]!r} is before scheduled_time "
            f"{cell['scheduled_time'][0]!r}"
        )
    name, where_ = cell["name"]
    if not name:
        raise TraceError(f"{where_}: empty; every pod needs a name")
    duration = deleted - scheduled
    if duration > MAX_DURATION_S:
        raise TraceError(
            f"{cell['deletion_time'][1]}: {cell['deletion_time'][0]!r} ends the pod {duration:,.0f} seconds "
            f"after its scheduled_time; allowed up to {seconds_text(MAX_DURATION_S)}"
        )
    tenant = cell["qos"][0] or "unknown"
    model = cell["gpu_spec"][0] or None
    return TraceJob(name, submit, duration, gpus, tenant, None, model, name, line=line)


def _seconds(cell: Cell, name: str) -> float:
    text, place = cell[name]
    value = finite(text, place, "seconds from the trace start")
    if value < 0:
        raise TraceError(f"{place}: {text!r} is not 0 or more seconds from the trace start")
    return value

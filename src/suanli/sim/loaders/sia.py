"""Loader for the Sia workloads (`workload-*.csv`: `name,time,application,num_replicas,batch_size`).

The Sia artifact's job mixes (SOSP '23) name a training application, a replica count and a global
batch size, but no duration: a job there runs until it has trained its application to the end, and
how long that takes depends on the GPUs. This loader fixes the choices Sia leaves to its scheduler and
computes the run time of each job as a rigid job, from the per-GPU throughput profiles the artifact
ships (`sia-throughput-profiles/<application>/`):

1. GPU type: one profile suffix for the whole trace, `dgx` (DGX-A100, 8 per node) unless `gpu=`
   says `dgx-ext` (the same machines, more batch sizes profiled), `aws` (T4, 4 per node), `rtx`
   (RTX 2080Ti, 8), `quad` (Quadro RTX 6000, one node of 4) or `azure` (V100, 8).
2. Shape: `num_replicas` GPUs packed onto as few nodes as the profile's node size allows (the largest
   per-node count in its `placements` file), fullest first; 12 replicas on DGX nodes is `8+4`, written
   as Sia writes placements: the smallest rotation of the per-node counts, `48`.
3. Batch: `batch_size` as given. Each replica's share is `local = ⌈batch / replicas⌉`; when that is
   more than the largest local batch the profile measured for the shape, the replica accumulates
   gradients over `k = ⌈local / max_local⌉ − 1` extra micro-steps of `atomic = ⌈local / (k + 1)⌉`.
4. Step time: the profile's `step_time` and `sync_time` for the shape, linear in the local batch
   between the two nearest measured ones (`placements-<gpu>.csv`; a shape it lacks is looked up by
   node and replica count in `scalability-<gpu>.csv`); one iteration takes
   `step_time + k × (step_time − sync_time)` (accumulation repeats the compute, not the sync).
5. Iterations: what the application's validation curve at this batch size took to run Sia's epoch
   budget for it (`max_epochs`: bert 2, cifar10 100, deepspeech2 80, imagenet 90, ncf 10, yolov3 50),
   i.e. the `iteration` of the last budgeted row of `validation-<batch>.csv`, linear between the two
   nearest measured batch sizes.
6. Calibration: Sia slows each application's profiled throughput by a factor fitted to real runs
   (`SLOWDOWNS`: cifar10 1.8, ncf 1.5, the others 1.2), and so does this loader.
7. Duration = iterations × iteration time × slowdown: Sia's own estimate of a configuration's JCT
   (`Application.get_configurations`) with the batch size fixed instead of searched, calibrated as
   Sia calibrates its rigid jobs.

Sia's extra rule that a single replica above the initial batch size always accumulates is not applied.
The file has no tenant: the application name stands in for one. `time` is the submit time in seconds
(second 0 is 1970-01-01); `name` is the job's id and name. A row whose shape or batch size the profile
did not measure is skipped and counted. `profiles=` defaults to a `sia-throughput-profiles` folder
beside the trace or beside one of its parent folders, as in `/work/shared/traces/`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

from suanli.sim.errors import TraceError
from suanli.sim.loaders.records import Cell, Skips, columns, finite, opened, up_to, whole
from suanli.sim.trace import EPOCH, MAX_SPAN_S, Trace, TraceJob

__all__ = ["COLUMNS", "GPU_TYPES", "MAX_EPOCHS", "PROFILES_DIR", "SLOWDOWNS", "SiaApplication", "load_sia"]

COLUMNS = ("name", "time", "application", "num_replicas", "batch_size")
GPU_TYPES = ("dgx", "aws", "rtx", "quad", "azure", "dgx-ext")
PROFILES_DIR = "sia-throughput-profiles"
MAX_EPOCHS = {"bert": 2, "cifar10": 100, "deepspeech2": 80, "imagenet": 90, "ncf": 10, "yolov3": 50}
SLOWDOWNS = {"bert": 1.2, "cifar10": 1.8, "deepspeech2": 1.2, "imagenet": 1.2, "ncf": 1.5, "yolov3": 1.2}


class _Unmeasured(Exception):
    """The profile has no measurement for this shape or batch size (the row is skipped)."""


@dataclass(frozen=True)
class _Point:
    local_bsz: float
    step_time: float
    sync_time: float


def _interpolate(points: list[_Point], local: float) -> tuple[float, float]:
    """Step and sync time at `local`, linear between the nearest measured local batch sizes."""
    for low, high in pairwise(points):
        if low.local_bsz <= local <= high.local_bsz:
            if high.local_bsz == low.local_bsz:
                return low.step_time, low.sync_time
            f = (local - low.local_bsz) / (high.local_bsz - low.local_bsz)
            return (
                low.step_time + f * (high.step_time - low.step_time),
                low.sync_time + f * (high.sync_time - low.sync_time),
            )
    if len(points) == 1 and points[0].local_bsz == local:
        return points[0].step_time, points[0].sync_time
    raise _Unmeasured


class SiaApplication:
    """One application's profile on one GPU type: step times by shape, iterations by batch size."""

    def __init__(self, folder: Path, gpu: str) -> None:
        self.name = folder.name
        if self.name not in MAX_EPOCHS:
            raise TraceError(f"{folder}: no epoch budget for application {self.name!r}")
        self._placements: dict[str, list[_Point]] = {}
        for row in _csv_rows(folder / f"placements-{gpu}.csv"):
            self._placements.setdefault(row["placement"], []).append(_point(row))
        self._scalability: dict[tuple[int, int], list[_Point]] = {}
        for row in _csv_rows(folder / f"scalability-{gpu}.csv"):
            key = (int(row["num_nodes"]), int(row["num_replicas"]))
            self._scalability.setdefault(key, []).append(_point(row))
        for points in (*self._placements.values(), *self._scalability.values()):
            points.sort(key=lambda p: p.local_bsz)
        self.node_size = max(int(d) for p in self._placements for d in p)
        epoch = MAX_EPOCHS[self.name] - 1
        self._iterations: dict[int, float] = {}
        for path in folder.glob("validation-*.csv"):
            rows = list(_csv_rows(path))
            if len(rows) <= epoch:
                raise TraceError(f"{path}: {len(rows)} epochs; {self.name} needs {epoch + 1}")
            self._iterations[int(path.stem.split("-")[-1])] = float(rows[epoch]["iteration"])

    def placement(self, replicas: int) -> str:
        """Replicas packed fullest-first on nodes, as the smallest rotation of per-node counts (`48`)."""
        counts = [self.node_size] * (replicas // self.node_size)
        if replicas % self.node_size:
            counts.append(replicas % self.node_size)
        rotations = (counts[i:] + counts[:i] for i in range(len(counts)))
        return "".join(str(c) for c in min(rotations))

    def iterations(self, batch: int) -> float:
        """Iterations to run the epoch budget at global batch size `batch`."""
        sizes = sorted(self._iterations)
        if batch in self._iterations:
            return self._iterations[batch]
        for low, high in pairwise(sizes):
            if low < batch < high:
                f = (batch - low) / (high - low)
                return self._iterations[low] + f * (self._iterations[high] - self._iterations[low])
        raise _Unmeasured

    def iteration_time(self, replicas: int, batch: int) -> float:
        """Seconds per iteration of `batch` samples on `replicas` GPUs, accumulation included."""
        placement = self.placement(replicas)
        points = self._placements.get(placement)
        if points is None:
            points = self._scalability.get((len(placement), replicas))
        if not points:
            raise _Unmeasured
        local = math.ceil(batch / replicas)
        extra = math.ceil(local / points[-1].local_bsz) - 1
        atomic = math.ceil(local / (extra + 1))
        step, sync = _interpolate(points, atomic)
        return step + extra * (step - sync)

    def duration(self, replicas: int, batch: int) -> float:
        """Seconds to train to the epoch budget, calibrated by Sia's slowdown for the application."""
        return self.iterations(batch) * self.iteration_time(replicas, batch) * SLOWDOWNS[self.name]


def load_sia(
    path: Path, limit: int | None = None, *, gpu: str = "dgx", profiles: Path | None = None
) -> Trace:
    """The jobs of a Sia `workload-*.csv`, durations computed on `gpu` (see the module docstring)."""
    if gpu not in GPU_TYPES:
        raise TraceError(f"unknown Sia GPU type {gpu!r}; known: {', '.join(GPU_TYPES)}")
    folder = profiles if profiles is not None else _find_profiles(path)
    jobs: list[TraceJob] = []
    skips = Skips()
    with opened(path) as handle:
        reader = csv.reader(handle)
        try:
            for line, cell in columns(path, reader, COLUMNS, ",".join(COLUMNS)):
                if limit is not None and len(jobs) >= limit:
                    break
                job = _job(line, cell, folder, gpu, skips)
                if job is not None:
                    jobs.append(job)
        except csv.Error as exc:
            raise TraceError(f"{path}:{reader.line_num + 1}: not a CSV text file: {exc}") from exc
    if not jobs:
        raise TraceError(f"{path}: no jobs in the file")
    return Trace(str(path), EPOCH, tuple(jobs), skips.as_tuple())


def _job(line: int, cell: Cell, folder: Path, gpu: str, skips: Skips) -> TraceJob | None:
    name, place = cell["name"]
    if not name:
        raise TraceError(f"{place}: empty; every job needs a name")
    submit = finite(*cell["time"], "seconds from the trace start")
    if submit < 0:
        raise TraceError(f"{cell['time'][1]}: {cell['time'][0]!r} is not 0 or more seconds")
    up_to(submit, *cell["time"], "a submit time", MAX_SPAN_S)
    application, place = cell["application"]
    if application not in MAX_EPOCHS:
        raise TraceError(f"{place}: {application!r} is not one of {', '.join(sorted(MAX_EPOCHS))}")
    replicas = whole(*cell["num_replicas"], "a whole number of replicas (1 or more)")
    batch = whole(*cell["batch_size"], "a whole batch size (1 or more)")
    for value, key in ((replicas, "num_replicas"), (batch, "batch_size")):
        if value < 1:
            raise TraceError(f"{cell[key][1]}: {cell[key][0]!r} is not 1 or more")
    try:
        duration = _application(folder, application, gpu).duration(replicas, batch)
    except _Unmeasured:
        skips.add(f"shape or batch size not in the {gpu} profile")
        return None
    return TraceJob(name, submit, duration, replicas, application, None, None, name, line=line)


@cache
def _application(folder: Path, application: str, gpu: str) -> SiaApplication:
    return SiaApplication(folder / application, gpu)


def _find_profiles(trace: Path) -> Path:
    for parent in trace.resolve().parents:
        candidate = parent / PROFILES_DIR
        if candidate.is_dir():
            return candidate
    raise TraceError(
        f"{trace}: no {PROFILES_DIR}/ folder beside the trace or its parent folders; "
        "the Sia loader needs the artifact's throughput profiles to compute durations"
    )


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with opened(path) as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if row:
                yield row


def _point(row: dict[str, str]) -> _Point:
    return _Point(float(row["local_bsz"]), float(row["step_time"]), float(row["sync_time"]))

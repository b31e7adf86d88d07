"""Translations between suanli and Slurm, all pure: cluster nodes → pool offers, a launch → an
`sbatch` submission (arguments and batch script), and a Slurm job state → an attempt state.

Pools: one per partition × GPU type. A partition with one kind of node is offered under its own name
(`debug`); a partition with several kinds gets one pool per kind, `<partition>-<gputype>` (`cpu` for
nodes without GPUs, `gpu` for untyped GPUs). A pool's nodes are those in a usable state; its shape is
the smallest of them (CPUs, memory, GPUs), so any node fits what is placed on the pool.

Accelerator model of a pool, first that applies: the gres type (`gpu:a100:4` → `A100`; the server
canonicalises catalog names), the `gpu_model` option (`A100` for every partition, or
`debug:A100,big:H100`), the model of a declared `--pool` with the same name, else `GPU`.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.agent.backends.base import AttemptState, Launch, PoolOffer
from suanli.agent.backends.slurm_cli import NodeRow

__all__ = [
    "JOB_PREFIX",
    "SlurmPool",
    "attempt_of",
    "batch_args",
    "batch_script",
    "job_name",
    "never_runs",
    "outcome",
    "parse_gpu_models",
    "pools_from_nodes",
    "time_limit_minutes",
]

JOB_PREFIX = "suanli-"
UNTYPED_MODEL = "GPU"
_UNUSABLE = re.compile(r"down|drain|fail|inval|maint|unk|future|reboot|power", re.I)
_LIVE = {
    "PENDING": AttemptState.STARTING,
    "CONFIGURING": AttemptState.STARTING,
    "REQUEUED": AttemptState.STARTING,
    "REQUEUE_HOLD": AttemptState.STARTING,
    "REQUEUE_FED": AttemptState.STARTING,
    "RESV_DEL_HOLD": AttemptState.STARTING,
    "RUNNING": AttemptState.RUNNING,
    "COMPLETING": AttemptState.RUNNING,
    "SUSPENDED": AttemptState.RUNNING,
    "STOPPED": AttemptState.RUNNING,
    "SIGNALING": AttemptState.RUNNING,
    "STAGE_OUT": AttemptState.RUNNING,
    "RESIZING": AttemptState.RUNNING,
}
# Reasons a pending job keeps until an administrator changes the cluster (Slurm's default
# EnforcePartLimits=NO accepts such jobs and leaves them PENDING): the attempt fails instead of
# holding the pool's capacity in the server's books forever.
_NEVER_RUNS = {
    "PartitionTimeLimit": "its time limit is above the partition's MaxTime",
    "PartitionNodeLimit": "its node count is outside the partition's limits",
    "BadConstraints": "its constraints cannot be satisfied",
    "InvalidAccount": "its account is invalid",
    "InvalidQOS": "its QOS is invalid",
}
_FAILED_REASONS = {
    "OUT_OF_MEMORY": "out of memory",
    "NODE_FAIL": "node failure",
    "BOOT_FAIL": "node boot failure",
    "DEADLINE": "deadline reached",
    "PREEMPTED": "preempted by Slurm",
    "REVOKED": "revoked by Slurm",
    "SPECIAL_EXIT": "special exit",
}


@dataclass(frozen=True)
class SlurmPool:
    """A pool offer and where its jobs go: the partition and the gres type (None when untyped)."""

    offer: PoolOffer
    partition: str
    gpu_type: str | None


def job_name(attempt_id: str) -> str:
    return f"{JOB_PREFIX}{attempt_id}"


def attempt_of(name: str) -> str | None:
    return name[len(JOB_PREFIX) :] if name.startswith(JOB_PREFIX) and len(name) > len(JOB_PREFIX) else None


def parse_gpu_models(option: str | None) -> dict[str | None, str]:
    """`A100` → every partition; `debug:A100,big:H100` → per partition (key None: every partition)."""
    models: dict[str | None, str] = {}
    for item in filter(None, (part.strip() for part in (option or "").split(","))):
        partition, sep, model = item.rpartition(":")
        models[partition if sep else None] = model
    return models


def pools_from_nodes(
    nodes: Iterable[NodeRow],
    partitions: Sequence[str] = (),
    gpu_models: Mapping[str | None, str] | None = None,
    declared: Mapping[str, str | None] | None = None,
) -> list[SlurmPool]:
    """The site's pools from `sinfo -N` rows (see the module docstring); `partitions` restricts."""
    groups: dict[tuple[str, str | None, bool], list[tuple[NodeRow, int]]] = {}
    for row in nodes:
        if partitions and row.partition not in partitions:
            continue
        kinds: list[tuple[str | None, int]] = list(row.gpus.items()) or [(None, 0)]
        for gpu_type, count in kinds:
            groups.setdefault((row.partition, gpu_type, count > 0), []).append((row, count))
    per_partition: dict[str, int] = {}
    for partition, _, _ in groups:
        per_partition[partition] = per_partition.get(partition, 0) + 1
    pools = []
    for (partition, gpu_type, has_gpus), members in sorted(groups.items(), key=lambda g: str(g[0])):
        usable = [(row, count) for row, count in members if not _UNUSABLE.search(row.state)] or members
        name = _pool_name(partition, gpu_type, has_gpus, per_partition[partition] > 1)
        model = _model(partition, name, gpu_type, gpu_models or {}, declared or {}) if has_gpus else None
        offer = PoolOffer(
            name=name,
            accelerator=model,
            accelerators_per_node=min(count for _, count in usable),
            nodes=sum(1 for row, _ in usable if not _UNUSABLE.search(row.state)),
            cpus_per_node=min(row.cpus for row, _ in usable),
            memory_mib_per_node=min(row.memory_mib for row, _ in usable),
            max_runtime_s=_limit(row.time_limit_s for row, _ in usable),
        )
        pools.append(SlurmPool(offer, partition, gpu_type))
    return pools


def _limit(limits: Iterable[int | None]) -> int | None:
    """The pool's limit on one run: its partition's (the same on every node row); the smallest if not."""
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def _pool_name(partition: str, gpu_type: str | None, has_gpus: bool, split: bool) -> str:
    name = partition if not split else f"{partition}-{gpu_type or ('gpu' if has_gpus else 'cpu')}"
    return re.sub(r"[^a-z0-9_-]", "-", name.lower()).strip("-") or "slurm"


def _model(
    partition: str,
    name: str,
    gpu_type: str | None,
    gpu_models: Mapping[str | None, str],
    declared: Mapping[str, str | None],
) -> str:
    if gpu_type:
        return gpu_type.upper()
    return gpu_models.get(partition) or gpu_models.get(None) or declared.get(name) or UNTYPED_MODEL


def time_limit_minutes(max_runtime_s: float | None) -> int | None:
    """Slurm counts whole minutes: round up, at least 1."""
    return None if max_runtime_s is None else max(1, math.ceil(max_runtime_s / 60))


def batch_args(launch: Launch, pool: SlurmPool, directory: Path, output: Path) -> list[str]:
    """`sbatch` options for a launch (the script path is added by the caller)."""
    alloc = launch.allocation
    args = [
        f"--job-name={job_name(launch.attempt_id)}",
        f"--comment={launch.attempt_id}",
        f"--partition={pool.partition}",
        f"--nodes={max(1, len(alloc.nodes))}",
        "--ntasks-per-node=1",
        f"--cpus-per-task={max(1, alloc.cpus_per_node)}",
        f"--mem={max(1, alloc.memory_mib_per_node)}M",
        f"--output={output}",
        f"--error={output}",
        f"--chdir={directory}",
    ]
    if alloc.accelerators_per_node > 0:
        kind = f"{pool.gpu_type}:" if pool.gpu_type else ""
        args.append(f"--gres=gpu:{kind}{alloc.accelerators_per_node}")
    minutes = time_limit_minutes(_max_runtime(launch.spec))
    if minutes is not None:
        args.append(f"--time={minutes}")
    return args


def batch_script(launch: Launch, control: Path, cwd: Path) -> str:
    """The job's script: its env, then setup (`set -e`; a failure fails the job), then run.

    `<control>/phase` records how far it got, so that a failure can say it was the setup.
    """
    spec = launch.spec
    env: dict[str, str] = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    env.update(
        SUANLI_JOB_ID=launch.job_id,
        SUANLI_ATTEMPT=str(launch.attempt),
        SUANLI_ATTEMPT_ID=launch.attempt_id,
    )
    lines = ["#!/bin/bash", f"# suanli attempt {launch.attempt_id}, written by the Slurm backend"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items() if _env_key(key)]
    if launch.allocation.accelerators_per_node == 0:
        lines.append("export CUDA_VISIBLE_DEVICES=")  # Slurm sets it only for gres jobs
    phase = shlex.quote(str(control / "phase"))
    lines += [f"mkdir -p {shlex.quote(str(cwd))} && cd {shlex.quote(str(cwd))} || exit 1"]
    if spec.get("setup"):
        lines += [f"echo setup > {phase}", f"bash -e -c {shlex.quote(str(spec['setup']))} || exit $?"]
    lines += [f"echo run > {phase}", f"exec bash -c {shlex.quote(str(spec['run']))}", ""]
    return "\n".join(lines)


def outcome(
    state: str, reason: str, exit_code: int | None, signal: int | None, phase: str | None
) -> tuple[AttemptState, int | None, str | None]:
    """Our state, exit code and reason for a Slurm job state (`COMPLETED`, `TIMEOUT`, ...)."""
    word = state.split()[0].rstrip("+") if state else "UNKNOWN"
    if never_runs(state, reason):
        return AttemptState.FAILED, None, f"Slurm will not run it: {reason} ({_NEVER_RUNS[reason]})"
    if word in _LIVE:
        note = f"Slurm {word.lower()}: {reason}" if word.startswith("REQUEUE") else None
        return _LIVE[word], None, note
    code = exit_code if not signal else 128 + signal
    if word == "COMPLETED" and exit_code == 0:
        return AttemptState.SUCCEEDED, 0, None
    if word == "CANCELLED":
        return AttemptState.CANCELLED, code, "cancelled in Slurm"
    if word == "TIMEOUT":
        return AttemptState.FAILED, code, "max_runtime exceeded (Slurm time limit)"
    if word in _FAILED_REASONS:
        return AttemptState.FAILED, code, _FAILED_REASONS[word]
    if word in ("FAILED", "COMPLETED"):
        why = f"killed by signal {signal}" if signal else f"exit code {exit_code}"
        return AttemptState.FAILED, code, f"setup failed: {why}" if phase == "setup" else why
    return AttemptState.FAILED, code, f"Slurm job state {state}" + (f" ({reason})" if reason else "")


def never_runs(state: str, reason: str) -> bool:
    """A pending job that Slurm will not start as the cluster is configured (see `_NEVER_RUNS`)."""
    return state.startswith("PENDING") and reason in _NEVER_RUNS


def _max_runtime(spec: Mapping[str, Any]) -> float | None:
    resources = spec.get("resources") or {}
    limit = resources.get("max_runtime_s") if isinstance(resources, Mapping) else None
    return float(limit) if limit is not None else None


def _env_key(key: str) -> bool:
    return re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) is not None

"""Translations between suanli and Ray, all pure: cluster nodes → pool offers, a launch → a Jobs API
submission, a Ray job status → an attempt state, and Ray's log text → the job's own output.

Pools: one per accelerator kind and model. An accelerator is one of the resources named by the
`accelerator` option (default `GPU`; e.g. `GPU,fake_gpu:A100` also counts a custom resource). A node
belongs to the pool of the first accelerator it has, else to `cpu`. Pool names: `gpu`, or the custom
resource's name lowercased (`fake_gpu`), with `-<model>` when one resource has several models. A
pool's nodes are the ALIVE ones; its shape is the smallest of them, so any node fits what is placed.

Accelerator model, first that applies: the node's `accelerator_type:<MODEL>` resource (Ray sets it
for real GPUs), the model given with the resource (`fake_gpu:A100`), the `gpu_model` option, the
model of a declared `--pool` with the same name, else `GPU`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from suanli.agent.backends.base import AttemptState, Launch, PoolOffer, launch_from_json, launch_json
from suanli.agent.backends.ray_api import RayNode, Submission

__all__ = [
    "LAUNCH_KEY",
    "OWNER_KEY",
    "SETUP_FAILED",
    "Accelerator",
    "RayPool",
    "job_output",
    "launch_of",
    "outcome",
    "parse_accelerators",
    "pools_from_nodes",
    "submission",
]

OWNER_KEY = "suanli.owner"  # metadata: which agent (state dir) submitted the job
LAUNCH_KEY = "suanli.launch"  # metadata: the launch as JSON, so a new agent can report it again
SETUP_FAILED = "suanli: setup failed with exit code"
UNTYPED_MODEL = "GPU"
_MIB = 1024 * 1024
_ACCELERATOR_TYPE = "accelerator_type:"
_EXIT_IN_MESSAGE = re.compile(r"exit code (-?\d+)")
_SETUP_IN_LOGS = re.compile(re.escape(SETUP_FAILED) + r" (\d+)")
_LIVE = {"PENDING": AttemptState.STARTING, "RUNNING": AttemptState.RUNNING}


@dataclass(frozen=True)
class Accelerator:
    """A Ray resource that counts as an accelerator, and its model when the option names one."""

    resource: str
    model: str | None = None


@dataclass(frozen=True)
class RayPool:
    """A pool offer and the Ray resource its accelerators are asked for as (None: CPU only)."""

    offer: PoolOffer
    resource: str | None


def parse_accelerators(option: str | None) -> tuple[Accelerator, ...]:
    """`GPU` (default), `GPU,fake_gpu:A100`, `TPU:v5e` → the resources that count as accelerators."""
    found = []
    for item in filter(None, (part.strip() for part in (option or "GPU").split(","))):
        resource, sep, model = item.partition(":")
        found.append(Accelerator(resource, model if sep and model else None))
    return tuple(found)


def pools_from_nodes(
    nodes: Iterable[RayNode],
    accelerators: Sequence[Accelerator] = (Accelerator("GPU"),),
    gpu_model: str | None = None,
    declared: Mapping[str, str | None] | None = None,
) -> list[RayPool]:
    """The site's pools from the cluster's nodes (see the module docstring)."""
    groups: dict[tuple[str | None, str | None], list[tuple[RayNode, int]]] = {}
    for node in nodes:
        if node.state.upper() != "ALIVE":
            continue
        kind, model, count = None, None, 0
        for accelerator in accelerators:
            count = int(node.resources.get(accelerator.resource, 0))
            if count > 0:
                kind, model = accelerator.resource, _node_model(node, accelerator, gpu_model)
                break
        groups.setdefault((kind, model), []).append((node, count if kind else 0))
    per_kind: dict[str | None, int] = {}
    for kind, _ in groups:
        per_kind[kind] = per_kind.get(kind, 0) + 1
    pools = []
    for (kind, model), members in sorted(groups.items(), key=lambda g: (str(g[0][0]), str(g[0][1]))):
        name = _pool_name(kind, model, per_kind[kind] > 1)
        shown: str | None = None
        if kind is not None:
            shown = model or (declared or {}).get(name) or UNTYPED_MODEL
        offer = PoolOffer(
            name=name,
            accelerator=shown,
            accelerators_per_node=min(count for _, count in members),
            nodes=len(members),
            cpus_per_node=min(int(node.resources.get("CPU", 0)) for node, _ in members),
            memory_mib_per_node=min(int(node.resources.get("memory", 0) // _MIB) for node, _ in members),
        )
        pools.append(RayPool(offer, kind))
    return pools


def _node_model(node: RayNode, accelerator: Accelerator, gpu_model: str | None) -> str | None:
    if accelerator.model:
        return accelerator.model
    if accelerator.resource == "GPU":
        typed = sorted(
            key[len(_ACCELERATOR_TYPE) :] for key in node.resources if key.startswith(_ACCELERATOR_TYPE)
        )
        if typed:
            return typed[0].upper()
    return gpu_model


def _pool_name(kind: str | None, model: str | None, split: bool) -> str:
    base = "cpu" if kind is None else kind.lower()
    name = f"{base}-{model.lower()}" if split and model else base
    return re.sub(r"[^a-z0-9_-]", "-", name).strip("-") or "ray"


def submission(launch: Launch, pool: RayPool, owner: str) -> Submission:
    """The Jobs API submission of a launch: one entrypoint on one node, with the attempt's share."""
    alloc = launch.allocation
    count = alloc.accelerators_per_node
    gpus = float(count) if pool.resource == "GPU" else 0.0
    resources = {pool.resource: float(count)} if pool.resource not in (None, "GPU") and count else {}
    return Submission(
        submission_id=launch.attempt_id,
        entrypoint=entrypoint(launch),
        num_cpus=float(max(0, alloc.cpus_per_node)),
        num_gpus=gpus,
        memory_bytes=max(0, alloc.memory_mib_per_node) * _MIB,
        resources=resources,
        env_vars=_env(launch),
        metadata={OWNER_KEY: owner, LAUNCH_KEY: json.dumps(launch_json(launch), separators=(",", ":"))},
    )


def entrypoint(launch: Launch) -> str:
    """`bash -c SCRIPT`: into the working directory, setup (`set -e`; a failure prints SETUP_FAILED
    and fails the job with its exit code), then run in place of the shell.

    A relative `workdir` is under a per-attempt directory in the node's temp dir; an absolute one is
    used as it is. The env comes through the runtime env (`env_vars`), not the script.
    """
    spec = launch.spec
    base = f"${{TMPDIR:-/tmp}}/suanli/{launch.attempt_id}"
    workdir = str(spec.get("workdir") or "")
    cwd = (
        shlex.quote(workdir)
        if workdir.startswith("/")
        else f'"{base}"' + (f"/{shlex.quote(workdir)}" if workdir else "")
    )
    lines = [f"mkdir -p {cwd} && cd {cwd} || exit 1"]
    if launch.allocation.accelerators_per_node == 0:
        lines.append("export CUDA_VISIBLE_DEVICES=")  # no GPUs were given to this attempt
    if spec.get("setup"):
        setup = shlex.quote(str(spec["setup"]))
        lines.append(f'bash -e -c {setup} || {{ rc=$?; echo "{SETUP_FAILED} $rc" >&2; exit $rc; }}')
    lines.append(f"exec bash -c {shlex.quote(str(spec['run']))}")
    return "bash -c " + shlex.quote("\n".join(lines))


def _env(launch: Launch) -> dict[str, str]:
    env = {str(k): str(v) for k, v in (launch.spec.get("env") or {}).items()}
    env.update(
        SUANLI_JOB_ID=launch.job_id,
        SUANLI_ATTEMPT=str(launch.attempt),
        SUANLI_ATTEMPT_ID=launch.attempt_id,
    )
    return env


def launch_of(metadata: Mapping[str, str], owner: str) -> Launch | None:
    """The launch a job was submitted for, when this owner submitted it; else None."""
    if metadata.get(OWNER_KEY) != owner:
        return None
    try:
        return launch_from_json(json.loads(metadata[LAUNCH_KEY]))
    except (KeyError, ValueError):
        return None


def outcome(status: str, message: str, exit_code: int | None) -> tuple[AttemptState, int | None, str | None]:
    """Our state, exit code and reason for a Ray job status and message."""
    word = status.upper()
    if word in _LIVE:
        return _LIVE[word], None, None
    if word == "SUCCEEDED":
        return AttemptState.SUCCEEDED, 0, None
    if word == "STOPPED":
        return AttemptState.CANCELLED, exit_code, "stopped in Ray"
    if word == "FAILED":
        setup = _SETUP_IN_LOGS.search(message)
        found = _EXIT_IN_MESSAGE.search(message)
        code = exit_code if exit_code is not None else int(found.group(1)) if found else None
        if setup:
            return AttemptState.FAILED, code, f"setup failed: exit code {setup.group(1)}"
        if code is not None and "entrypoint command failed" in message.lower():
            return AttemptState.FAILED, code, _exit_reason(code)
        first = message.strip().splitlines()[0] if message.strip() else "no reason given"
        return AttemptState.FAILED, code, f"Ray: {first}"
    return AttemptState.FAILED, exit_code, f"Ray job status {status}" + (f" ({message})" if message else "")


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit code {code}"


def job_output(logs: str, submission_id: str, entrypoint_text: str) -> str:
    """The job's own output from Ray's job log, which mixes in its job manager's lines
    (`… INFO job_manager.py:… -- …`) and `Running entrypoint for job ID: ENTRYPOINT`.

    Those are dropped wherever they are: Ray writes the entrypoint line when its logger flushes,
    often after the job's first lines (seen with Ray 2.60: for a job printing at once, after all of
    its output), so the text before it is output too, less the manager's lines. Only ever grows as
    the log does (the agent sends it by byte offset): while the entrypoint line is not there yet,
    an incomplete last line is held back, and from the start of a half-written entrypoint line on,
    everything is. If the line there is not the one expected (Ray's format changed), nothing more
    is dropped than the manager's lines."""
    head = f"Running entrypoint for job {submission_id}: "
    marker = f"{head}{entrypoint_text}\n"
    at = logs.find(marker)
    if at >= 0:
        return _without_manager_lines(logs[:at]) + logs[at + len(marker) :]
    at = logs.find(head)
    if at >= 0:
        whole = not marker.startswith(logs[at:])  # not a half-written entrypoint line: keep it
        return _without_manager_lines(logs if whole else logs[:at])
    complete = logs[: logs.rfind("\n") + 1]  # an incomplete last line may be the entrypoint's start
    return _without_manager_lines(complete)


def _without_manager_lines(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if " job_manager.py:" not in line)

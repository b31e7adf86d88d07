"""The proving ground: trace loaders and a discrete-event simulator that drives policies, ours included.

Pure: no network, no database. `simulate(trace, gpus, make_policy(name, trace, gpus))` replays a trace;
`summarize` turns the run into figures; `report` lays them out.
"""

from suanli.sim import policies
from suanli.sim.engine import JobOutcome, Progress, Run, simulate
from suanli.sim.errors import SimError, SimulationError, TraceError
from suanli.sim.loaders import FORMATS, load_trace
from suanli.sim.metrics import Summary, bounded_slowdown, jain_index, percentile, summarize
from suanli.sim.policies import BASELINES
from suanli.sim.policy import Decision, Policy, PoolState, make_policy, policy_names, register_policy
from suanli.sim.trace import Trace, TraceJob

__all__ = [
    "BASELINES",
    "FORMATS",
    "Decision",
    "JobOutcome",
    "Policy",
    "PoolState",
    "Progress",
    "Run",
    "SimError",
    "SimulationError",
    "Summary",
    "Trace",
    "TraceError",
    "TraceJob",
    "bounded_slowdown",
    "jain_index",
    "load_trace",
    "make_policy",
    "percentile",
    "policies",
    "policy_names",
    "register_policy",
    "simulate",
    "summarize",
]

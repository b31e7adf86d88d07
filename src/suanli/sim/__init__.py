"""The proving ground: trace loaders and a discrete-event simulator that drives policies, ours included.

Pure: no sockets, no database. `simulate(trace, network, make_policy(name, trace, network))` replays a
trace on a network of GPU pools (`load_network(path)`, or an int: one pool of that many GPUs);
`summarize` turns the run into figures; `report` lays them out.
"""

from suanli.sim import policies
from suanli.sim.engine import Holds, JobOutcome, Progress, Run, simulate
from suanli.sim.errors import JobTooWide, NetworkError, SimError, SimulationError, TraceError
from suanli.sim.loaders import FORMATS, load_trace
from suanli.sim.metrics import Summary, bounded_slowdown, jain_index, percentile, summarize
from suanli.sim.network import Network, Pool, load_network, parse_network
from suanli.sim.policies import BASELINES
from suanli.sim.policy import Decision, Policy, PoolState, make_policy, policy_names, register_policy
from suanli.sim.trace import Trace, TraceJob

__all__ = [
    "BASELINES",
    "FORMATS",
    "Decision",
    "Holds",
    "JobOutcome",
    "JobTooWide",
    "Network",
    "NetworkError",
    "Policy",
    "Pool",
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
    "load_network",
    "load_trace",
    "make_policy",
    "parse_network",
    "percentile",
    "policies",
    "policy_names",
    "register_policy",
    "simulate",
    "summarize",
]

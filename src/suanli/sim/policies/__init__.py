"""The built-in policies; importing this package registers them by name."""

from suanli.sim.policies import easy, fifo, las, service, sjf, suanli

__all__ = ["BASELINES", "easy", "fifo", "las", "service", "sjf", "suanli"]

BASELINES = ("fifo", "easy", "sjf", "las")
"""The reference baselines, in the order tables show them."""

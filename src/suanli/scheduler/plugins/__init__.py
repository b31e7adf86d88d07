"""The built-in placement plugins; importing this package registers them by name."""

from suanli.scheduler.plugins import accelerator, capacity, constraints, lost_sites, online, shape, waste

__all__ = ["accelerator", "capacity", "constraints", "lost_sites", "online", "shape", "waste"]

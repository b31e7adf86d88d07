"""The built-in placement plugins; importing this package registers them by name."""

from suanli.scheduler.plugins import (
    accelerator,
    capacity,
    carbon,
    constraints,
    cost,
    fragmentation,
    funds,
    locality,
    lost_sites,
    online,
    price_cap,
    quota,
    runtime_limit,
    shape,
    speed,
    waste,
)

__all__ = [
    "accelerator",
    "capacity",
    "carbon",
    "constraints",
    "cost",
    "fragmentation",
    "funds",
    "locality",
    "lost_sites",
    "online",
    "price_cap",
    "quota",
    "runtime_limit",
    "shape",
    "speed",
    "waste",
]

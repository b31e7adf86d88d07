"""The control plane's loops and operations: scheduling cycle and applier, leases, sync, accounts."""

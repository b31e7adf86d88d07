"""Pure domain values: resources, the accelerator catalog, the job spec, state machines, tokens."""

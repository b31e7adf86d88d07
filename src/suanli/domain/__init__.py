"""Pure domain values: ids, resources, accelerator catalog, job spec, state machines."""

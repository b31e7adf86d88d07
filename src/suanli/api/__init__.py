"""The HTTP API: schemas, routes, auth, and the one error → HTTP mapping."""

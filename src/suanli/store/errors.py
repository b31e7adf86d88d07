"""The store's exception tree; the API maps these to HTTP in one place."""


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    """No such object (or not one the caller may see)."""


class Conflict(StoreError):
    """A uniqueness or concurrency conflict: the object exists or changed under us."""


class Unavailable(StoreError):
    """The database cannot be reached or is locked for too long."""

"""Persistence: tables, repositories, migrations. The only package that imports SQLAlchemy."""

from suanli.store.db import Database, shown_url, sqlite_url
from suanli.store.errors import Conflict, NotFound, StoreError, Unavailable
from suanli.store.sites import PoolOffer
from suanli.store.tx import Tx

__all__ = [
    "Conflict",
    "Database",
    "NotFound",
    "PoolOffer",
    "StoreError",
    "Tx",
    "Unavailable",
    "shown_url",
    "sqlite_url",
]

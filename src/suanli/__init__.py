"""suanli: an open computing power network."""

__version__ = "0.1.0"

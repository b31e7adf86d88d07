"""The engines an agent runs attempts on, each behind the one `Backend` Protocol in `base.py`."""

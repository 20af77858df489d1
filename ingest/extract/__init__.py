"""The extract stage: HTML -> Document + Fingerprint, in worker processes (see pool.py)."""
from .pool import ExtractPool
from .worker import extract

__all__ = ["ExtractPool", "extract"]

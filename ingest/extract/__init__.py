"""The extract stage: Page -> Document + Fingerprint, in worker processes (see pool.py).

`worker.py` is never imported by the main process (trafilatura, lxml and numpy load in the
workers only): the pool sends its functions by name.
"""
from .pool import ExtractPool

__all__ = ["ExtractPool"]

"""The extract stage: HTML -> Document + Fingerprint, in worker processes (see pool.py).

`extract` is loaded on first use: importing the package (the pipeline does, for the pool)
must not import trafilatura into the main process, which never extracts.
"""
from .pool import ExtractPool

__all__ = ["ExtractPool", "extract"]


def __getattr__(name: str):
    if name == "extract":
        from .worker import extract

        return extract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

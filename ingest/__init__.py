"""ingest: collect news coverage from feeds, keep every version, flag copies."""
from .api import open  # noqa: F401,A001 - ingest.open(path) -> Store, see ingest/api.py

__all__ = ["open"]  # `from ingest import *` gives ingest.open only where asked for by name

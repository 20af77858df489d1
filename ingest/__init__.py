"""ingest: collect news coverage from feeds, keep every version, flag copies."""
from .read.api import open  # noqa: A004 - ingest.open(path) -> Store, see ingest/read/api.py

__all__ = ["open"]  # `from ingest import *` gives ingest.open only where asked for by name

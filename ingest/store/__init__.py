"""The store stage: one SQLite file, one writer. See ingest/store/writer.py."""
from .db import connect, open_db

__all__ = ["connect", "open_db"]

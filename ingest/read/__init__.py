"""The read side: export, Datasette serving and the analyst views (docs/reading.md).

Everything here opens the database read-only; the views it reads are migration 4 in
ingest/store/schema.py. Submodules are imported on use (pyarrow and datasette are heavy).
"""

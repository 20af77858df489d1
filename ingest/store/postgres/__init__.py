"""The PostgreSQL backend of the store, for teams: several daemons and backfills on one corpus.

It reuses the entity modules of store/sqlite/ (their SQL is the one both databases speak) over
a psycopg connection shaped like sqlite3's (connection.py), with its own schema (schema.py) and
a writer that keeps the single writer's invariants when many processes write (writer.py).
"""

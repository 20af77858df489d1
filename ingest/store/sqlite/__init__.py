"""The SQLite backend of the store: service.py is the door, writer.py the thread-owned connection."""

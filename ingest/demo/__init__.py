"""`ingest demo`: a generated news world on 127.0.0.1 and a run of the pipeline over it."""

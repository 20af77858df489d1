"""Benchmarks: `python -m bench.analysis` (docs/analysis.md)."""

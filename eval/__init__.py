"""Evaluation against real texts in ../shared/corpora (read at run time, never copied)."""

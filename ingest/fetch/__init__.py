"""The fetch stage: URL in, Page | NotModified | FetchFailure out. See docs/fetching.md."""
from .fetcher import Fetcher

__all__ = ["Fetcher"]

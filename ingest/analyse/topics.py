"""Topic filter: which configured topics a piece of text is about.

Keywords are case-insensitive regular expressions matched on word boundaries, so
`denucleari[sz]ation` and `Kim Jong[ -]?Un` work as written in config.yaml.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.config import TopicConfig


@dataclass(frozen=True)
class TopicMatcher:
    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_config(cls, topics: list[TopicConfig]) -> TopicMatcher:
        return cls(tuple(
            (t.name, re.compile(r"\b(?:" + "|".join(f"(?:{k})" for k in t.keywords) + r")\b", re.IGNORECASE))
            for t in topics
        ))

    @property
    def keeps_everything(self) -> bool:
        """Without topics every article is kept."""
        return not self.patterns

    def match(self, *texts: str | None) -> tuple[str, ...]:
        """Names of the topics any of `texts` mentions."""
        joined = "\n".join(t for t in texts if t)
        return tuple(name for name, pattern in self.patterns if pattern.search(joined))

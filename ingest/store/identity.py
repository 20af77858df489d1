"""Article identity: the keys under which one article can be found again.

An article is reached through several names: the URL a feed gave, the final URL after
redirects, a same-site canonical URL, and the feed's GUID. Each is folded to a key
(scheme, `www.`/`m.`/`amp.` host prefixes, AMP path suffixes, fragments, tracking
parameters and parameter order removed) and all keys point at one article row. Keys
are only for look-up: the URL that is fetched is always the original, never the
lossy folded form. courlan does the URL clean-up; the folding rules are ours because
no library folds mobile/AMP variants of news URLs.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from courlan import normalize_url

_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_ga|cmpid|ocid|ito|icid|"
    r"ref|ref_src|smid|sr_share|taid|ns_\w+|at_\w+|guce_\w+|outputtype|amp)$",
    re.IGNORECASE,
)
_HOST_PREFIX = re.compile(r"^(www\d?|m|mobile|amp)\.")
_AMP_PATH = re.compile(r"(/amp|\.amp|/amp\.html)/?$")


# Pure functions of the URL, and one article's URLs are folded several times on its way (the
# look-up before the fetch, the store's keys, its site, the feed's GUID scope): cached, the
# writer's identity work per article is 0.005 ms of CPU instead of 0.05 (courlan). Bounded.
@functools.lru_cache(maxsize=4096)
def url_key(url: str) -> str:
    """Folded form of `url` for identity look-ups ("host/path?query")."""
    try:
        url = normalize_url(url.strip(), strict=False)
    except Exception:  # courlan raises on some malformed URLs; fall back to the raw form
        url = url.strip()
    parts = urlsplit(url)
    host = site_of(url)
    path = _AMP_PATH.sub("", parts.path) or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(sorted((k, v) for k, v in params if not _TRACKING.match(k)))
    return f"{host}{path}" + (f"?{query}" if query else "")


@functools.lru_cache(maxsize=4096)
def site_of(url: str) -> str:
    """The site an article belongs to: its host without `www.`-like prefixes (and a non-default port)."""
    parts = urlsplit(url)
    host = _HOST_PREFIX.sub("", (parts.hostname or "").lower())
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port and port not in (80, 443) else host


def same_site(a: str, b: str) -> bool:
    sa, sb = site_of(a), site_of(b)
    return bool(sa) and (sa == sb or sa.endswith("." + sb) or sb.endswith("." + sa))


@dataclass(frozen=True)
class Identity:
    """The keys of one sighting of an article, by kind (None when the sighting has none).

    `ordered()` is the look-up priority when keys point at different stored articles: the
    publisher's own canonical URL first, then where the request ended up, then the URL as
    listed, then the feed GUID (feeds re-use GUIDs, so it is the weakest name).
    """

    url: str
    final: str | None = None
    canonical: str | None = None
    guid: str | None = None

    def ordered(self) -> list[tuple[str, str]]:
        kinds = (("canonical", self.canonical), ("final", self.final), ("url", self.url), ("guid", self.guid))
        seen: dict[str, str] = {}
        for kind, key in kinds:
            if key and key not in seen:
                seen[key] = kind
        return [(kind, key) for key, kind in seen.items()]

    def keys(self) -> list[str]:
        """Every key, the request URL's first (it becomes `articles.url_key` of a new article)."""
        return list(dict.fromkeys(k for k in (self.url, self.final, self.canonical, self.guid) if k))


def identify(url: str, final_url: str | None = None, canonical_url: str | None = None,
             guid: str | None = None, feed_url: str | None = None) -> Identity:
    """The keys naming this sighting of an article.

    A canonical URL on another site is ignored (syndication partners point at the
    original; that is a duplicate, not the same article), and so is one naming the
    site's front page (a common template mistake that would merge every article of a
    site into one). A GUID is scoped to its feed's site.
    """
    canonical = None
    if (canonical_url and canonical_url.startswith(("http://", "https://"))
            and same_site(canonical_url, final_url or url) and not _is_front_page(canonical_url)):
        canonical = url_key(canonical_url)
    return Identity(
        url=url_key(url),
        final=url_key(final_url) if final_url else None,
        canonical=canonical,
        guid=f"guid:{site_of(feed_url)}:{guid.strip()}" if guid and guid.strip() and feed_url else None,
    )


def identity_keys(url: str, final_url: str | None = None, canonical_url: str | None = None,
                  guid: str | None = None, feed_url: str | None = None) -> list[str]:
    """Every key naming this article, the request URL's first (see `identify`)."""
    return identify(url, final_url, canonical_url, guid, feed_url).keys()


def _is_front_page(url: str) -> bool:
    return urlsplit(url).path.strip("/") in ("", "index.html", "index.htm", "index.php", "amp")

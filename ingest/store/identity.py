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

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from courlan import normalize_url

_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|yclid|_ga|cmpid|ocid|ito|icid|"
    r"ref|ref_src|smid|sr_share|taid|ns_\w+|at_\w+|guce_\w+|outputtype|amp)$",
    re.IGNORECASE,
)
_HOST_PREFIX = re.compile(r"^(www\d?|m|mobile|amp)\.")
_AMP_PATH = re.compile(r"(/amp|\.amp|/amp\.html)/?$")


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
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)))
    return f"{host}{path}" + (f"?{query}" if query else "")


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


def identity_keys(url: str, final_url: str | None = None, canonical_url: str | None = None,
                  guid: str | None = None, feed_url: str | None = None) -> list[str]:
    """Every key naming this article, most specific first.

    A canonical URL on another site is ignored (syndication partners point at the
    original; that is a duplicate, not the same article). A GUID is scoped to its feed.
    """
    keys = [url_key(url)]
    if final_url:
        keys.append(url_key(final_url))
    if canonical_url and canonical_url.startswith(("http://", "https://")) and same_site(canonical_url, final_url or url):
        keys.append(url_key(canonical_url))
    if guid and feed_url:
        keys.append(f"guid:{site_of(feed_url)}:{guid.strip()}")
    return list(dict.fromkeys(keys))

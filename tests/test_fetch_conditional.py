"""Conditional GET: validators sent, 304 -> NotModified, a lying server caught by the body hash."""
import hashlib

from faultserver import HOSTS, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.records import NotModified, Page


def poll(path, steps):
    """Fetch `path` as a feed once per step; a step may bump the content or pass validators."""
    async def go():
        out = []
        async with FaultServer() as srv, Fetcher(fast_config(), hosts=HOSTS) as f:
            url = srv.url(path, "a.test")
            for step in steps:
                if step.get("bump"):
                    srv.bump(path.rsplit("/", 1)[1])
                prev = out[-1] if out else None
                kw = step.get("validators", lambda p: {})(prev)
                out.append(await f.fetch(url, kind="feed", **kw))
            return out, srv.requests_to(path.split("?")[0])
    return run(go())


def validators(prev):
    if isinstance(prev, Page):
        return {"etag": prev.headers.get("etag"), "last_modified": prev.headers.get("last-modified")}
    return {"etag": prev.etag, "last_modified": prev.last_modified}


def with_hash(prev):
    return {**validators(prev), "body_hash": hashlib.sha256(prev.body).hexdigest()}


def test_etag_round_trip():
    (first, second, third, fourth), seen = poll("/cond/etag/e", [
        {}, {"validators": validators}, {"validators": validators, "bump": True}, {"validators": validators}])
    assert isinstance(first, Page) and first.headers["etag"] == '"e-1"'
    assert "If-None-Match" not in seen[0].headers
    assert seen[1].headers["If-None-Match"] == '"e-1"'
    assert isinstance(second, NotModified) and second.etag == '"e-1"'
    assert isinstance(third, Page) and third.headers["etag"] == '"e-2"' and "e v2" in third.html
    assert isinstance(fourth, NotModified) and fourth.etag == '"e-2"'


def test_last_modified_round_trip():
    (first, second, third), seen = poll("/cond/lastmod/m", [
        {}, {"validators": validators}, {"validators": validators, "bump": True}])
    assert isinstance(first, Page) and first.headers["last-modified"].endswith("GMT")
    assert seen[1].headers["If-Modified-Since"] == first.headers["last-modified"]
    assert isinstance(second, NotModified) and second.last_modified == first.headers["last-modified"]
    assert isinstance(third, Page) and third.headers["last-modified"] != first.headers["last-modified"]


def test_lying_server_is_caught_by_the_body_hash_and_new_validators_kept():
    (first, second), seen = poll("/cond/liar/l", [{}, {"validators": with_hash}])
    assert seen[1].headers["If-None-Match"] == first.headers["etag"]  # we asked nicely...
    assert isinstance(second, NotModified)  # ...it answered 200 with the same body anyway
    assert second.etag != first.headers["etag"]  # and we keep its NEW validators (feedbin#726)
    assert second.etag and second.last_modified


def test_changed_body_with_stale_hash_is_a_page():
    (first, second), _ = poll("/cond/liar/l", [{}, {"validators": lambda p: {"body_hash": "0" * 64}}])
    assert isinstance(second, Page)


def test_body_hash_also_works_for_articles():
    async def go():
        async with FaultServer() as srv, Fetcher(fast_config(), hosts=HOSTS) as f:
            url = srv.url("/article/3", "a.test")
            page = await f.fetch(url)
            return await f.fetch(url, body_hash=hashlib.sha256(page.body).hexdigest())
    assert isinstance(run(go()), NotModified)

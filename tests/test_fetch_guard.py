"""The address guard: no connection to private, loopback, link-local... targets, on any hop."""
import ipaddress
import time

import pytest
from faultserver import HOSTS, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.fetch.guard import is_forbidden
from ingest.records import FetchFailure, Page

FORBIDDEN = [
    "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"]


@pytest.mark.parametrize("addr", FORBIDDEN)
def test_forbidden_addresses(addr):
    assert is_forbidden(ipaddress.ip_address(addr))


@pytest.mark.parametrize("addr", PUBLIC)
def test_public_addresses(addr):
    assert not is_forbidden(ipaddress.ip_address(addr))


def _fetch(path_or_url, cfg=None, hosts=HOSTS, host="127.0.0.1"):
    async def go():
        async with FaultServer() as srv, Fetcher(cfg or fast_config(retries=3), hosts=hosts) as f:
            url = path_or_url.format(port=srv.port) if path_or_url.startswith("http") else srv.url(path_or_url.format(port=srv.port), host)
            started = time.monotonic()
            result = await f.fetch(url)
            return result, srv, time.monotonic() - started
    return run(go())


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/article/1",
    "http://localhost:{port}/article/1",  # a name that resolves to loopback
    "http://[::1]:{port}/article/1",
    "http://[::ffff:127.0.0.1]:{port}/article/1",
    "http://2130706433:{port}/article/1",  # 127.0.0.1 as one integer (aiohttp calls it invalid)
    "http://0x7f.1:{port}/article/1",
])
def test_direct_private_targets_refused_without_a_request(url):
    result, srv, elapsed = _fetch(url)
    assert isinstance(result, FetchFailure) and result.kind in ("refused", "invalid"), result
    assert srv.seen == []  # not one byte sent
    assert elapsed < 1.0  # and not retried


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/article/1", "http://localhost:{port}/article/1"])
def test_public_feed_redirecting_to_loopback_is_refused(target):
    result, srv, _ = _fetch("/redirect-to?url=" + target, host="public.test")
    assert isinstance(result, FetchFailure) and result.kind == "refused", result
    assert "redirected to" in result.message or "localhost" in result.message
    assert [s.path for s in srv.seen] == ["/redirect-to"]  # first hop only


def test_pinned_public_name_is_allowed():
    result, srv, _ = _fetch("/redirect/2", host="public.test")
    assert isinstance(result, Page) and result.final_url.endswith("/article/1")


def test_allow_private_addresses_opens_loopback():
    result, _, _ = _fetch("http://127.0.0.1:{port}/article/1", cfg=fast_config(allow_private_addresses=True), hosts=None)
    assert isinstance(result, Page)
    result, _, _ = _fetch("http://localhost:{port}/redirect/1", cfg=fast_config(allow_private_addresses=True), hosts=None)
    assert isinstance(result, Page)


@pytest.mark.parametrize("url", ["", "not a url", "ftp://example.com/x", "http://", "javascript:alert(1)",
                                 "/relative/path", "http://exa mple.com/"])
def test_invalid_urls(url):
    async def go():
        async with Fetcher(fast_config()) as f:
            return await f.fetch(url)
    result = run(go())
    assert isinstance(result, FetchFailure) and result.kind in ("invalid", "connection"), result
    assert "\n" not in result.message

"""The address guard decides by itself on every spelling of an address, whatever aiohttp does.

aiohttp >= 3.14 refuses the legacy numeric IPv4 forms (2130706433, 127.1, 0177.0.0.1, "0") in
`TCPConnector._resolve_host`, with `aiohttp.helpers.is_canonical_ipv4_address` (imported into
aiohttp.connector). Older versions, which pyproject allowed, connect to them: the OS reads them
as addresses. These tests switch that check off and prove the guard alone refuses every form,
before DNS (on the URL), after DNS (on every answer) and after each redirect, with a loopback
canary server that must receive nothing. A control test shows the forms do reach the canary
when the guard is off, so the check really is switched off.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Self

import aiohttp.connector
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from faultserver import HOSTS, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.fetch.guard import (
    AddressRefused,
    GuardedResolver,
    embedded_ipv4,
    host_refusal,
    is_forbidden,
)
from ingest.records import FetchFailure, Page

IPV4_FORMS = ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0", "0x7f000001", "017700000001", "0177.1",
              "127.000.000.001", "0x7F.0.0.1", "127.0.0.1.", "127.0.1", "0.0.0.0", "0x0", "00",
              "\uff11\uff12\uff17.\uff10.\uff10.\uff11",  # fullwidth digits (IDNA maps them to ASCII)
              "127\u30020\u30020\u30021"]  # ideographic full stops
IPV6_FORMS = ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::1]", "[::]",
              "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::ffff:127.1]", "[::ffff:10.0.0.1]"]
NAMES = ["localhost", "localhost.", "LOCALHOST"]  # through DNS: refused on the answers


MALFORMED = {"[::ffff:127.1]"}  # not even a URL to yarl when it comes as a Location


def refused(result: object, host: str) -> bool:
    """Refused by the guard (a name the machine cannot resolve at all may fail in DNS instead, and
    a Location that is no URL is a bad redirect)."""
    kinds = {"refused"} | ({"connection"} if host in NAMES else set()) | ({"redirects"} if host in MALFORMED else set())
    return isinstance(result, FetchFailure) and result.kind in kinds


@pytest.fixture
def no_aiohttp_check(monkeypatch):
    """aiohttp's own canonical-IPv4 check, switched off (every host counts as canonical)."""
    assert hasattr(aiohttp.connector, "is_canonical_ipv4_address"), "aiohttp moved its check: update this test"
    monkeypatch.setattr(aiohttp.connector, "is_canonical_ipv4_address", lambda host: True)


class Canary:
    """A server on the loopback addresses (127.0.0.1 and, if there is one, ::1) on one port."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        async def seen(request: web.Request) -> web.Response:
            self.requests.append(f"{request.host}{request.path}")
            return web.Response(text="<html><body><p>canary</p></body></html>", content_type="text/html")

        app = web.Application()
        app.router.add_get("/{tail:.*}", seen)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            await web.TCPSite(self._runner, "::1", self.port).start()
        except OSError:  # no IPv6 loopback here: the IPv6 forms are refused before any connect anyway
            pass
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def url_for(host: str, port: int) -> str:
    return f"http://{host}:{port}/secret"


async def fetch_all(urls: list[str], **cfg) -> list:
    async with Fetcher(fast_config(**cfg), hosts=HOSTS if not cfg.get("allow_private_addresses") else None) as f:
        return [await f.fetch(u) for u in urls]


def test_the_check_is_off_and_the_forms_reach_loopback_without_the_guard(no_aiohttp_check):
    """Control: with the guard off (allow_private_addresses) and aiohttp's check off, the forms
    the issue names do connect to loopback. So the tests below test the guard, not aiohttp."""
    async def go():
        async with Canary() as canary:
            results = await fetch_all([url_for(h, canary.port) for h in ("127.1", "2130706433", "0177.0.0.1",
                                                                         "0x7f.1", "0")],
                                      allow_private_addresses=True)
            return results, canary.requests
    results, requests = run(go())
    assert all(isinstance(r, Page) for r in results), results
    assert len(requests) == 5


@pytest.mark.parametrize("host", IPV4_FORMS + IPV6_FORMS + NAMES)
def test_every_form_is_refused_by_the_guard_alone(no_aiohttp_check, host):
    async def go():
        async with Canary() as canary:
            (result,) = await fetch_all([url_for(host, canary.port)], retries=2)
            return result, canary.requests
    result, requests = run(go())
    assert refused(result, host), result
    assert requests == []  # not one request reached loopback
    assert "\n" not in result.message


@pytest.mark.parametrize("host", IPV4_FORMS + IPV6_FORMS + NAMES)
def test_every_form_is_refused_after_a_redirect(no_aiohttp_check, host):
    """An allowed (pinned) public host redirects to the form: the hop is refused, the canary untouched."""
    async def go():
        async with Canary() as canary, FaultServer() as srv:
            target = url_for(host, canary.port)
            (result,) = await fetch_all([srv.url("/redirect-to?url=" + target, "public.test")])
            return result, canary.requests, [s.path for s in srv.seen]
    result, requests, seen = run(go())
    assert refused(result, host), result
    assert requests == [] and seen == ["/redirect-to"]


@pytest.mark.parametrize("host", ["127.1", "2130706433", "[::ffff:127.0.0.1]", "localhost"])
def test_same_answers_with_aiohttps_check_on(host):
    """With aiohttp's check in place the guard answers first, the same way."""
    async def go():
        async with Canary() as canary:
            (result,) = await fetch_all([url_for(host, canary.port)])
            return result, canary.requests
    result, requests = run(go())
    assert refused(result, host) and requests == []


class FixedAnswers(AbstractResolver):
    """DNS answers chosen by the test (no DNS server on 127.0.0.1 can give mixed answers here)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                              proto=0, flags=0) for a in self.answers]

    async def close(self) -> None:
        pass


def test_every_dns_answer_is_checked():
    async def go():
        mixed = GuardedResolver(inner=FixedAnswers(["127.0.0.1", "93.184.216.34", "::ffff:10.0.0.1", "10.0.0.1",
                                                    "::1", "not-an-address", "2606:4700:4700::1111"]))
        kept = [a["host"] for a in await mixed.resolve("rebind.test", 80)]
        private = GuardedResolver(inner=FixedAnswers(["127.0.0.1", "::ffff:127.0.0.1", "169.254.169.254"]))
        with pytest.raises(AddressRefused, match="resolves only to non-public"):
            await private.resolve("rebind.test", 80)
        return kept
    assert asyncio.run(go()) == ["93.184.216.34", "2606:4700:4700::1111"]


@pytest.mark.parametrize("host, refused", [
    ("8.8.8.8", False), ("93.184.216.34", False), ("example.com", False), ("xn--bcher-kva.example", False),
    ("2606:4700:4700::1111", False), ("134744072", True), ("8.8.8.8.", True), ("1.2.3.4.5", True),
    ("256.0.0.1", True), ("example.123", True), ("0x", True), ("1.0x1g", False),  # a name: its last label is no number
])
def test_host_refusal_on_public_and_malformed_hosts(host, refused):
    """A public address is fine written as a.b.c.d; any other numeric spelling is refused too."""
    assert (host_refusal(host) is not None) is refused, host_refusal(host)
    assert host_refusal(host, allow_private=True) is None


@pytest.mark.parametrize("addr, inner", [("::ffff:127.0.0.1", "127.0.0.1"), ("::127.0.0.1", "127.0.0.1"),
                                         ("2002:a00:1::", "10.0.0.1"), ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
                                         ("64:ff9b:1::c0a8:1", "192.168.0.1"), ("2606:4700::1111", None)])
def test_ipv6_forms_carrying_ipv4(addr, inner):
    ip = ipaddress.ip_address(addr)
    assert str(embedded_ipv4(ip)) == str(inner) if inner else embedded_ipv4(ip) is None
    assert is_forbidden(ip) is (inner is not None)

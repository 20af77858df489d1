"""Address guard: never let a feed or article URL make us connect to a private address.

Why: a feed is untrusted input. A "public" feed that links or redirects to
http://127.0.0.1:8080/admin, http://169.254.169.254/ (cloud metadata) or a LAN
printer would otherwise turn the daemon into a proxy into our own network (SSRF).

Two checks, because aiohttp skips the resolver for IP literals:
  * `check_literal(host)` before every hop (the URL names an IP directly);
  * `GuardedResolver`, plugged into aiohttp's connector, filters every DNS
    answer, so the address we connect to is the address we checked (no window
    for DNS rebinding between a check and the connect).

Test hook: `pinned` maps a host name to an address (like /etc/hosts). Pinned
names are trusted as-is -- the caller vouched for them -- which lets a test map
`public.test` to 127.0.0.1 while a redirect to `127.0.0.1` or `localhost` is
still refused. Production code passes no pins.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class AddressRefused(OSError):
    """The target resolves only to addresses we refuse to connect to."""


def is_forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for loopback, private, link-local, multicast, reserved, unspecified, non-global."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_forbidden(mapped)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address if `host` is an IP literal (brackets and %zone allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """DNS through aiohttp's default resolver, minus the addresses we refuse."""

    def __init__(self, allow_private: bool = False, pinned: Mapping[str, str] | None = None):
        self._allow_private = allow_private
        self._pinned = {k.lower(): v for k, v in (pinned or {}).items()}
        self._inner = DefaultResolver()

    def is_pinned(self, host: str) -> bool:
        return host.lower().rstrip(".") in self._pinned

    def check_literal(self, host: str) -> str | None:
        """Why an IP-literal host is refused, or None when it is fine (or not a literal)."""
        ip = parse_ip(host)
        if ip is None or self._allow_private or not is_forbidden(ip):
            return None
        return f"refusing non-public address {ip}"

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        pin = self._pinned.get(host.lower().rstrip("."))
        if pin is not None:
            fam = socket.AF_INET6 if ":" in pin else socket.AF_INET
            return [ResolveResult(hostname=host, host=pin, port=port, family=fam, proto=0,
                                  flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)]
        answers = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return answers
        # Keep only public answers; a mixed answer still connects, but only to a public address.
        kept = [a for a in answers if not is_forbidden(ipaddress.ip_address(a["host"]))]
        if not kept:
            addrs = ", ".join(sorted({a["host"] for a in answers}))
            raise AddressRefused(f"refusing {host}: resolves only to non-public address(es) {addrs}")
        return kept

    async def close(self) -> None:
        await self._inner.close()

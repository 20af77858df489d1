"""Address guard: never let a feed or article URL make us connect to a private address.

Why: a feed is untrusted input. A "public" feed that links or redirects to
http://127.0.0.1:8080/admin, http://169.254.169.254/ (cloud metadata) or a LAN
printer would otherwise turn the daemon into a proxy into our own network (SSRF).

Two checks, because aiohttp skips the resolver for IP literals:
  * `check_host(host)` before every hop, on the URL: the host is read the way a resolver
    would read it, so every spelling of an address is decided here, not by aiohttp: IPv4 in
    one number (2130706433), octal (0177.0.0.1), hex (0x7f.1), short forms (127.1, "0"),
    trailing dots, IPv6 (with IPv4-mapped, -compatible, 6to4 and NAT64 forms unwrapped).
    A numeric host that is not the canonical dotted quad is refused whatever it names:
    no news site is written that way, and an address the OS might read differently from us
    is not worth the risk. aiohttp >= 3.14 refuses those forms too, but only since then,
    and with its check switched off all of them reached a loopback server (tests prove this
    guard alone refuses them: tests/test_fetch_guard_forms.py);
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

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(OSError):
    """The target resolves only to addresses we refuse to connect to."""


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))  # RFC 6052, RFC 8215


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and may be routed to: IPv4-mapped (::ffff:a.b.c.d),
    IPv4-compatible (::a.b.c.d), 6to4 (2002:AABB:CCDD::) or NAT64 (64:ff9b::a.b.c.d)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = int(ip)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d (deprecated, but some stacks still route it)
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def is_forbidden(ip: Address) -> bool:
    """True for loopback, private, link-local, multicast, reserved, unspecified, non-global,
    and for IPv6 addresses that carry such an IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and is_forbidden(inner):
            return True
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def parse_ip(host: str) -> Address | None:
    """The address if `host` is an IP literal (brackets and %zone allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class NotAnAddress(ValueError):
    """A host that reads as a number but not as one address (e.g. 1.2.3.4.5, 0x1g, 256.1.1.1)."""


def _ipv4_number(part: str) -> int:
    """One part of an IPv4 host as inet_aton and the WHATWG URL parser read it: 0x hex, 0 octal, decimal."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
        if digits == "":
            return 0
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    try:
        if not digits.isascii():
            raise ValueError
        return int(digits, base)
    except ValueError:
        raise NotAnAddress(f"{part!r} is not a number") from None


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host names if its last label is a number (the WHATWG "ends in a number"
    rule, which is also when a resolver reads it as an address: 127.1, 2130706433, 0x7f.1,
    0177.0.0.1, "0"), else None (a name). Raises NotAnAddress for a number that is no address."""
    labels = host.split(".")
    if labels and labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]  # one trailing dot: the root, "127.0.0.1." is 127.0.0.1
    last = labels[-1] if labels else ""
    is_number = last.isascii() and (last.isdigit() or (last[:2] in ("0x", "0X")
                                                       and all(c in "0123456789abcdefABCDEF" for c in last[2:])))
    if not is_number:
        if last and last.isdigit():
            raise NotAnAddress("digits that are not ASCII")  # what would a resolver make of them?
        return None
    if len(labels) > 4 or any(label == "" for label in labels):
        raise NotAnAddress("not an IPv4 address")
    numbers = [_ipv4_number(label) for label in labels]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise NotAnAddress("a part is too large")
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def host_refusal(host: str, allow_private: bool = False) -> str | None:
    """Why the URL host `host` (yarl's raw_host: ASCII, IPv6 without brackets) must not be
    connected to, or None: a name (the resolver checks its addresses) or a public address."""
    if allow_private:
        return None
    bare = host.strip("[]")
    if ":" in bare:  # only an IPv6 literal has a colon in a URL host
        ip = parse_ip(bare)
        if ip is None:
            return f"refusing malformed IPv6 host {host!r}"
        return f"refusing non-public address {ip}" if is_forbidden(ip) else None
    try:
        ip4 = numeric_ipv4(bare)
    except NotAnAddress as e:
        return f"refusing numeric host {host!r} ({e})"
    if ip4 is None:
        return None
    if is_forbidden(ip4):
        return f"refusing non-public address {ip4}" + (f" (written {host!r})" if bare != str(ip4) else "")
    if bare != str(ip4):
        return f"refusing non-canonical IPv4 host {host!r} (= {ip4}): only a.b.c.d is accepted"
    return None


class GuardedResolver(AbstractResolver):
    """DNS through aiohttp's default resolver, minus the addresses we refuse."""

    def __init__(self, allow_private: bool = False, pinned: Mapping[str, str] | None = None,
                 inner: AbstractResolver | None = None):
        self._allow_private = allow_private
        self._pinned = {k.lower(): v for k, v in (pinned or {}).items()}
        self._inner = inner if inner is not None else DefaultResolver()  # `inner`: tests' fixed answers

    def is_pinned(self, host: str) -> bool:
        return host.lower().rstrip(".") in self._pinned

    def check_host(self, host: str) -> str | None:
        """Why a URL's host is refused before any DNS or connect, or None (see `host_refusal`)."""
        if self.is_pinned(host):
            return None
        return host_refusal(host, self._allow_private)

    check_literal = check_host  # the name it had when only literals were checked

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        pin = self._pinned.get(host.lower().rstrip("."))
        if pin is not None:
            fam = socket.AF_INET6 if ":" in pin else socket.AF_INET
            return [ResolveResult(hostname=host, host=pin, port=port, family=fam, proto=0,
                                  flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)]
        answers = await self._inner.resolve(host, port, family)
        if self._allow_private:
            return answers
        # Keep only public answers; a mixed answer still connects, but only to a public address.
        kept = [a for a in answers if not _answer_forbidden(a["host"])]
        if not kept:
            addrs = ", ".join(sorted({a["host"] for a in answers}))
            raise AddressRefused(f"refusing {host}: resolves only to non-public address(es) {addrs}")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def _answer_forbidden(host: str) -> bool:
    """A resolver answer we must not connect to (an answer that is not an address is not trusted)."""
    ip = parse_ip(host)
    return ip is None or is_forbidden(ip)

"""A local news world: one aiohttp server per outlet on 127.0.0.1, each with pages and a feed.

Used by `ingest demo` and by the end-to-end tests. Outlets get their own port, so each
is its own site (ingest keys sites by host and non-default port). Pages can be edited
while the server runs, to show (and test) new versions.
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from .stories import Story, world

FEED_KINDS = ("rss2", "atom", "rss1")


def render_page(outlet: str, story: Story, url: str) -> str:
    paras = "\n".join(f"<p>{html.escape(p)}</p>" for p in story.text.split("\n\n"))
    name = outlet.replace("-", " ").title()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(story.title)} | {name}</title>
<link rel="canonical" href="{url}">
<meta property="og:title" content="{html.escape(story.title)}">
<meta property="og:site_name" content="{name}">
<meta name="author" content="{html.escape(story.author)}">
<meta property="article:published_time" content="{story.published.isoformat()}">
</head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<main><article><h1>{html.escape(story.title)}</h1>
<p class="byline">By {html.escape(story.author)}</p>
{paras}
</article></main>
<footer><p>&copy; 2018 {name}. All rights reserved.</p></footer>
</body></html>"""


def render_feed(kind: str, outlet: str, base: str, stories: list[Story]) -> str:
    name = html.escape(outlet.replace("-", " ").title())
    items = []
    for s in stories:
        link, title, summary = f"{base}/{s.slug}.html", html.escape(s.title), html.escape(s.text.split("\n\n")[0][:200])
        if kind == "atom":
            items.append(f"<entry><id>{link}</id><title>{title}</title><link href=\"{link}\"/>"
                         f"<updated>{s.published.isoformat()}</updated><summary>{summary}</summary></entry>")
        elif kind == "rss1":
            items.append(f'<item rdf:about="{link}"><title>{title}</title><link>{link}</link>'
                         f"<description>{summary}</description><dc:date>{s.published.isoformat()}</dc:date></item>")
        else:
            items.append(f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
                         f"<pubDate>{format_datetime(s.published)}</pubDate><description>{summary}</description></item>")
    body = "\n".join(items)
    if kind == "atom":
        return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{name}</title>'
                f"<id>{base}/</id><updated>2018-06-12T00:00:00Z</updated>{body}</feed>")
    if kind == "rss1":
        return ('<?xml version="1.0" encoding="utf-8"?>'
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f'<channel rdf:about="{base}/"><title>{name}</title><link>{base}/</link>'
                f"<description>news</description></channel>{body}</rdf:RDF>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
            f"<link>{base}/</link><description>news</description><ttl>15</ttl>{body}</channel></rss>")


class Outlet:
    """One news site: its stories, its pages and its feed."""

    def __init__(self, name: str, stories: list[Story], feed_kind: str, host: str = "127.0.0.1"):
        self.name, self.feed_kind, self.host = name, feed_kind, host
        self.stories = {s.slug: s for s in stories}
        self.port = 0
        self.hits: dict[str, int] = {}
        self.extra: dict[str, tuple[bytes, str]] = {}  # path -> (body, content type), e.g. a sitemap
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.xml"

    def url(self, slug: str) -> str:
        return f"{self.base}/{slug}.html"

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path in self.extra:
            body, ctype = self.extra[path]
            return web.Response(body=body, headers={"Content-Type": ctype})
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if path == "/feed.xml":
            ctype = "application/atom+xml" if self.feed_kind == "atom" else "application/rss+xml"
            return web.Response(text=render_feed(self.feed_kind, self.name, self.base, list(self.stories.values())),
                                content_type=ctype)
        slug = path.strip("/").removesuffix(".html")
        if slug in self.stories:
            page = render_page(self.name, self.stories[slug], self.url(slug))
            return web.Response(text=page, content_type="text/html")
        raise web.HTTPNotFound()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


class NewsWorld:
    """Several outlets, started together. `edit()` changes a page while serving.

    `named`: each outlet is `http://<name>.example:<port>` instead of `http://127.0.0.1:<port>`,
    for readers who pin those names to 127.0.0.1 (`pins`, the Fetcher's `hosts`): the demo.
    """

    def __init__(self, stories: dict[str, list[Story]] | None = None, named: bool = False):
        stories = stories or world()
        self.outlets = {name: Outlet(name, s, FEED_KINDS[i % 3], f"{name}.example" if named else "127.0.0.1")
                        for i, (name, s) in enumerate(stories.items())}

    @property
    def pins(self) -> dict[str, str]:
        """Host name -> address of every outlet."""
        return {o.host: "127.0.0.1" for o in self.outlets.values()}

    @property
    def feed_urls(self) -> list[str]:
        return [o.feed_url for o in self.outlets.values()]

    def url(self, outlet: str, slug: str) -> str:
        return self.outlets[outlet].url(slug)

    def edit(self, outlet: str, slug: str, **changes: Any) -> None:
        """Replace fields of one story (e.g. text=..., title=...)."""
        o = self.outlets[outlet]
        o.stories[slug] = replace(o.stories[slug], **changes)

    async def start(self) -> NewsWorld:
        for o in self.outlets.values():
            await o.start()
        return self

    async def stop(self) -> None:
        for o in self.outlets.values():
            await o.stop()

    async def __aenter__(self) -> NewsWorld:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def threaded(cls, stories: dict[str, list[Story]] | None = None) -> Iterator[NewsWorld]:
        """Serve from a background thread (for tests that run the CLI as a subprocess)."""
        w = cls(stories)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="newsworld", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(w.start(), loop).result(10)
            yield w
        finally:
            asyncio.run_coroutine_threadsafe(w.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

"""A one-outlet news site on 127.0.0.1 whose pages and feed a test rewrites between polls.

Used by the version, history and re-extraction tests: each step serves a different
page for the same story (whitespace-only, boilerplate-only, an edit...) and runs the
real pipeline against it.
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import threading
from dataclasses import dataclass, field

from aiohttp import web

PARAS = [
    "North Korean leader Kim Jong Un and US President Donald Trump met in Singapore on Tuesday for a summit "
    "that both sides described as historic, shaking hands in front of a row of flags at a hotel on Sentosa island.",
    "The two leaders signed a short joint statement in which Pyongyang committed to work towards the \"complete "
    "denuclearization\" of the Korean peninsula - while Washington promised unspecified security guarantees.",
    "Analysts in Seoul and Tokyo said the document was vaguer than earlier agreements and set no timetable, "
    "but several of them welcomed the change of tone after months of threats exchanged between the two capitals.",
    "Officials said follow-up talks led by the secretary of state would begin within weeks, and that a second "
    "meeting between the leaders had not been ruled out by either delegation before they left the island.",
]
TITLE = "Trump and Kim sign statement at Singapore summit"


@dataclass
class Story:
    title: str = TITLE
    paras: list[str] = field(default_factory=lambda: list(PARAS))
    canonical: str | None = None  # path of the canonical link (default: the page's own path)
    nav: str = "Home | World | Sport | Business"
    footer: str = "Copyright 2018 Harbour Times. All rights reserved."
    sidebar: str | None = None
    ws: str = "\n"  # the separator between paragraphs in the markup
    published: str = "2018-06-12T09:00:00+08:00"


def render(story: Story, base: str, path: str) -> str:
    paras = story.ws.join(f"<p>{html.escape(p)}</p>" for p in story.paras)
    side = f"<aside><h3>Most read</h3><ul><li>{html.escape(story.sidebar)}</li></ul></aside>" if story.sidebar else ""
    canonical = f"{base}{story.canonical or path}"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(story.title)}</title>'
            f'<link rel="canonical" href="{canonical}"><meta property="og:title" content="{html.escape(story.title)}">'
            f'<meta property="article:published_time" content="{story.published}"></head><body>'
            f"<nav>{html.escape(story.nav)}</nav><main><article><h1>{html.escape(story.title)}</h1>{story.ws}{paras}"
            f"</article>{side}</main><footer><p>{html.escape(story.footer)}</p></footer></body></html>")


class Site:
    """Pages by path (Story or a redirect target), and a feed listing (guid, path, title) entries."""

    def __init__(self):
        self.pages: dict[str, Story | str] = {}  # a str value is a redirect to that path
        self.entries: list[tuple[str, str, str]] = []
        self.port = 0
        self._runner = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.xml"

    def url(self, path: str) -> str:
        return self.base + path

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if path == "/feed.xml":
            items = "".join(f"<item><title>{html.escape(t)}</title><link>{self.base}{p}</link>"
                            f'<guid isPermaLink="false">{html.escape(g)}</guid></item>' for g, p, t in self.entries)
            return web.Response(text=f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Times</title>'
                                     f"<link>{self.base}/</link><description>news</description>{items}</channel></rss>",
                                content_type="application/rss+xml")
        page = self.pages.get(path)
        if isinstance(page, str):
            raise web.HTTPFound(self.base + page)
        if page is None:
            raise web.HTTPNotFound()
        return web.Response(text=render(page, self.base, path), content_type="text/html")

    async def start(self):
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    @classmethod
    @contextlib.contextmanager
    def threaded(cls):
        s = cls()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(s.start(), loop).result(10)
            yield s
        finally:
            asyncio.run_coroutine_threadsafe(s._runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


def replay(site: Site, tmp_path, stories: list[Story], path: str = "/2018/06/12/story.html", guid: str = "story-1"):
    """Serve each story in turn at `path` and poll the feed once after each; return (config, db path)."""
    from conftest import write_config

    from ingest.config import load_config
    from ingest.run.daemon import run_once

    db = tmp_path / "news.db"
    cfg = load_config(write_config(tmp_path / "c.yaml", db, [site.feed_url], topics=[]))
    for story in stories:
        site.pages[path] = story
        site.entries = [(guid, path, story.title)]
        asyncio.run(run_once(cfg))
    return tmp_path / "c.yaml", db

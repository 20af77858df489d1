"""`ingest serve` in a real browser: headless Chromium renders the pages an analyst opens.

Skipped only when no Chromium binary exists (Debian: `apt-get install -y chromium`).
Screenshots are checked by decoding the PNG with zlib (no imaging dependency): a page that
failed to render is one flat colour, a rendered one has text in many colours.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import urllib.parse
import zlib
from pathlib import Path

import pytest
import readdb

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome",
                                                          "google-chrome-stable")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install -y chromium)")

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         "--window-size=1280,900"]


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> readdb.Fixture:
    return readdb.build(tmp_path_factory.mktemp("browser") / "ingest.db")


@pytest.fixture(scope="module")
def server(fx):
    with readdb.Server(fx.path) as s:
        yield s


def chromium(*args: str) -> str:
    proc = subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def dump_dom(url: str) -> str:
    return chromium("--dump-dom", url)


def screenshot(url: str, path: Path) -> Path:
    chromium(f"--screenshot={path}", url)
    return path


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) to rows of raw pixel bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


def assert_rendered(path: Path) -> None:
    assert path.stat().st_size > 10_000, f"screenshot only {path.stat().st_size} bytes"
    width, height, rows = png_pixels(path)
    assert (width, height) == (1280, 900)
    bpp = len(rows[0]) // width
    colours = {row[i:i + 3] for row in rows[::7] for i in range(0, len(row), bpp * 5)}
    assert len(colours) > 20, f"only {len(colours)} colours: a blank or failed page"
    # text: many rows differ from the page background colour
    background = max(colours, key=lambda c: sum(row.count(c) for row in rows[::50]))
    busy = sum(1 for row in rows if row != background * width and len(set(row[i:i + 3] for i in range(0, len(row), bpp))) > 3)
    assert busy > height // 10, f"only {busy} rows with content"


PAGES = {
    "home": ("/", ["ingest: news coverage", "ingest"]),
    "index": ("/ingest", ["latest", "duplicates", "feed_health", "Latest coverage", "Copies of an article"]),
    "latest": ("/ingest/latest", ["Harbour bridge reopens after storm repairs", "Council approves new library budget"]),
    "garbled_query": ("/ingest/garbled_pages", ["Valley roundup: library and fishing news",
                                                "https://valleyherald.example/council/library-budget"]),
    "copies_query": ("/ingest/copies?" + urllib.parse.urlencode(
        {"url": "https://coastwire.example/wire/bridge-reopens"}), ["Harbour bridge open again after repairs", "original"]),
    "fts_search": ("/ingest/latest?_search=mackerel", ["Fishermen report record mackerel catch"]),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_with_content(server, tmp_path, name):
    path, expected = PAGES[name]
    dom = dump_dom(server.url(path))
    for text in expected:
        assert text in dom, f"{text!r} missing from {path}"
    if name == "fts_search":
        assert "Council approves new library budget" not in dom  # the search really filtered
    assert_rendered(screenshot(server.url(path), tmp_path / f"{name}.png"))


def test_blank_page_fails_the_render_check(tmp_path):
    """The screenshot check itself: an empty page must not pass as rendered."""
    shot = screenshot("data:text/html,<html><body style='background:%23fafafa'></body></html>", tmp_path / "blank.png")
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1280, 900) and len(set(rows)) == 1  # the decoder sees one flat colour
    assert rows[0][:3] == bytes([0xFA, 0xFA, 0xFA])
    with pytest.raises(AssertionError):
        assert_rendered(shot)

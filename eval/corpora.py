"""Read real article texts from ../shared/corpora (third-party: read at run time, never copied).

Preference is for corpora that ship the expected text (newspaper4k, goose3, Readability),
since running trafilatura costs ~40 ms a page; the trafilatura evaluation pages are
extracted once and cached under ~/.cache (INGEST_EVAL_CACHE overrides).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import lxml.html


@dataclass(frozen=True)
class Doc:
    name: str  # corpus/file
    site: str
    title: str
    text: str
    lang: str = ""


def shared_dir() -> Path | None:
    """../shared next to the repository (or $INGEST_SHARED), if present."""
    env = os.environ.get("INGEST_SHARED")
    here = Path(__file__).resolve().parent.parent
    cands = [Path(env)] if env else [here.parent / "shared", Path("/work/shared")]
    return next((p for p in cands if (p / "corpora").is_dir()), None)


def page_files(limit: int | None = None) -> list[Path]:
    """The HTML test pages of the shared corpora (1,383; 1 KB..5 MB), in a fixed order.

    trafilatura's evaluation set and cache, newspaper4k's, goose3's and Mozilla Readability's
    test pages: the pages of the throughput benchmark and of `python -m eval extraction`.
    """
    shared = shared_dir()
    if shared is None:
        return []
    c = shared / "corpora"
    files = sorted((c / "trafilatura-tests" / "eval").glob("*.html.gz"))
    files += sorted((c / "trafilatura-tests" / "cache").glob("*.html"))
    files += sorted((c / "newspaper4k-tests" / "current" / "html").glob("*.html"))
    files += sorted((c / "newspaper4k-tests" / "legacy-a012967" / "html").glob("*.html"))
    files += sorted((c / "goose3-tests" / "content").glob("*.html"))
    files += sorted((c / "mozilla-readability-testpages" / "test-pages").glob("*/source.html"))
    files = [f for f in files if f.stat().st_size > 500]
    return files[:limit] if limit else files


def read_page(path: str | Path) -> bytes:
    path = str(path)
    return gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()


def _host(url: str) -> str:
    host = urlparse(url).netloc.lower()
    return host[4:] if host.startswith("www.") else host


def _html_title(html: str) -> str:
    m = re.search(r"<title[^>]*>(.*?)</title>", html, re.S | re.I)
    return re.sub(r"\s+", " ", lxml.html.fromstring(m.group(1)).text_content()).strip() if m and m.group(1).strip() else ""


_BLOCK_END = re.compile(r"(?i)</(p|div|h[1-6]|li|blockquote|pre|tr|figcaption|section|article|header|footer|ul|ol|table|dd|dt)\s*>")


def html_to_text(html: str) -> str:
    """Paragraph text of clean article HTML (Readability's expected output)."""
    html = _BLOCK_END.sub("\n\n", html)
    html = re.sub(r"(?i)<br\s*/?>", "\n", html)
    text = lxml.html.fromstring(f"<div>{html}</div>").text_content()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def newspaper4k(root: Path) -> list[Doc]:
    base = root / "newspaper4k-tests"
    out = []
    for txt in sorted((base / "current" / "txt").glob("*.txt")):
        meta = base / "current" / "metadata" / (txt.stem + ".json")
        m = json.loads(meta.read_text()) if meta.exists() else {}
        site = _host(m.get("url", "")) or txt.stem
        out.append(Doc(f"newspaper4k/{txt.stem}", site, m.get("title", ""), txt.read_text(errors="replace"),
                       m.get("language", "")))
    for txt in sorted((base / "legacy-a012967" / "txt").glob("*.txt")):
        html = base / "legacy-a012967" / "html" / (txt.stem + ".html")
        title = _html_title(html.read_text(errors="replace")) if html.exists() else ""
        site = re.sub(r"\d+$", "", txt.stem)
        out.append(Doc(f"newspaper4k-legacy/{txt.stem}", site, title, txt.read_text(errors="replace"), "en"))
    return out


def goose3(root: Path) -> list[Doc]:
    out = []
    for js in sorted((root / "goose3-tests" / "content").glob("*.json")):
        d = json.loads(js.read_text())
        e = d.get("expected", {})
        text = e.get("cleaned_text") or ""
        site = _host(e.get("final_url") or d.get("url") or "") or e.get("domain") or js.stem
        out.append(Doc(f"goose3/{js.stem}", site, e.get("title") or "", text, e.get("meta_lang") or ""))
    return out


def readability(root: Path) -> list[Doc]:
    out = []
    for page in sorted((root / "mozilla-readability-testpages" / "test-pages").iterdir()):
        exp = page / "expected.html"
        if not exp.exists():
            continue
        meta = json.loads((page / "expected-metadata.json").read_text())
        text = html_to_text(exp.read_text(errors="replace"))
        out.append(Doc(f"readability/{page.name}", meta.get("siteName") or page.name, meta.get("title") or "",
                       text, meta.get("lang") or ""))
    return out


def _extract(args) -> tuple[str, str, str]:
    path, url = args
    import trafilatura  # noqa: PLC0415 - only the worker needs it
    doc = trafilatura.bare_extraction(read_page(path), url=url, deduplicate=False, with_metadata=True)
    if doc is None:
        return url, "", ""
    return url, (doc.title or ""), (doc.text or "")


def trafilatura_eval(root: Path, workers: int = 2) -> list[Doc]:
    """trafilatura's evaluation pages, extracted with trafilatura (cached)."""
    base = root / "trafilatura-tests"
    data = json.loads((base / "evaldata.json").read_text())
    jobs = []
    for url, e in data.items():
        for p in (base / "eval" / (e["file"] + ".gz"), base / "cache" / e["file"]):
            if p.exists():
                jobs.append((str(p), url))
                break
    import trafilatura
    key = hashlib.sha1(json.dumps([trafilatura.__version__] + jobs).encode()).hexdigest()[:16]
    cache_dir = Path(os.environ.get("INGEST_EVAL_CACHE", Path.home() / ".cache" / "ingest-eval"))
    cache = cache_dir / f"trafilatura-{key}.json"
    if cache.exists():
        rows = json.loads(cache.read_text())
    else:
        with ProcessPoolExecutor(workers) as ex:
            rows = list(ex.map(_extract, jobs, chunksize=16))
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(rows))
    return [Doc(f"trafilatura/{i}", _host(url) or f"t{i}", title, text, "") for i, (url, title, text) in enumerate(rows)
            if text]


def ftfy_cases(root: Path) -> list[dict]:
    out = []
    for name in ("in-the-wild", "synthetic", "negative"):
        for case in json.loads((root / "ftfy-mojibake" / "test-cases" / f"{name}.json").read_text()):
            out.append({**case, "file": name})
    return out


def real_articles(root: Path, with_trafilatura: bool = True) -> list[Doc]:
    root = root / "corpora"
    docs = newspaper4k(root) + goose3(root) + readability(root)
    if with_trafilatura:
        docs += trafilatura_eval(root)
    return docs

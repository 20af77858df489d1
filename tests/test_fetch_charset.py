"""Charset choice: BOM, then header, then meta, then detection -- and lies are flagged."""
import pytest

from ingest.fetch.charset import codec_name, decode

FRENCH = "Le président a annoncé que l’économie française se porte « très bien », malgré la crise. " * 3


@pytest.mark.parametrize(
    "body, content_type, charset, source, mismatch",
    [
        (FRENCH.encode("utf-8"), "text/html; charset=utf-8", "utf-8", "header", False),
        (b"\xef\xbb\xbf" + FRENCH.encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8", "bom", False),
        ("\ufeff" + FRENCH, None, "utf-16-le", "bom", False),  # encoded below
        (f'<meta charset="windows-1252">{FRENCH}'.encode("cp1252"), "text/html", "cp1252", "meta", False),
        (f'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">{FRENCH}'.encode("cp1252"),
         None, "cp1252", "meta", False),  # latin-1 label decoded as windows-1252, as browsers do
        (f'<?xml version="1.0" encoding="ISO-8859-1"?><rss>{FRENCH}</rss>'.encode("latin-1", "replace"),
         "application/rss+xml", "cp1252", "meta", False),
        (FRENCH.encode("utf-8"), "text/html; charset=iso-8859-1", "utf-8", "detected", True),
        (FRENCH.encode("cp1252"), "text/html; charset=utf-8", "cp1252", "detected", True),
        (FRENCH.encode("cp1252"), "text/html", "cp1252", "detected", False),
        (FRENCH.encode("utf-8"), "text/html; charset=x-bogus", "utf-8", "detected", False),
        (b"plain ascii", None, "utf-8", "default", False),
        (b"", "text/html; charset=nonsense", "utf-8", "default", False),
    ],
)
def test_decode_order_and_mismatch(body, content_type, charset, source, mismatch):
    if isinstance(body, str):
        body = body.encode("utf-16-le")
    d = decode(body, content_type)
    assert (d.charset, d.source, d.mismatch) == (charset, source, mismatch)
    if len(body) > 50:
        assert "président" in d.text and "\ufffd" not in d.text


def test_header_beats_meta():
    body = f'<meta charset="utf-8">{FRENCH}'.encode("cp1252")
    d = decode(body, "text/html; charset=windows-1252")
    assert (d.charset, d.source, d.mismatch) == ("cp1252", "header", False)


def test_meta_claiming_utf16_is_ignored():
    body = f'<meta charset="utf-16">{FRENCH}'.encode("utf-8")
    d = decode(body)
    assert d.charset == "utf-8" and "président" in d.text


@pytest.mark.parametrize("label", ["", None, "x-nope", "utf-8\x00", "\"'", "a" * 300, "../../etc"])
def test_bad_labels_never_raise(label):
    assert codec_name(label) is None
    decode(FRENCH.encode("utf-8"), f"text/html; charset={label}")


def test_undecodable_bytes_are_replaced_not_raised():
    d = decode(bytes(range(256)) * 4, "text/html; charset=utf-8")
    assert isinstance(d.text, str) and d.mismatch


def test_detection_can_be_left_to_the_caller():
    """detect=False: None exactly where charset-normalizer would run (the fetcher then decodes on a thread)."""
    body = FRENCH.encode("cp1252")  # no declaration, not UTF-8: needs detection
    assert decode(body, "text/html", detect=False) is None
    assert decode(body, "text/html").source == "detected"
    for cheap in (FRENCH.encode("utf-8"), b"plain ascii", FRENCH.encode("cp1252")):
        d = decode(cheap, "text/html; charset=windows-1252", detect=False)
        assert d is not None and d == decode(cheap, "text/html; charset=windows-1252")

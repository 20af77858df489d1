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


GERMAN = ("So schön winterlich ist es wie schon lange nicht mehr. Da bringt es richtig Laune, mal wieder was "
          "ganz besonders Leckeres auf den Tisch zu bringen. Für die Vögel wird gesorgt. ") * 4


@pytest.mark.parametrize("filler", ["var x = 1;\n" * 7000, "x" * 65535])
def test_undeclared_utf8_after_a_long_ascii_head_is_utf8(filler):
    """Detection reads the first 64 KB only: after a long ASCII head (inline scripts), or cut
    inside a character, it answered cp1252 for valid UTF-8 -- real pages were stored with
    "Magistratesâ€™ Court" and "GÃ©nero". The bytes decide first."""
    body = f"<html><head><script>{filler}</script></head><body><p>Magistrates’ Court, Género.</p>".encode()
    assert len(body) > 65536
    d = decode(body, "text/html")
    assert (d.charset, d.source, d.mismatch) == ("utf-8", "detected", False)
    assert "Magistrates’ Court, Género." in d.text


@pytest.mark.parametrize("content_type, source", [("text/html; charset=utf-8", "header"), ("text/html", "detected")])
def test_utf8_with_a_stray_latin1_byte_stays_utf8(content_type, source):
    """One Latin-1 "ü" pasted into a UTF-8 page becomes one U+FFFD, not a legacy code page
    for the whole page (real pages were read as cp1250 and cp1006)."""
    body = GERMAN.encode("utf-8") + "Gr\u00fc\u00dfe".encode("latin-1") + GERMAN.encode("utf-8")
    d = decode(body, content_type)
    assert (d.charset, d.source, d.mismatch) == ("utf-8", source, False)
    assert "schön" in d.text and "Vögel" in d.text and d.text.count("\ufffd") == 2


def test_legacy_text_is_not_taken_for_utf8():
    d = decode(GERMAN.encode("cp1252"), "text/html")
    assert d.charset != "utf-8" and d.source == "detected" and d.text == GERMAN


@pytest.mark.parametrize("label, codec", [("gb2312", "gb18030"), ("GBK", "gb18030"), ("iso-8859-9", "cp1254"),
                                          ("tis-620", "cp874"), ("euc-kr", "cp949"), ("latin1", "cp1252")])
def test_labels_decode_as_browsers_do(label, codec):
    assert codec_name(label) == codec


def test_gb2312_page_gets_the_gbk_em_dash():
    body = '<meta charset="gb2312"><p>演员喊出铿锵誓言———“兄弟，放心吧！”</p>'.encode("gb18030")
    d = decode(body)
    assert (d.charset, d.source) == ("gb18030", "meta") and "誓言———“兄弟" in d.text


def test_header_beats_meta():
    body = f'<meta charset="utf-8">{FRENCH}'.encode("cp1252")
    d = decode(body, "text/html; charset=windows-1252")
    assert (d.charset, d.source, d.mismatch) == ("cp1252", "header", False)


def test_meta_claiming_utf16_is_ignored():
    body = f'<meta charset="utf-16">{FRENCH}'.encode()
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

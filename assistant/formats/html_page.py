"""HTML news pages: the article body and its metadata, by trafilatura (dates by htmldate inside it)."""

from __future__ import annotations

import codecs
import datetime as dt
import re

from ..errors import ArticleError
from . import Document
from .text import field, is_title, iso_date, require, tidy

_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
# Browsers read these labels as windows-1252 (WHATWG Encoding): pages that say latin-1 use its quotes and dashes.
_AS_1252 = {"ascii", "iso8859-1"}
_LOWER = "translate(concat(@id, ' ', @class), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
# trafilatura's own extractor drops consent banners and ads, but its fallbacks (readability, justext) may not: on a
# page with no article they would return the banner or the menu as "the text". The article's containers are kept.
_PRUNE = [
    "//nav | //footer | //aside | //*[@role='navigation' or @role='contentinfo' or @role='complementary']",
    f"//*[not(self::html or self::body or self::main or self::article)][not(.//article or .//main or .//h1)]"
    f"[contains({_LOWER}, 'cookie') or contains({_LOWER}, 'consent') or contains({_LOWER}, 'gdpr')"
    f" or contains({_LOWER}, 'advert')]",
]
_NO_ARTICLE = "no article text found in this HTML page (is it a front page or an index?): give the article's own page"


def read_html(data: bytes, name: str) -> Document:
    """A news page: trafilatura's main text (no navigation, ads, comments, scripts), title, author, date, site, URL."""
    # Imported here: trafilatura brings lxml, htmldate, justext and more, which only an HTML upload should pay for.
    import trafilatura

    try:
        page = trafilatura.bare_extraction(
            _decoded(data),
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            include_formatting=False,
            favor_precision=True,  # an index page then yields nothing, not a list of headlines
            deduplicate=False,
            prune_xpath=_PRUNE,
            # Dates from the page's metadata, <time> elements and URL only: htmldate's extensive search also reads
            # dates in the text, and takes "Copyright 2025" on a page without one for 2025-01-01.
            date_extraction_params={"original_date": True, "extensive_search": False, "max_date": _today()},
        )
    except Exception:  # lxml or a fallback extractor failing on a malformed page
        raise ArticleError(f"article {name}: this HTML page cannot be read (damaged?): save the page again") from None
    if page is None:
        raise ArticleError(f"article {name}: {_NO_ARTICLE}")
    title = field(page.title)
    lines = tidy(page.text or "")
    if lines and is_title(lines[0], title):
        lines = lines[1:]  # the title is metadata, shown in a header; the body is what follows it
    lines = [line.removeprefix("- ") for line in lines]  # trafilatura writes list items as "- item"
    lines = [line for line in lines if line]
    if not lines:
        raise ArticleError(f"article {name}: {_NO_ARTICLE}")
    url = page.url if isinstance(page.url, str) and re.match(r"https?://\S+\Z", page.url) else None
    return Document(
        text=require(lines, name),
        format="html",
        title=title,
        author=field(page.author),
        date=iso_date(page.date),
        source=field(page.sitename),
        url=url,
    )


def _today() -> str:
    return dt.date.today().isoformat()


# The page as text: UTF-8, else the charset its <meta> declares; else bytes, for trafilatura to guess.
def _decoded(data: bytes) -> str | bytes:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.lstrip()[:5].lower() == b"<?xml":
        return data  # lxml refuses a str that carries an encoding declaration; it reads the bytes by it
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    m = _CHARSET.search(data[:4096])
    if m:
        try:
            encoding = codecs.lookup(m[1].decode("ascii")).name
        except LookupError:
            return data
        if encoding.startswith(("utf-16", "utf-32")):
            return data  # an ASCII-compatible page cannot be UTF-16: the declaration is wrong
        return data.decode("cp1252" if encoding in _AS_1252 else encoding, "replace")
    return data

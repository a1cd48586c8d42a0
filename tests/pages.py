"""What a reader sees of a page, for tests that check its words rather than its markup."""

from __future__ import annotations

import html
import re


def visible_text(page: str) -> str:
    """The page without script, style, comments or tags (with their attributes: ``value="..."`` and
    ``datetime="..."`` are for machines), its white space collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return re.sub(r" ([:,.;)])", r"\1", text)  # "<strong>Soreness</strong>: ..." reads "Soreness: ..."

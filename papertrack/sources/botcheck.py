"""Bot-check pages: HTML where JSON or XML was expected.

Since September 2026 dblp answers scripts on its search API and XML exports with Anubis'
proof-of-work page (status 200 or 500; gianlucasb/hallucinator#326, szeider/mcp-dblp#7). A
client that reads such a page as data fails with a misleading parse error, or worse, takes
it for an empty result and replaces good data with nothing. `bot_check` recognises it by
its markers, wherever papertrack expects data: HTTP bodies and downloaded files alike.
"""

from __future__ import annotations

MARKERS = {
    b"making sure you&#39;re not a bot": "Anubis",
    b"making sure you're not a bot": "Anubis",
    b"/.within.website/": "Anubis",
    b"anubis_challenge": "Anubis",
    b"/cdn-cgi/challenge-platform/": "Cloudflare",
}
HEAD = 64 * 1024  # the markers sit in the page's head and first script


def looks_like_html(head: bytes) -> bool:
    """Whether a body starts as an HTML document (after a BOM and white space)."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:256].lower()
    return start.startswith((b"<!doctype html", b"<html")) or (b"<head" in start and b"<?xml" not in start)


def bot_check(body: bytes, content_type: str | None = None) -> str | None:
    """The name of the bot check (`Anubis`) if `body` is a bot-check page, else None.

    Only HTML counts (by `content_type` or by how the body starts), so a JSON or XML answer
    that merely mentions a marker in a title is never mistaken for one."""
    head = body[:HEAD]
    html = "html" in (content_type or "").lower() or looks_like_html(head)
    if not html:
        return None
    lowered = head.lower()
    return next((name for marker, name in MARKERS.items() if marker in lowered), None)

"""Where a form may send the user back to: only a path of this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None.

    Browsers drop tabs and line breaks from a URL and read a backslash as a
    slash, so ``/\\t/example.org`` or ``/\\example.org`` would lead to another
    site: a target with any control character, white space or backslash is
    refused, as is one that starts with ``//`` or names a scheme or host.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ord(c) < 0x21 or c in {"\x7f", "\\"} for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target

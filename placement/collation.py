"""Sorting names as a Nordic reader expects, whatever the database's collation."""

from __future__ import annotations

import unicodedata

_AFTER_Z = {"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}"}


def swedish_key(text: str) -> str:
    """Sort key in Swedish alphabetical order, independent of the database's collation.

    Case is ignored, å, ä and ö come after z, and other accents are ignored (é sorts as e).
    """
    key: list[str] = []
    for char in unicodedata.normalize("NFC", text).casefold():
        if char in _AFTER_Z:
            key.append(_AFTER_Z[char])
        else:
            key.extend(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return "".join(key)

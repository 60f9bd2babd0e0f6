"""Every user-facing string has an English translation, and the catalogue is compiled."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "web" / "translations" / "en" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "_l": None,
    "lazy_gettext": None,
    "_lp": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
}


def _source_ids() -> set[tuple[str | None, str]]:
    ids: set[tuple[str | None, str]] = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(ROOT / "web", METHODS, keywords=KEYWORDS):
        ids.add((context, message if isinstance(message, str) else message[0]))
    return ids


def _key(message_id: object, context: str | None = None) -> tuple[str | None, str]:
    """A message's context and id: the singular of a plural message."""
    singular = message_id if isinstance(message_id, str) else str(next(iter(message_id)))  # type: ignore[call-overload]
    return context, singular


def _translation(string: object) -> tuple[str, ...]:
    """A translation as a tuple: every plural form of a plural message; empty when any form is missing."""
    forms = (string,) if isinstance(string, str) else tuple(string)  # type: ignore[arg-type]
    return forms if forms and all(forms) else ()


def test_every_string_in_the_code_is_translated_to_english() -> None:
    with (CATALOGUE / "messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    translated = {_key(m.id, m.context) for m in catalogue if m.id and _translation(m.string) and not m.fuzzy}
    missing = sorted(_source_ids() - translated)
    assert missing == [], f"run pybabel extract/update and translate: {missing}"


def test_compiled_catalogue_matches_the_po_file() -> None:
    with (CATALOGUE / "messages.po").open("rb") as fh:
        po = {_key(m.id, m.context): _translation(m.string) for m in read_po(fh) if m.id and _translation(m.string)}
    mo = {
        _key(m.id, m.context): _translation(m.string)
        for m in read_mo(io.BytesIO((CATALOGUE / "messages.mo").read_bytes()))
        if m.id
    }
    assert po == mo, "run: pybabel compile -d web/translations"

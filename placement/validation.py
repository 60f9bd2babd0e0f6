"""Field checks shared by the services.

Each check appends a message naming the record and the field to ``problems``
and returns the cleaned value, so that a service can report every problem of
its input at once before it writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL = 254


def normalise_tags(tags: Iterable[object] | None) -> list[str]:
    """Tags as they are stored and compared: trimmed, case-folded, each once, in their order.

    A pupil's ``attributes`` and an offer's ``requirements`` both pass here
    (the models' validators), so the eligibility rule and the solver compare
    them exactly and agree whatever case a file or a form used.
    """
    if tags is None:
        return []
    if isinstance(tags, str):
        raise TypeError("tags must be a list of strings, not one string")
    return list(dict.fromkeys(clean for tag in tags if (clean := " ".join(str(tag).split()).casefold())))


def text(problems: list[str], label: str, field: str, value: object, *, max_length: int) -> str:
    cleaned = value.strip() if isinstance(value, str) else ""
    if not cleaned:
        problems.append(f"{label}: {field} is required")
    elif len(cleaned) > max_length:
        problems.append(f"{label}: {field} is longer than {max_length} characters")
    return cleaned


def optional_text(problems: list[str], label: str, field: str, value: object, *, max_length: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return text(problems, label, field, value, max_length=max_length)


def email(problems: list[str], label: str, field: str, value: object) -> str:
    """A required e-mail address, normalised and in lower case (unique constraints hold case-insensitively)."""
    found = optional_email(problems, label, field, value)
    if found is None:
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"{label}: {field} is required")
        return ""
    return found.lower()


class InvalidEmail(ValueError):
    """Not an e-mail address; the message says why (from ``email-validator``)."""


def normalise_email(value: str) -> str:
    """The one rule for e-mail addresses: checked and normalised by ``email-validator`` (no DNS lookup).

    Raises :class:`InvalidEmail`.  Addresses that must be unique (accounts)
    are also lower-cased by :func:`email`.
    """
    try:
        normalised = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    if len(normalised) > MAX_EMAIL:
        raise InvalidEmail(f"it is longer than {MAX_EMAIL} characters")
    return normalised


def optional_email(problems: list[str], label: str, field: str, value: object) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        problems.append(f"{label}: {field} must be text")
        return None
    try:
        return normalise_email(value)
    except InvalidEmail as exc:
        if len(value.strip()) > MAX_EMAIL or str(exc).startswith("it is longer"):
            problems.append(f"{label}: {field} is longer than {MAX_EMAIL} characters")
        else:
            problems.append(f'{label}: {field} "{value.strip()}" is not a valid e-mail address ({exc})')
        return None

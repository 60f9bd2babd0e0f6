"""Writing the audit log: who changed what, when, from what to what."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.orm import Session

from placement.models import AuditEvent, User


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user, or a process such as the CLI or the scheduler."""

    label: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(label=f"user:{user.id}", user_id=user.id)


CLI = Actor("cli")
SCHEDULER = Actor("scheduler")
SYSTEM = Actor("system")


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event.  ``before``/``after`` hold only the fields that changed."""
    event = AuditEvent(
        actor=actor.label,
        actor_id=actor.user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def changes(obj: Any, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply ``fields`` to ``obj`` and return (before, after) of what really changed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in fields.items():
        old = getattr(obj, name)
        if old != value:
            before[name] = plain(old)
            after[name] = plain(value)
            setattr(obj, name, value)
    return before, after


def plain(value: Any) -> Any:
    """A JSON-ready form of ``value`` (dates as ISO text)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value

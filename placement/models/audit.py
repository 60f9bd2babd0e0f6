"""The append-only audit log and the geocoding cache."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from placement.db import Base, enum_column, intpk, utcnow
from placement.enums import GeoStatus


class AuditEvent(Base):
    """Who changed what, when, from what to what.  Rows are never updated.

    The database refuses UPDATE on this table (a trigger created by the
    migrations).  ``before`` and ``after`` hold the changed fields only.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    #: Who acted, readable even after the account is gone: "user:12", "cli", "scheduler".
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.entity_type}:{self.entity_id}>"


class GeocodeCache(Base):
    """One geocoder answer per normalised address, so each address is looked up once."""

    __tablename__ = "geocode_cache"

    id: Mapped[intpk]
    query: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[GeoStatus] = enum_column(GeoStatus)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    display_name: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[str | None] = mapped_column(String(500))
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<GeocodeCache {self.query!r} {self.status.value}>"

"""Municipalities, schools with their classes, and the placement periods."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.db import Base, created_at, enum_column, intpk
from placement.enums import GeoStatus

if TYPE_CHECKING:
    from placement.models.people import Pupil


class Region(Base):
    """The region (or the single municipality) this installation serves: its name and its coordinators' address.

    One row at most; its coordinators are those without a municipality.
    """

    __tablename__ = "region"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(120))
    #: Where schools, employers and families write with questions (shown on the public pages).
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[created_at]

    def __repr__(self) -> str:
        return f"<Region {self.name!r}>"


class Municipality(Base):
    __tablename__ = "municipality"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: The official four-digit municipality code (kommunkod), e.g. "1480" for Göteborg.
    code: Mapped[str | None] = mapped_column(String(8), unique=True)
    created_at: Mapped[created_at]

    schools: Mapped[list[School]] = relationship(back_populates="municipality")

    def __repr__(self) -> str:
        return f"<Municipality {self.id} {self.name!r}>"


class Period(Base):
    """A placement period, usually one or two school weeks."""

    __tablename__ = "period"
    __table_args__ = (
        UniqueConstraint("code", name="uq_period_code"),
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
    )

    id: Mapped[intpk]
    #: Short id used in instance files and exports, e.g. "w45".
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)

    def __repr__(self) -> str:
        return f"<Period {self.code} {self.start_date}..{self.end_date}>"


class School(Base):
    __tablename__ = "school"
    __table_args__ = (
        UniqueConstraint("code", name="uq_school_code"),
        CheckConstraint("need_index > 0", name="need_index_positive"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
    )

    id: Mapped[intpk]
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id", ondelete="RESTRICT"), index=True)
    #: Short id used in instance files and imports, e.g. "S01" or a school unit code.
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    geo_status: Mapped[GeoStatus] = enum_column(GeoStatus, default=GeoStatus.PENDING)
    #: Socioeconomic need of the school, higher is greater need; 1.0 is average.
    need_index: Mapped[float] = mapped_column(default=1.0)
    created_at: Mapped[created_at]

    municipality: Mapped[Municipality] = relationship(back_populates="schools")
    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school", order_by="SchoolClass.name")

    def __repr__(self) -> str:
        return f"<School {self.code} {self.name!r}>"


class SchoolClass(Base):
    """A class (e.g. 8B) and the period in which it goes on placement."""

    __tablename__ = "school_class"
    __table_args__ = (
        UniqueConstraint("school_id", "name", name="uq_school_class_school_id_name"),
        CheckConstraint("year BETWEEN 7 AND 10", name="year_range"),
    )

    id: Mapped[intpk]
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(default=8)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("period.id", ondelete="SET NULL"), index=True)

    school: Mapped[School] = relationship(back_populates="classes")
    period: Mapped[Period | None] = relationship()
    pupils: Mapped[list[Pupil]] = relationship(back_populates="school_class")

    def __repr__(self) -> str:
        return f"<SchoolClass {self.id} {self.name!r}>"

"""Employers, their workplaces, and the placement offers they post."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from placement.collation import swedish_key
from placement.db import Base, created_at, enum_column, intpk
from placement.enums import EmployerStatus, GeoStatus, OfferKind, OfferStatus, Sector
from placement.validation import normalise_tags

if TYPE_CHECKING:
    from placement.models.organisation import Municipality, Period, School
    from placement.models.people import User

offer_school = Table(
    "offer_school",
    Base.metadata,
    Column("offer_id", ForeignKey("offer.id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", ForeignKey("school.id", ondelete="CASCADE"), primary_key=True),
)


#: The employers that are registered: a school's entry for a pupil's self-arranged placement is not one.
REGISTERED = "entered_by_school_id IS NULL"


class Employer(Base):
    """An organisation offering placements.  Its offers are visible only once approved.

    A school that enters a placement a pupil arranged themselves makes an
    employer record of its own (``entered_by_school_id``): it stays the
    school's, outside the company's own records, until the company's contact
    or a coordinator accepts it, and it never blocks the company's own
    registration (organisation numbers are unique among registered employers only).
    """

    __tablename__ = "employer"
    __table_args__ = (
        Index(
            "uq_employer_org_number",
            "org_number",
            unique=True,
            sqlite_where=text(REGISTERED),
            postgresql_where=text(REGISTERED),
        ),
    )

    id: Mapped[intpk]
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id", ondelete="SET NULL"))
    #: The school whose entry this is, until it is accepted (see the class's docstring).
    entered_by_school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="RESTRICT"), index=True)
    #: Short id used in instance files, e.g. "E001".
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Swedish organisation number, normalised to NNNNNN-NNNN.
    org_number: Mapped[str] = mapped_column(String(11))
    status: Mapped[EmployerStatus] = enum_column(EmployerStatus, default=EmployerStatus.PENDING)
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[created_at]

    municipality: Mapped[Municipality | None] = relationship()
    entered_by_school: Mapped[School | None] = relationship()
    reviewed_by: Mapped[User | None] = relationship()
    workplaces: Mapped[list[Workplace]] = relationship(back_populates="employer", cascade="all, delete-orphan")
    offers: Mapped[list[Offer]] = relationship(back_populates="employer")

    @property
    def approved(self) -> bool:
        return self.status is EmployerStatus.APPROVED

    @property
    def is_school_entry(self) -> bool:
        return self.entered_by_school_id is not None

    def __repr__(self) -> str:
        return f"<Employer {self.code} {self.name!r}>"


class Workplace(Base):
    __tablename__ = "workplace"
    __table_args__ = (
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
    )

    id: Mapped[intpk]
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    geo_status: Mapped[GeoStatus] = enum_column(GeoStatus, default=GeoStatus.PENDING)

    employer: Mapped[Employer] = relationship(back_populates="workplaces")

    def __repr__(self) -> str:
        return f"<Workplace {self.id} {self.name!r}>"


class Offer(Base):
    __tablename__ = "offer"
    __table_args__ = (CheckConstraint("min_age IS NULL OR (min_age BETWEEN 12 AND 20)", name="min_age_range"),)

    id: Mapped[intpk]
    #: Short id used in instance files, e.g. "O0001".
    code: Mapped[str] = mapped_column(String(40), unique=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id", ondelete="RESTRICT"), index=True)
    workplace_id: Mapped[int] = mapped_column(ForeignKey("workplace.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[OfferKind] = enum_column(OfferKind, default=OfferKind.CATALOGUE)
    status: Mapped[OfferStatus] = enum_column(OfferStatus, default=OfferStatus.ACTIVE)
    title: Mapped[str] = mapped_column(String(200))
    #: The title's sort key in Swedish order (:func:`placement.collation.swedish_key`), kept with the title,
    #: so that lists sort in SQL alike on both databases.
    title_key: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    sector: Mapped[Sector] = enum_column(Sector)
    min_age: Mapped[int | None]
    #: Tags a pupil must have, e.g. ["swedish"]; see Pupil.attributes.
    requirements: Mapped[list[str]] = mapped_column(default=list)

    #: Working hours as the employer writes them, e.g. "08.00–15.00, lunch 11.30".
    hours: Mapped[str | None] = mapped_column(String(200))
    #: What the pupil should bring or wear.
    bring: Mapped[str | None] = mapped_column(Text)
    supervisor_name: Mapped[str | None] = mapped_column(String(200))
    supervisor_phone: Mapped[str | None] = mapped_column(String(40))
    supervisor_email: Mapped[str | None] = mapped_column(String(254))
    #: When the employer confirmed a risk assessment for minors (AFS 2012:3), and who did.
    risk_assessment_confirmed_at: Mapped[dt.datetime | None]
    risk_assessment_confirmed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_at]

    employer: Mapped[Employer] = relationship(back_populates="offers")
    workplace: Mapped[Workplace] = relationship()
    capacities: Mapped[list[OfferCapacity]] = relationship(
        back_populates="offer", cascade="all, delete-orphan", order_by="OfferCapacity.period_id"
    )
    #: When not empty, only pupils of these schools are eligible.
    schools: Mapped[list[School]] = relationship(secondary=offer_school, order_by="School.code")

    @validates("requirements")
    def _normalise_requirements(self, _key: str, value: list[str] | None) -> list[str]:
        return normalise_tags(value)

    @validates("title")
    def _keep_title_key(self, _key: str, value: str) -> str:
        self.title_key = swedish_key(value or "")[:200]
        return value

    def __repr__(self) -> str:
        return f"<Offer {self.code} {self.title!r}>"


class OfferCapacity(Base):
    """How many pupils an offer takes in one period."""

    __tablename__ = "offer_capacity"
    __table_args__ = (
        UniqueConstraint("offer_id", "period_id", name="uq_offer_capacity_offer_id_period_id"),
        CheckConstraint("places >= 0", name="places_not_negative"),
    )

    id: Mapped[intpk]
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="CASCADE"))
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id", ondelete="RESTRICT"), index=True)
    places: Mapped[int]

    offer: Mapped[Offer] = relationship(back_populates="capacities")
    period: Mapped[Period] = relationship()

    def __repr__(self) -> str:
        return f"<OfferCapacity offer={self.offer_id} period={self.period_id} places={self.places}>"

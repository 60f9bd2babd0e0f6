"""Users, their memberships, and pupils.

Pupils are minors: only what allocation and contact need is stored.  There is
no personal identity number and no home address.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from placement.db import Base, created_at, enum_column, intpk, utcnow
from placement.enums import Gender, Role
from placement.validation import normalise_tags

if TYPE_CHECKING:
    from placement.models.employers import Employer, Offer
    from placement.models.organisation import Municipality, School, SchoolClass


class User(Base):
    """Anyone who logs in.  Pupils log in with a personal code, not an e-mail."""

    __tablename__ = "user_account"
    __table_args__ = (
        UniqueConstraint("email", name="uq_user_account_email"),
        UniqueConstraint("pupil_id", name="uq_user_account_pupil_id"),
        UniqueConstraint("login_code_id", name="uq_user_account_login_code_id"),
        CheckConstraint("(role = 'pupil') = (pupil_id IS NOT NULL)", name="pupil_role_has_pupil"),
        CheckConstraint("municipality_id IS NULL OR role = 'coordinator'", name="municipality_only_for_coordinators"),
    )

    id: Mapped[intpk]
    role: Mapped[Role] = enum_column(Role)
    email: Mapped[str | None] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(256))
    #: A pupil's personal login code is ``<login_code_id>-<secret>``: the id finds
    #: the account, the hash of the whole code checks it (handed out by the school).
    login_code_id: Mapped[str | None] = mapped_column(String(16))
    login_code_hash: Mapped[str | None] = mapped_column(String(256))
    pupil_id: Mapped[int | None] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"))
    #: A coordinator of one municipality sees and acts on its schools only; without one, of the whole region.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id", ondelete="RESTRICT"), index=True)
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[dt.datetime | None]
    #: Bumped on logout and password change; a session carrying an older value is void.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[created_at]
    last_login_at: Mapped[dt.datetime | None]

    pupil: Mapped[Pupil | None] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    school_memberships: Mapped[list[SchoolMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    employer_memberships: Mapped[list[EmployerMembership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Flask-Login's protocol, implemented here so that placement imports no Flask.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class SchoolMembership(Base):
    """A staff member (study and career counsellor, teacher) of a school."""

    __tablename__ = "school_membership"
    __table_args__ = (UniqueConstraint("user_id", "school_id", name="uq_school_membership_user_id_school_id"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(back_populates="school_memberships")
    school: Mapped[School] = relationship()


class EmployerMembership(Base):
    """A contact person of an employer."""

    __tablename__ = "employer_membership"
    __table_args__ = (UniqueConstraint("user_id", "employer_id", name="uq_employer_membership_user_id_employer_id"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(back_populates="employer_memberships")
    employer: Mapped[Employer] = relationship()


class Invitation(Base):
    """An invitation to an account, mailed as a signed link that works once and expires.

    Accepting it creates the account (or, for an address that has one of the
    same role, adds the membership) and sets ``accepted_at``; a resend makes a
    new ``nonce``, so the links sent before stop working; a withdrawn, accepted
    or expired invitation is refused.
    """

    __tablename__ = "invitation"
    __table_args__ = (
        CheckConstraint("role <> 'pupil'", name="not_for_pupils"),
        CheckConstraint("(role = 'school_staff') = (school_id IS NOT NULL)", name="school_staff_has_school"),
        CheckConstraint(
            "(role = 'employer_contact') = (employer_id IS NOT NULL)", name="employer_contact_has_employer"
        ),
        CheckConstraint("municipality_id IS NULL OR role = 'coordinator'", name="municipality_only_for_coordinators"),
    )

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), index=True)
    #: The name the inviter wrote; the invited person may change it on accepting.
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = enum_column(Role)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), index=True)
    employer_id: Mapped[int | None] = mapped_column(ForeignKey("employer.id", ondelete="CASCADE"), index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id", ondelete="CASCADE"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    sent_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    #: Part of the signed link; a resend replaces it, so only the newest link works.
    nonce: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[dt.datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    withdrawn_at: Mapped[dt.datetime | None]

    school: Mapped[School | None] = relationship()
    employer: Mapped[Employer | None] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.role.value}>"


class Pupil(Base):
    __tablename__ = "pupil"
    __table_args__ = (
        UniqueConstraint("school_id", "external_id", name="uq_pupil_school_id_external_id"),
        CheckConstraint("birth_month BETWEEN 1 AND 12", name="birth_month_range"),
        CheckConstraint("birth_year BETWEEN 1990 AND 2100", name="birth_year_range"),
        Index("ix_pupil_school_id_class_id", "school_id", "class_id"),
    )

    id: Mapped[intpk]
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="RESTRICT"))
    class_id: Mapped[int] = mapped_column(ForeignKey("school_class.id", ondelete="RESTRICT"), index=True)
    #: The school's own pupil id, if its export has one (never a personal identity number).
    external_id: Mapped[str | None] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    #: Used only to measure and balance outcomes, never to decide eligibility.
    gender: Mapped[Gender | None] = enum_column(Gender, nullable=True)
    birth_year: Mapped[int]
    birth_month: Mapped[int]
    #: Tags matched against offers' requirements, e.g. ["swedish", "english"].
    attributes: Mapped[list[str]] = mapped_column(default=list)

    #: A placement the pupil arranged outside the round; it is locked in every round.
    self_arranged_offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("offer.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[created_at]

    school: Mapped[School] = relationship()
    school_class: Mapped[SchoolClass] = relationship(back_populates="pupils")
    self_arranged_offer: Mapped[Offer | None] = relationship(foreign_keys=[self_arranged_offer_id])

    @validates("attributes")
    def _normalise_attributes(self, _key: str, value: list[str] | None) -> list[str]:
        return normalise_tags(value)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day: dt.date) -> int:
        """Age in whole years on ``day``.

        Only the birth month is stored, so a pupil whose birthday falls in the
        month of ``day`` is counted as not yet having had it: the conservative
        choice for work-environment rules about minors.
        """
        age = day.year - self.birth_year
        if day.month <= self.birth_month:
            age -= 1
        return age

    def __repr__(self) -> str:
        return f"<Pupil {self.id}>"


class LoginFailure(Base):
    """A failed login, kept for a while so that repeated failures can be slowed down.

    ``key`` says what failed: ``email:<address>``, ``ip:<address>`` or
    ``code:<address>`` (pupil codes, per client address).
    """

    __tablename__ = "login_failure"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

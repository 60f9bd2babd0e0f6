"""Closed sets of the domain, stored by value."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    SCHOOL_STAFF = "school_staff"
    EMPLOYER_CONTACT = "employer_contact"
    PUPIL = "pupil"


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class Sector(enum.StrEnum):
    """The fixed list of sectors an offer belongs to (about 15, as regions use)."""

    HEALTH = "health"
    EDUCATION = "education"
    RETAIL = "retail"
    HOSPITALITY = "hospitality"
    CONSTRUCTION = "construction"
    MANUFACTURING = "manufacturing"
    IT = "it"
    TRANSPORT = "transport"
    OFFICE = "office"
    CULTURE = "culture"
    PUBLIC = "public"
    AGRICULTURE = "agriculture"
    VEHICLES = "vehicles"
    BEAUTY = "beauty"
    SPORTS = "sports"
    SCIENCE = "science"


class GeoStatus(enum.StrEnum):
    """Where a location's coordinates came from, or why there are none."""

    PENDING = "pending"  # not geocoded yet
    OK = "ok"  # geocoded, plausible
    MANUAL = "manual"  # coordinates given directly
    NOT_FOUND = "not_found"  # the geocoder knew no such address
    IMPLAUSIBLE = "implausible"  # an answer outside the country or the region
    FAILED = "failed"  # the geocoder could not be reached or answered an error


class EmployerStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class OfferStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class OfferKind(enum.StrEnum):
    CATALOGUE = "catalogue"  # posted by an employer, visible to pupils
    SELF_ARRANGED = "self_arranged"  # a placement a pupil found outside the round


class RoundStatus(enum.StrEnum):
    DRAFT = "draft"
    SOLVING = "solving"
    PROPOSED = "proposed"
    PUBLISHED = "published"
    CLOSED = "closed"
    FAILED = "failed"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    """What a solve job does to its round."""

    INITIAL = "initial"
    """Solve a draft, proposed or failed round into a proposal."""
    INCREMENTAL = "incremental"
    """Propose changes to a published round (pupils who lost their place, new pupils)."""


class ArtifactKind(enum.StrEnum):
    """What a round artifact keeps verbatim."""

    INSTANCE = "instance"
    RESULT = "result"


class MailKind(enum.StrEnum):
    """The message an outbox row was written from: one template each (``placement/mail/templates``)."""

    VERIFY_EMAIL = "verify_email"
    WINDOW_OPEN = "window_open"
    SCHOOL_REMINDER = "school_reminder"
    EMPLOYER_REMINDER = "employer_reminder"
    ROUND_PUBLISHED = "round_published"
    ROUND_AUTO_RUN = "round_auto_run"
    PLACEMENT_CONFIRMED = "placement_confirmed"
    PLACEMENTS_RELEASED = "placements_released"
    WEEKLY_DIGEST = "weekly_digest"
    ACCOUNT_CREATED = "account_created"
    PASSWORD_RESET = "password_reset"  # noqa: S105  (a mail kind, not a password)
    INVITATION = "invitation"
    ACCOUNT_EXISTS = "account_exists"


class AssignmentStatus(enum.StrEnum):
    PROPOSED = "proposed"
    PUBLISHED = "published"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    LOCKED = "locked"


#: Assignments that are in force: a pupil has at most one of these per period.
ACTIVE_ASSIGNMENT_STATUSES = (
    AssignmentStatus.PUBLISHED,
    AssignmentStatus.CONFIRMED,
    AssignmentStatus.LOCKED,
)
#: Assignments that hold a place of an offer in a period: those in force and those proposed.
HOLDS_PLACE = (*ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus.PROPOSED)


class UnansweredRule(enum.StrEnum):
    """What happens at the confirmation deadline to placements the employer has not answered."""

    CONFIRM = "confirm"  # silence is consent: the placement stands as confirmed
    RELEASE = "release"  # the place is given up and the pupil placed again


class MailState(enum.StrEnum):
    QUEUED = "queued"  # waiting for its first or next attempt
    SENDING = "sending"  # claimed by a sender; becomes sent or queued again
    SENT = "sent"  # the SMTP server accepted it
    FAILED = "failed"  # refused for good, or its outcome is unknown: a coordinator may resend


class JobRunState(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

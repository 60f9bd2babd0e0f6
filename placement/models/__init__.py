"""Every model, re-exported so that Alembic and callers see them all."""

from placement.models.audit import AuditEvent, GeocodeCache
from placement.models.employers import Employer, Offer, OfferCapacity, Workplace, offer_school
from placement.models.organisation import Municipality, Period, School, SchoolClass
from placement.models.people import EmployerMembership, Pupil, SchoolMembership, User
from placement.models.rounds import (
    AllocationRound,
    Assignment,
    Preference,
    PreferenceWindow,
    round_period,
)

__all__ = [
    "AllocationRound",
    "Assignment",
    "AuditEvent",
    "Employer",
    "EmployerMembership",
    "GeocodeCache",
    "Municipality",
    "Offer",
    "OfferCapacity",
    "Period",
    "Preference",
    "PreferenceWindow",
    "Pupil",
    "School",
    "SchoolClass",
    "SchoolMembership",
    "User",
    "Workplace",
    "offer_school",
    "round_period",
]

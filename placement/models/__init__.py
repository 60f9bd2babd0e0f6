"""Every model, re-exported so that Alembic and callers see them all."""

from placement.models.audit import AuditEvent, GeocodeCache
from placement.models.employers import Employer, Offer, OfferCapacity, Workplace, offer_school
from placement.models.operations import JobRun, OutboxMessage, PurgeRecord, RoundStatistics
from placement.models.organisation import Municipality, Period, School, SchoolClass
from placement.models.people import EmployerMembership, Pupil, SchoolMembership, User
from placement.models.rounds import (
    AllocationRound,
    Assignment,
    ManualPlacement,
    Preference,
    PreferenceWindow,
    RoundArtifact,
    SolveJob,
    round_period,
)

__all__ = [
    "AllocationRound",
    "Assignment",
    "AuditEvent",
    "Employer",
    "EmployerMembership",
    "GeocodeCache",
    "JobRun",
    "ManualPlacement",
    "Municipality",
    "Offer",
    "OfferCapacity",
    "OutboxMessage",
    "Period",
    "Preference",
    "PreferenceWindow",
    "Pupil",
    "PurgeRecord",
    "RoundArtifact",
    "RoundStatistics",
    "School",
    "SchoolClass",
    "SchoolMembership",
    "SolveJob",
    "User",
    "Workplace",
    "offer_school",
    "round_period",
]

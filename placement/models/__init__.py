"""Every model, re-exported so that Alembic and callers see them all."""

from placement.models.audit import AuditEvent, GeocodeCache
from placement.models.distances import SchoolDistance
from placement.models.employers import Employer, Offer, OfferCapacity, Workplace, offer_school
from placement.models.operations import JobRun, OutboxMessage, PurgeRecord, RoundStatistics, StagedUpload
from placement.models.organisation import Municipality, Period, Region, School, SchoolClass
from placement.models.people import EmployerMembership, Invitation, LoginFailure, Pupil, SchoolMembership, User
from placement.models.rounds import (
    AllocationRound,
    Assignment,
    ManualPlacement,
    PlacementFeedback,
    Preference,
    PreferenceWindow,
    PupilEvaluation,
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
    "Invitation",
    "JobRun",
    "LoginFailure",
    "ManualPlacement",
    "Municipality",
    "Offer",
    "OfferCapacity",
    "OutboxMessage",
    "Period",
    "PlacementFeedback",
    "Preference",
    "PreferenceWindow",
    "Pupil",
    "PupilEvaluation",
    "PurgeRecord",
    "Region",
    "RoundArtifact",
    "RoundStatistics",
    "School",
    "SchoolClass",
    "SchoolDistance",
    "SchoolMembership",
    "SolveJob",
    "StagedUpload",
    "User",
    "Workplace",
    "offer_school",
    "round_period",
]

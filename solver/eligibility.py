"""Eligibility of a student for an offer, with the reason when not eligible.

A student is eligible for an offer when the offer has places in the
student's period, the student is at least ``min_age``, has every
``requires`` tag, belongs to one of the offer's ``schools`` if that list is
present, and (extension) the offer is not in the student's
``excluded_offers`` (the employer declined this pupil in an earlier round).
"""

from __future__ import annotations

from solver.model import Offer, Student


def ineligibility(student: Student, offer: Offer) -> str | None:
    """Why ``student`` is not eligible for ``offer``; None when eligible."""
    reasons: list[str] = []
    if offer.places(student.period) <= 0:
        reasons.append(f"no place in {student.period}")
    if offer.min_age is not None and student.age < offer.min_age:
        reasons.append(f"min_age {offer.min_age}")
    missing = sorted(offer.requires - student.attributes)
    if missing:
        reasons.append("requires " + ", ".join(missing))
    if offer.schools is not None and student.school not in offer.schools:
        reasons.append(f"not open to school {student.school}")
    if offer.id in student.excluded_offers:
        reasons.append("declined by employer")
    return "; ".join(reasons) if reasons else None

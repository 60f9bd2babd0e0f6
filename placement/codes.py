"""Codes of new records: ``E0418`` for an employer, ``O00008`` for an offer.

A new code follows the highest number in use in its series.  Registering,
posting an offer, a self-arranged placement and the employer import all take
their codes here, so that the series cannot drift apart; :meth:`Series.add`
retries in a savepoint when another process took the code meanwhile.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from placement.db import violated_constraint
from placement.errors import Conflict
from placement.models import Employer, Offer

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How often a code taken meanwhile is tried again with the next one.
ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class Series:
    """One series of codes: ``<prefix><number>``, zero-padded to ``width``, unique by ``constraint``."""

    column: InstrumentedAttribute[str]
    prefix: str
    width: int
    constraint: str

    def following(self, session: Session) -> Iterator[str]:
        """The free codes after the highest number in use, in order (for many new records at once)."""
        return (self.code(n) for n in itertools.count(highest(session, self) + 1))

    def code(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"

    def add(self, session: Session, build: Callable[[str], T]) -> T:
        """Build new objects with the next free code, add them and flush; retry when the code was taken meanwhile.

        ``build(code)`` creates the objects and adds them to the session.  Each
        attempt runs in a savepoint and builds afresh, so a lost race leaves
        nothing behind.  Other integrity errors propagate for the caller to map.
        """
        for _attempt in range(ATTEMPTS):
            code = next_code(session, self)
            try:
                with session.begin_nested():
                    built = build(code)
                    session.flush()
            except IntegrityError as exc:
                if violated_constraint(exc) != self.constraint:
                    raise
                logger.info("Code %s was taken meanwhile; trying the next one", code)
                continue
            return built
        raise Conflict(f"{self.column}: no free code after {ATTEMPTS} attempts; try again")


EMPLOYERS = Series(Employer.code, "E", 4, "uq_employer_code")
OFFERS = Series(Offer.code, "O", 5, "uq_offer_code")


def highest(session: Session, series: Series) -> int:
    """The highest number in use in ``series`` (0 when none); codes of another shape are ignored."""
    column, prefix = series.column, series.prefix
    numbers = (
        code[len(prefix) :]
        for code in session.scalars(select(column).where(column.startswith(prefix, autoescape=True)))
    )
    return max((int(digits) for digits in numbers if digits.isascii() and digits.isdigit()), default=0)


def next_code(session: Session, series: Series) -> str:
    """The next free code of ``series``."""
    return series.code(highest(session, series) + 1)

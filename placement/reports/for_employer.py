"""Demand as an employer contact sees it: places against first choices in their sectors, and the worst shortages.

Only counts: no pupil is named.
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy.orm import Session

from placement.employers.for_employer import offer_rows
from placement.enums import OfferStatus, Sector
from placement.models import (
    User,
)
from placement.reports import planning

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DemandRow:
    """Places against first choices in one sector and period, with the employer's own places."""

    row: planning.SectorPeriod
    #: Places of the user's employers' offers in this sector and period (visible to pupils or not).
    own_places: int


@dataclasses.dataclass(frozen=True)
class Demand:
    #: The user's sectors (those of their active offers); every period of each.
    rows: list[DemandRow]
    #: Sector-periods anywhere with more first choices than places, the largest shortfall first.
    shortages: list[planning.SectorPeriod]
    sectors: list[Sector]


def demand(session: Session, user: User, *, shortages: int = 10) -> Demand:
    """Demand against places for the user's sectors and every period, and the worst shortages overall.

    Only counts: no pupil is named.
    """
    own: dict[tuple[Sector, str], int] = {}
    sectors: list[Sector] = []
    for row in offer_rows(session, user):
        if row.offer.status is OfferStatus.WITHDRAWN:
            continue
        if row.offer.sector not in sectors:
            sectors.append(row.offer.sector)
        for code, count in row.places.items():
            own[(row.offer.sector, code)] = own.get((row.offer.sector, code), 0) + count
    every = planning.supply_and_demand(session)
    order = {sector: n for n, sector in enumerate(Sector)}
    sectors.sort(key=order.__getitem__)
    rows = [DemandRow(r, own.get((r.sector, r.period), 0)) for r in every if r.sector in sectors]
    return Demand(rows=rows, shortages=planning.oversubscribed(every)[:shortages], sectors=sectors)

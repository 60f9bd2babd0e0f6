"""Explanations: why a pupil did not get an offer they ranked higher.

For every pupil not at their first choice (placed lower, placed unranked, or
not placed), and for each offer they ranked above the one they got, the
explanation says either that the offer was full in their period, with the
ranks that the pupils placed there gave it (so a coordinator can see, for
instance, that all places went to pupils who ranked it first), or why the
pupil was not eligible.  Only offers ranked higher than the obtained one are
listed, which keeps the file compact for large rounds.
"""

from __future__ import annotations

from collections import defaultdict

from solver.eligibility import ineligibility
from solver.model import Instance
from solver.result import Explanation, Result


def explain(instance: Instance, result: Result, student: str | None = None) -> dict[str, tuple[Explanation, ...]]:
    """Explanations for every pupil not at rank 1 (or only for ``student``)."""
    ranks: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    locked: defaultdict[tuple[str, str], int] = defaultdict(int)
    unranked: defaultdict[tuple[str, str], int] = defaultdict(int)
    for a in result.assignments:
        key = (a.offer, a.period)
        if a.locked:
            locked[key] += 1
        elif a.rank is None:
            unranked[key] += 1
        else:
            ranks[key].append(a.rank)
    placed = result.assignment_map()
    incremental = result.moves is not None
    offers = instance.offer_by_id
    out: dict[str, tuple[Explanation, ...]] = {}
    for s in instance.students:
        if student is not None and s.id != student:
            continue
        got = placed.get(s.id)
        limit = len(s.preferences) if got is None or got.rank is None else got.rank - 1
        entries: list[Explanation] = []
        for position in range(limit):
            offer = offers[s.preferences[position]]
            why = ineligibility(s, offer)
            if why is not None:
                entries.append(Explanation(offer.id, position + 1, f"not eligible: {why}"))
                continue
            key = (offer.id, s.period)
            taken = len(ranks[key]) + locked[key] + unranked[key]
            if taken >= offer.places(s.period):
                entries.append(
                    Explanation(offer.id, position + 1, "full", tuple(sorted(ranks[key])), locked[key], unranked[key])
                )
            elif got is not None and got.locked:
                entries.append(Explanation(offer.id, position + 1, "free, but the pupil's placement is locked"))
            elif incremental:
                entries.append(Explanation(offer.id, position + 1, "free, but the pupil keeps the previous placement"))
            else:
                entries.append(Explanation(offer.id, position + 1, "free"))
        if entries:
            out[s.id] = tuple(entries)
    return out

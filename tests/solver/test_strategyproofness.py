"""Can a pupil gain by listing offers other than their true preferences?

An outcome is judged by the pupil's *true* list: a higher-ranked offer is
better, any offer of the list beats an unranked placement, and that beats no
placement.  ``da-reserves`` is searched exhaustively on small random rounds
that meet the condition of :func:`solver.reserves.strategy_proof`; the cases
outside the condition in which a lie pays, and a lie that pays under
``optimal``, are pinned as hand-made rounds (``docs/allocation.md``,
"da-reserves").
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from solver import Instance, load_instance, solve
from solver.network import build_network
from solver.reserves import allocate, strategy_proof
from tests.solver.factory import instance, offer, school, student

MAX_LIST = 3
"""Misreports are all orderings of all subsets of the offers with at most this many entries."""
ROUNDS = 30


def standing(true: tuple[str, ...], offer_id: str | None) -> int:
    """Lower is better: the position in the true list, then an unranked placement, then none."""
    if offer_id is None:
        return len(true) + 1
    return true.index(offer_id) if offer_id in true else len(true)


def outcomes(inst: Instance) -> list[str | None]:
    """Per pupil: the offer that ``da-reserves`` gives them (None: unplaced)."""
    net = build_network(inst)
    outcome, _, _ = allocate(net, inst.policy.seed)
    slots = np.where(net.locked_slot >= 0, net.locked_slot, outcome.slot_of)
    return [None if slot < 0 else inst.offers[int(net.slot_offer[slot])].id for slot in slots.tolist()]


def misreports(offers: list[str]) -> Iterator[tuple[str, ...]]:
    for length in range(min(MAX_LIST, len(offers)) + 1):
        yield from itertools.permutations(offers, length)


def with_list(inst: Instance, k: int, prefs: tuple[str, ...]) -> Instance:
    students = list(inst.students)
    students[k] = replace(students[k], preferences=prefs)
    return replace(inst, students=tuple(students))


def gains(inst: Instance, mechanism: Any = outcomes) -> list[tuple[str, tuple[str, ...], str | None]]:
    """Every (pupil, list, offer) by which a free pupil gets a better outcome than by their true list."""
    truthful = mechanism(inst)
    found = []
    ids = [o.id for o in inst.offers]
    for k, pupil in enumerate(inst.students):
        if pupil.locked is not None:
            continue
        honest = standing(pupil.preferences, truthful[k])
        for lie in misreports(ids):
            got = mechanism(with_list(inst, k, lie))[k]
            if standing(pupil.preferences, got) < honest:
                found.append((pupil.id, lie, got))
    return found


def small_round(rng: random.Random) -> dict[str, Any]:
    """3-5 pupils of a low-, a middle- and a high-need school, 2-4 offers of 1-2 places, sometimes a lock."""
    schools = [school("LOW", need=0.6), school("MID", north_km=2, need=1.0), school("HIGH", east_km=2, need=1.7)]
    offers = [
        offer(
            f"O{k}",
            rng.randint(1, 2),
            north_km=rng.uniform(-6, 6),
            east_km=rng.uniform(-6, 6),
            min_age=16 if rng.random() < 0.2 else None,
        )
        for k in range(rng.randint(2, 4))
    ]
    ids = [o["id"] for o in offers]
    pupils = [
        student(
            f"P{k}",
            rng.sample(ids, rng.randint(0, len(ids))),
            school=rng.choice(["LOW", "MID", "HIGH"]),
            age=rng.choice([14, 16, 16]),
        )
        for k in range(rng.randint(3, 5))
    ]
    if rng.random() < 0.2:
        pupils[0]["locked"] = ids[0]
    policy: dict[str, Any] = {"seed": rng.randint(0, 5), "max_distance_km": rng.choice([8, 20])}
    if rng.random() < 0.5:
        policy["reserves"] = {"high_need_share": rng.choice([0, 0.34, 0.5, 1])}
    return instance(offers, pupils, schools=schools, **policy)


def rounds_meeting_the_condition(count: int) -> Iterator[Instance]:
    rng = random.Random(2026)
    found = 0
    while found < count:
        inst = load_instance(small_round(rng))
        if strategy_proof(build_network(inst)):
            found += 1
            yield inst


def test_no_pupil_gains_by_misreporting_in_rounds_that_meet_the_condition() -> None:
    for inst in rounds_meeting_the_condition(ROUNDS):
        result = solve(inst, "da-reserves")
        assert result.calibration is not None
        assert result.calibration["strategy_proof"] is True
        # The condition's lemma: deferred acceptance and unranked places place everyone, the fill has nothing to do.
        assert result.metrics.placed == len(inst.students)
        assert result.calibration["fill_placed"] == 0
        assert [result.assignment_map()[s.id].offer for s in inst.students] == outcomes(inst)
        assert gains(inst) == [], inst.name


def test_outside_the_condition_the_fill_can_reward_hiding_an_offer() -> None:
    # Unranked placements are off, so only A's list makes X A's only offer.  Seed 2 draws B before A.
    doc = instance([offer("X"), offer("Y")], [student("A", ["X"]), student("B", ["X", "Y"])], assign_unranked=False)
    doc["policy"]["seed"] = 2
    inst = load_instance(doc)
    assert not strategy_proof(build_network(inst))
    # Honest, B gets X from deferred acceptance, and the fill moves B to Y to place A.
    assert outcomes(inst) == ["X", "Y"]
    # Listing only X, B leaves nothing to move to: the maximum drops to one pupil and B keeps X.
    assert gains(inst) == [("B", ("X",), "X")]


def test_outside_the_condition_a_pupil_left_out_can_take_a_free_place_by_listing_it() -> None:
    # Two places for three pupils who all want X; seed 0 draws C, A, B.
    doc = instance([offer("X"), offer("Y")], [student("A", ["X"]), student("B", ["X"]), student("C", ["X"])])
    inst = load_instance(doc)
    assert not strategy_proof(build_network(inst))
    # Honest: C gets X, A takes the free Y as an unranked place, B is left out.
    assert outcomes(inst) == ["Y", None, "X"]
    # By listing Y, B holds it in deferred acceptance before unranked places are given out.
    assert ("B", ("Y",), "Y") in gains(inst)
    assert {pupil for pupil, _, _ in gains(inst)} == {"B"}


def optimal_outcomes(inst: Instance) -> list[str | None]:
    placed = solve(inst, "optimal").assignment_map()
    return [placed[s.id].offer if s.id in placed else None for s in inst.students]


@pytest.mark.parametrize("assign_unranked", [True, False])
def test_optimal_is_manipulable(assign_unranked: bool) -> None:
    """Why the pupil page must not promise optimal pupils that honest ranking is always safe.

    P and Q both rank X above Y, one place each.  With seed 0 the optimum
    gives X to Q (the two assignments cost the same, the jitter decides).
    Listing only X, P makes Y an unranked (or impossible) place for P, and
    the optimum, which places as many as possible with as few unranked
    placements as possible, now gives X to P.
    """
    doc = instance(
        [offer("X"), offer("Y")], [student("P", ["X", "Y"]), student("Q", ["X", "Y"])], assign_unranked=assign_unranked
    )
    inst = load_instance(doc)
    assert optimal_outcomes(inst) == ["Y", "X"]
    assert optimal_outcomes(with_list(inst, 0, ("X",))) == ["X", "Y"]
    assert ("P", ("X",), "X") in gains(inst, optimal_outcomes)
    if assign_unranked:
        # The same round meets the condition of da-reserves, where no list helps either pupil.
        assert strategy_proof(build_network(inst))
        assert gains(inst) == []

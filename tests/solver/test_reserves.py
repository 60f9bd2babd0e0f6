"""da-reserves: the reserves, the choice function, the fill, and reading ``policy.mechanism``/``policy.reserves``."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solver
from solver import InstanceError, check, load_instance, solve
from solver.baselines import lottery_order
from solver.cli import solve_command
from solver.equity import need_terciles
from solver.model import MECHANISMS, Reserves
from solver.network import build_network
from solver.reserves import deferred_acceptance_with_reserves, high_need, reserve_share, reserved_places
from solver.result import METHODS
from tests.solver import factory, reference
from tests.solver.factory import instance, offer, school, student

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THREE_SCHOOLS = [school("LOW", need=0.6), school("MID", north_km=1, need=1.0), school("HIGH", east_km=1, need=1.7)]
"""With one pupil each, LOW, MID and HIGH are the low-, middle- and high-need terciles."""

Slot = tuple[str, str]


def placements(result: solver.Result) -> dict[str, str]:
    return {a.student: a.offer for a in result.assignments}


def solved(doc: dict[str, Any], method: str) -> solver.Result:
    inst = load_instance(doc)
    result = solve(inst, method)
    assert check(inst, result) == []
    return result


# --- the reserve ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "places", "reserved"),
    [
        (Fraction(1, 3), [0, 1, 2, 3, 4, 5], [0, 0, 1, 1, 1, 2]),
        (Fraction(1, 2), [1, 2, 3], [1, 1, 2]),  # halves round up
        (Fraction(1, 6), [3, 2], [1, 0]),
        (Fraction(0), [1, 4], [0, 0]),
        (Fraction(1), [1, 4], [1, 4]),
    ],
)
def test_reserved_places_are_the_share_rounded_half_up(share: Fraction, places: list[int], reserved: list[int]) -> None:
    assert reserved_places(np.array(places, dtype=np.int64), share).tolist() == reserved


def test_the_share_defaults_to_the_high_need_terciles_share_of_the_pupils() -> None:
    pupils = [student(f"P{k}", school=s) for k, s in enumerate(["LOW", "LOW", "MID", "HIGH"])]
    doc = instance([offer("X")], pupils, schools=THREE_SCHOOLS)
    inst = load_instance(doc)
    assert need_terciles(inst).tolist() == [0, 0, 1, 2]
    assert high_need(inst).tolist() == [False, False, False, True]
    assert reserve_share(inst) == Fraction(1, 4)
    doc["policy"]["reserves"] = {"high_need_share": 0.35}
    assert reserve_share(load_instance(doc)) == Fraction(7, 20)
    alone = instance([offer("X")], [student("P1"), student("P2")])
    assert reserve_share(load_instance(alone)) == 0  # one school is the middle tercile: nobody is high need


# --- hand-made rounds ----------------------------------------------------------------------------------------


def three_pupils(prefs: dict[str, list[str]], **policy: Any) -> dict[str, Any]:
    """Pupils L, M and H of the low-, middle- and high-need school; seed 0 draws the lottery L, M, H."""
    pupils = [student(name, prefs[name], school=home) for name, home in (("L", "LOW"), ("M", "MID"), ("H", "HIGH"))]
    return instance([offer("X", 2), offer("Y", 2)], pupils, schools=THREE_SCHOOLS, seed=0, **policy)


def test_the_lottery_of_the_hand_made_rounds() -> None:
    inst = load_instance(three_pupils({"L": [], "M": [], "H": []}))
    assert [inst.students[i].id for i in lottery_order(build_network(inst), 0)] == ["L", "M", "H"]


def test_a_reserve_gives_a_high_need_pupil_the_place_da_gives_a_better_lottery_number() -> None:
    # X has 2 places and reserves round(2/3) = 1 of them for the high-need tercile.
    doc = three_pupils({"L": ["X", "Y"], "M": ["X", "Y"], "H": ["X", "Y"]})
    assert placements(solved(doc, "da")) == {"L": "X", "M": "X", "H": "Y"}
    result = solved(doc, "da-reserves")
    assert placements(result) == {"L": "X", "M": "Y", "H": "X"}
    assert result.calibration is not None
    assert result.calibration["reserved_places"] == 2
    assert result.calibration["high_need_share"] == pytest.approx(1 / 3, abs=1e-6)


def test_an_unclaimed_reserve_goes_to_the_others() -> None:
    doc = three_pupils({"L": ["X"], "M": ["X"], "H": ["Y"]})
    assert placements(solved(doc, "da-reserves")) == {"L": "X", "M": "X", "H": "Y"}


def test_a_full_share_reserves_every_place_softly() -> None:
    doc = three_pupils({"L": ["X"], "M": ["X"], "H": ["X"]}, reserves={"high_need_share": 1})
    result = solved(doc, "da-reserves")
    assert placements(result)["H"] == "X"
    assert placements(result)["L"] == "X"  # the second reserved place is not claimed by a high-need pupil


def test_the_fill_reaches_the_maximum_where_deferred_acceptance_leaves_a_pupil_out() -> None:
    # Seed 2 draws B before A: deferred acceptance gives B its first choice X, and A has no other offer.
    doc = instance(
        [offer("X"), offer("Y")], [student("A", ["X"]), student("B", ["X", "Y"])], assign_unranked=False, seed=2
    )
    plain = solved(doc, "da")
    assert placements(plain) == {"B": "X"}
    result = solved(doc, "da-reserves")
    assert placements(result) == {"A": "X", "B": "Y"}
    assert result.metrics.placed == result.placed_max == 2
    assert result.status == "optimal"
    assert result.calibration is not None
    assert (result.calibration["fill_placed"], result.calibration["fill_moved"]) == (1, 1)
    assert result.calibration["strategy_proof"] is False


def test_result_calibration_and_status_without_a_fill() -> None:
    result = solved(three_pupils({"L": ["X"], "M": ["X"], "H": ["Y"]}), "da-reserves")
    assert result.status == "optimal"
    assert result.method == "da-reserves"
    assert result.calibration == {
        "mechanism": "da-reserves",
        "high_need_share": 0.333333,
        "reserved_places": 2,
        "strategy_proof": True,
        "fill_placed": 0,
        "fill_moved": 0,
        "lexicographic": "fill not needed",
    }
    again = solver.result_from_dict(json.loads(json.dumps(result.to_dict())))
    assert (again.method, again.calibration) == ("da-reserves", result.calibration)


def test_the_mechanism_of_the_policy_is_the_default_method() -> None:
    doc = three_pupils({"L": ["X", "Y"], "M": ["X", "Y"], "H": ["X", "Y"]}, mechanism="da-reserves")
    inst = load_instance(doc)
    assert solve(inst).method == "da-reserves"
    assert solve(inst, "optimal").method == "optimal"
    assert solve(load_instance(three_pupils({"L": [], "M": [], "H": []}))).method == "optimal"
    with pytest.raises(ValueError, match="incremental rounds"):
        solve(inst, previous=solve(inst))


def test_the_command_line_defaults_to_the_mechanism_of_the_instance(tmp_path: Path) -> None:
    source = tmp_path / "round.json"
    source.write_text(json.dumps(three_pupils({"L": ["X"], "M": ["X"], "H": ["X"]}, mechanism="da-reserves")))
    runner = CliRunner()
    done = runner.invoke(solve_command, [str(source)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["method"] == "da-reserves"
    done = runner.invoke(solve_command, [str(source), "--method", "da"])
    assert json.loads(done.stdout)["method"] == "da"


# --- properties on small random rounds ------------------------------------------------------------------------


def scarce_round(rng: random.Random) -> dict[str, Any]:
    """A round of 3-5 pupils and 2-4 offers of 1-2 places in which deferred acceptance often leaves a pupil out."""
    offers = [offer(f"O{k}", rng.randint(1, 2), min_age=rng.choice([None, 16])) for k in range(rng.randint(2, 4))]
    ids = [o["id"] for o in offers]
    pupils = [
        student(
            f"P{k}",
            rng.sample(ids, rng.randint(1, len(ids))),
            school=rng.choice(["LOW", "MID", "HIGH"]),
            age=rng.choice([14, 16]),
        )
        for k in range(rng.randint(3, 5))
    ]
    return instance(
        offers,
        pupils,
        schools=THREE_SCHOOLS,
        assign_unranked=rng.random() < 0.3,
        max_distance_km=rng.choice([0, 20]),
        seed=rng.randint(0, 3),
    )


SCARCE_ROUNDS = st.randoms(use_true_random=False).map(scarce_round)


def choose(applicants: set[str], places: int, reserved: int, high: set[str], lottery: dict[str, int]) -> set[str]:
    """The reserve choice function, written out: the ``reserved`` best high-need applicants, then the best of all."""
    ordered = sorted(applicants, key=lottery.__getitem__)
    protected = [s for s in ordered if s in high][:reserved]
    rest = [s for s in ordered if s not in protected][: places - len(protected)]
    return set(protected) | set(rest)


def cumulative_offers(
    lists: dict[str, list[Slot]],
    places: dict[Slot, int],
    reserved: dict[Slot, int],
    high: set[str],
    lottery: dict[str, int],
) -> dict[str, Slot]:
    """A plain cumulative offer process: every slot chooses from all proposals it ever received."""
    received: defaultdict[Slot, set[str]] = defaultdict(set)
    proposed = dict.fromkeys(lists, 0)
    while True:
        held = {
            pupil: slot
            for slot, applicants in received.items()
            for pupil in choose(applicants, places[slot], reserved[slot], high, lottery)
        }
        waiting = [p for p in sorted(lists, key=lottery.__getitem__) if p not in held and proposed[p] < len(lists[p])]
        if not waiting:
            return held
        pupil = waiting[0]
        received[lists[pupil][proposed[pupil]]].add(pupil)
        proposed[pupil] += 1


@SETTINGS
@given(factory.instances())
def test_deferred_acceptance_is_stable_for_the_reserve_choice_functions(doc: dict[str, Any]) -> None:
    doc["policy"]["reserves"] = {"high_need_share": 0.5}  # reserves of one place from two places on
    inst = load_instance(doc)
    net = build_network(inst)
    order = lottery_order(net, inst.policy.seed)
    lottery = {inst.students[i].id: k for k, i in enumerate(order)}
    high = {s.id for s, h in zip(inst.students, high_need(inst), strict=True) if h}
    places = reference.free_places(inst)
    reserved = {slot: (q + 1) // 2 for slot, q in places.items()}  # half of q rounded half up
    arcs = deferred_acceptance_with_reserves(
        net, order, high_need(inst), reserved_places(net.slot_remaining, Fraction(1, 2))
    )
    got: dict[str, Slot] = {}
    for i, arc in enumerate(arcs.tolist()):
        if arc >= 0:
            s = inst.students[i]
            got[s.id] = (inst.offers[int(net.slot_offer[int(net.r_slot[arc])])].id, s.period)
    lists = {
        s.id: [(o, s.period) for o in s.preferences if reference.eligible(s, inst.offer_by_id[o])]
        for s in inst.students
        if s.locked is None
    }
    assert got == cumulative_offers(lists, places, reserved, high, lottery)
    holders: defaultdict[Slot, set[str]] = defaultdict(set)
    for pupil, slot in got.items():
        holders[slot].add(pupil)
    for pupil, wanted in lists.items():
        assert all(len(holders[slot]) <= places[slot] for slot in wanted)
        better = wanted[: wanted.index(got[pupil])] if pupil in got else wanted
        for slot in better:
            # No blocking pair: the slot's choice from its holders and this pupil leaves the pupil out.
            assert pupil not in choose(holders[slot] | {pupil}, places[slot], reserved[slot], high, lottery)


@SETTINGS
@given(st.one_of(factory.instances(), SCARCE_ROUNDS))
def test_every_round_is_placed_to_the_maximum_and_passes_the_checker(doc: dict[str, Any]) -> None:
    inst = load_instance(doc)
    result = solve(inst, "da-reserves")
    assert check(inst, result) == []
    assert result.metrics.placed == result.placed_max == reference.max_placed(inst)
    assert result.status == "optimal"
    assert solve(load_instance(factory.clone(doc)), "da-reserves").assignments == result.assignments


def assert_share_zero_is_da_then_fill(doc: dict[str, Any]) -> bool:
    """With share 0, da-reserves is da where da places the maximum, else da then the fill; True if the fill ran."""
    doc["policy"]["reserves"] = {"high_need_share": 0}
    inst = load_instance(doc)
    plain = solve(inst, "da")
    result = solve(inst, "da-reserves")
    assert result.calibration is not None
    assert result.calibration["reserved_places"] == 0
    if plain.metrics.placed == plain.placed_max:
        assert result.assignments == plain.assignments
        return False
    # The fill places the maximum and keeps as many of da's placements as any such assignment can.
    before = placements(plain)
    free = [s for s in inst.students if s.locked is None]
    every = list(reference.assignments(inst))
    most = max(sum(c is not None for c in combo) for combo in every)
    combos = [combo for combo in every if sum(c is not None for c in combo) == most]
    kept = max(
        sum(c is not None and c[0] == before.get(s.id) for s, c in zip(free, combo, strict=True)) for combo in combos
    )
    after = placements(result)
    assert result.metrics.placed == result.placed_max
    assert sum(after.get(pupil) == offer_id for pupil, offer_id in before.items()) == kept
    assert set(before) <= set(after)  # nobody placed by deferred acceptance is left out by the fill
    return True


@SETTINGS
@given(SCARCE_ROUNDS)
def test_share_zero_is_plain_deferred_acceptance_then_the_fill(doc: dict[str, Any]) -> None:
    assert_share_zero_is_da_then_fill(doc)


def test_the_fill_keeps_as_many_placements_as_possible() -> None:
    rng = random.Random(0)
    filled = 0
    while filled < 15:  # rounds in which da leaves someone out, so that the fill runs
        filled += assert_share_zero_is_da_then_fill(scarce_round(rng))


# --- reading policy.mechanism and policy.reserves ---------------------------------------------------------------


def test_methods_are_the_mechanisms() -> None:
    assert METHODS == MECHANISMS


def test_mechanism_and_reserves_are_read() -> None:
    doc = factory.valid()
    inst = load_instance(doc)
    assert (inst.policy.mechanism, inst.policy.reserves) == ("optimal", Reserves(None))
    doc["policy"].update({"mechanism": "da-reserves", "reserves": {"high_need_share": 0.25}})
    inst = load_instance(doc)
    assert (inst.policy.mechanism, inst.policy.reserves.high_need_share) == ("da-reserves", 0.25)
    assert inst.warnings == ()
    doc["policy"].update({"mechanism": None, "reserves": {"high_need_share": None, "hard": True}})
    inst = load_instance(doc)
    assert (inst.policy.mechanism, inst.policy.reserves) == ("optimal", Reserves(None))
    assert inst.warnings == ('policy.reserves: unknown field "hard" ignored',)
    doc["policy"]["reserves"] = None
    assert load_instance(doc).policy.reserves == Reserves()


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            {"mechanism": "random"},
            'policy: field "mechanism" must be "optimal", "da-reserves", "mcf", "da" or "fcfs", got "random"',
        ),
        (
            {"mechanism": 1},
            'policy: field "mechanism" must be "optimal", "da-reserves", "mcf", "da" or "fcfs", got 1',
        ),
        ({"reserves": 0.3}, 'policy: field "reserves" must be an object, got number'),
        ({"reserves": []}, 'policy: field "reserves" must be an object, got array'),
        (
            {"reserves": {"high_need_share": 1.5}},
            'policy.reserves: field "high_need_share" must be at most 1, got 1.5',
        ),
        (
            {"reserves": {"high_need_share": -0.1}},
            'policy.reserves: field "high_need_share" must be at least 0, got -0.1',
        ),
        (
            {"reserves": {"high_need_share": "a third"}},
            'policy.reserves: field "high_need_share" must be a number, got string',
        ),
        (
            {"reserves": {"high_need_share": True}},
            'policy.reserves: field "high_need_share" must be a number, got boolean',
        ),
    ],
)
def test_bad_mechanism_or_reserves_name_the_field(policy: dict[str, Any], message: str) -> None:
    doc = factory.valid()
    doc["policy"].update(policy)
    with pytest.raises(InstanceError) as caught:
        load_instance(doc)
    assert caught.value.problems == [message]

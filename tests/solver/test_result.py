"""Reading result documents: every problem is reported."""

from __future__ import annotations

from typing import Any

import pytest

from solver import ResultError, load_instance, result_from_dict, solve
from solver.result import Explanation
from tests.solver import factory


@pytest.fixture
def doc() -> dict[str, Any]:
    inst = load_instance(factory.valid_larger(30))
    return solve(inst).to_dict()


def problems(data: Any) -> list[str]:
    with pytest.raises(ResultError) as caught:
        result_from_dict(data)
    return caught.value.problems


def test_wrong_document() -> None:
    assert problems([]) == ["result: expected a JSON object, got array"]
    assert problems({"format": 1}) == ['format: expected "praktik-result/1", got number']
    assert problems({"format": "praktik-result/0"}) == ['format: expected "praktik-result/1", got "praktik-result/0"']


def test_every_field_is_checked(doc: dict[str, Any]) -> None:
    doc["status"] = "great"
    doc["method"] = 3
    doc["seed"] = "1"
    doc["assignments"][0]["rank"] = "1"
    doc["assignments"][1]["locked"] = "yes"
    doc["assignments"].append("P1")
    del doc["assignments"][2]["offer"]
    doc["unassigned"].append({"student": "X"})
    doc["metrics"]["placed"] = 1.5
    doc["bound"] = []
    doc["solve_seconds"] = None
    doc["calibration"] = []
    found = problems(doc)
    assert 'result: field "status" must be "optimal" or "feasible", got "great"' in found
    assert 'result: field "method" must be one of optimal, da-reserves, mcf, da, fcfs, got number' in found
    assert 'result: field "seed" must be a whole number, got string' in found
    assert 'assignments[0]: field "rank" has the wrong type (string)' in found
    assert 'assignments[1]: field "locked" must be true or false, got string' in found
    assert f"assignments[{len(doc['assignments']) - 1}]: must be an object, got string" in found
    assert 'assignments[2]: missing field "offer"' in found
    assert f'unassigned[{len(doc["unassigned"]) - 1}]: missing field "reason"' in found
    assert 'metrics: field "placed" has the wrong type (number)' in found
    assert 'result: field "bound" has the wrong type (array)' in found
    assert 'result: field "solve_seconds" has the wrong type (null)' in found
    assert 'result: field "calibration" must be an object, got array' in found


def test_missing_sections(doc: dict[str, Any]) -> None:
    for key in ("metrics", "bound", "warnings", "instance"):
        del doc[key]
    found = problems(doc)
    assert 'result: missing field "metrics"' in found
    assert 'result: missing field "bound"' in found


def test_explanations_and_moves_are_checked(doc: dict[str, Any]) -> None:
    doc["explanations"] = {
        "A": "full",
        "B": ["x"],
        "C": [{"offer": "O1", "rank": 1, "reason": "full", "taken_by_ranks": ["1"]}],
        "D": [{"offer": "O1", "rank": 1, "reason": "full", "locked": True}],
        "E": [{"offer": "O1", "reason": "full"}],
    }
    doc["moves"] = [{"student": "A", "from": 1, "to": None, "reason": "x"}, 5, {"from": None, "to": None}]
    found = problems(doc)
    assert "explanations[A]: must be an array, got string" in found
    assert "explanations[B][0]: must be an object, got string" in found
    assert 'explanations[C][0]: field "taken_by_ranks" must be an array of whole numbers' in found
    assert 'explanations[D][0]: fields "locked" and "unranked" must be whole numbers' in found
    assert 'explanations[E][0]: missing field "rank"' in found
    assert 'moves[0]: field "from" has the wrong type (number)' in found
    assert "moves[1]: must be an object, got number" in found
    doc["explanations"] = "none"
    del doc["moves"]
    assert problems(doc) == ['result: field "explanations" must be an object, got string']


def test_optional_keys_default(doc: dict[str, Any]) -> None:
    for key in ("method", "seed", "explanations", "calibration"):
        doc.pop(key, None)
    result = result_from_dict(doc)
    assert (result.method, result.seed, result.explanations, result.calibration, result.moves) == (
        "optimal",
        0,
        {},
        None,
        None,
    )


def test_explanation_dict_form() -> None:
    full = Explanation("O1", 1, "full", (1, 2), locked=1, unranked=2)
    assert full.to_dict() == {
        "offer": "O1",
        "rank": 1,
        "reason": "full",
        "taken_by_ranks": [1, 2],
        "locked": 1,
        "unranked": 2,
    }
    assert Explanation("O1", 2, "not eligible: min_age 16").to_dict() == {
        "offer": "O1",
        "rank": 2,
        "reason": "not eligible: min_age 16",
    }

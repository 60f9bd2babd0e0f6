"""Every rule of the instance format is validated, with a message naming the record and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from solver import InstanceError, load_instance, read_instance
from solver.load import json_type, parse_json
from tests.solver import factory

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a (dotted, indexable) path in the document; the sentinel DELETE removes the key."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


DELETE = object()

CASES: list[tuple[str, Mutation, str]] = [
    ("missing top field", _set("students", DELETE), 'instance: missing field "students"'),
    ("missing name", _set("name", DELETE), 'instance: missing field "name"'),
    ("name wrong type", _set("name", 3), 'instance: field "name" must be a string, got number'),
    ("periods not a list", _set("periods", {}), "periods: must be an array, got object"),
    ("record not an object", _set("students.0", "P1"), "students[0]: must be an object, got string"),
    ("missing id", _set("students.0.id", DELETE), 'students[0]: missing field "id"'),
    ("id wrong type", _set("offers.0.id", 7), 'offers[0]: field "id" must be a string, got number'),
    ("empty id", _set("schools.0.id", " "), 'schools[0]: field "id" must not be empty'),
    ("duplicate student", _set("students.1.id", "P1"), 'students[1] (P1): duplicate id "P1" (also students[0])'),
    ("duplicate offer", _set("offers.1.id", "O1"), 'offers[1] (O1): duplicate id "O1" (also offers[0])'),
    ("duplicate school", _set("schools.1.id", "S1"), 'schools[1] (S1): duplicate id "S1" (also schools[0])'),
    ("duplicate period", _set("periods.1.id", "w45"), 'periods[1] (w45): duplicate id "w45" (also periods[0])'),
    (
        "bad date",
        _set("periods.0.start", "2026-13-01"),
        'periods[0] (w45): field "start" must be an ISO date (YYYY-MM-DD), got "2026-13-01"',
    ),
    (
        "date with time",
        _set("periods.0.end", "2026-10-13T00:00"),
        'periods[0] (w45): field "end" must be an ISO date (YYYY-MM-DD), got "2026-10-13T00:00"',
    ),
    (
        "start after end",
        _set("periods.0.start", "2026-12-01"),
        "periods[0] (w45): start 2026-12-01 is after end 2026-10-13",
    ),
    ("date wrong type", _set("periods.1.end", 20261113), 'periods[1] (w47): field "end" must be a string, got number'),
    ("latitude out of range", _set("schools.0.lat", 91), 'schools[0] (S1): field "lat" must be at most 90, got 91'),
    (
        "longitude out of range",
        _set("offers.0.lon", -181),
        'offers[0] (O1): field "lon" must be at least -180, got -181',
    ),
    ("latitude wrong type", _set("schools.1.lat", "57.7"), 'schools[1] (S2): field "lat" must be a number, got string'),
    ("boolean as number", _set("offers.1.lat", True), 'offers[1] (O2): field "lat" must be a number, got boolean'),
    (
        "negative need",
        _set("schools.0.need_index", -1),
        'schools[0] (S1): field "need_index" must be at least 0, got -1',
    ),
    (
        "need wrong type",
        _set("schools.0.need_index", "high"),
        'schools[0] (S1): field "need_index" must be a number, got string',
    ),
    ("school name missing", _set("schools.0.name", DELETE), 'schools[0] (S1): missing field "name"'),
    ("missing capacity", _set("offers.0.capacity", DELETE), 'offers[0] (O1): missing field "capacity"'),
    (
        "capacity not object",
        _set("offers.0.capacity", [2]),
        'offers[0] (O1): field "capacity" must be an object, got array',
    ),
    (
        "unknown period in capacity",
        _set("offers.1.capacity", {"w99": 1}),
        'offers[1] (O2): capacity["w99"] names no period',
    ),
    (
        "negative capacity",
        _set("offers.1.capacity", {"w45": -1}),
        'offers[1] (O2): capacity["w45"] must be a whole number >= 0, got -1',
    ),
    (
        "fractional capacity",
        _set("offers.1.capacity", {"w45": 1.5}),
        'offers[1] (O2): capacity["w45"] must be a whole number >= 0, got 1.5',
    ),
    (
        "boolean capacity",
        _set("offers.1.capacity", {"w45": True}),
        'offers[1] (O2): capacity["w45"] must be a whole number >= 0, got boolean',
    ),
    (
        "min_age wrong type",
        _set("offers.0.min_age", "15"),
        'offers[0] (O1): field "min_age" must be a whole number, got "15"',
    ),
    ("negative min_age", _set("offers.0.min_age", -1), 'offers[0] (O1): field "min_age" must be at least 0, got -1'),
    (
        "requires not a list",
        _set("offers.0.requires", "swedish"),
        'offers[0] (O1): field "requires" must be an array of strings, got string',
    ),
    (
        "requires item",
        _set("offers.0.requires", [1]),
        'offers[0] (O1): field "requires" item 1 must be a non-empty string, got 1',
    ),
    (
        "unknown school in offer",
        _set("offers.0.schools", ["S9"]),
        'offers[0] (O1): school "S9" in field "schools" names no school',
    ),
    ("offer sector missing", _set("offers.2.sector", DELETE), 'offers[2] (O3): missing field "sector"'),
    ("offer employer empty", _set("offers.2.employer", ""), 'offers[2] (O3): field "employer" must not be empty'),
    ("unknown school", _set("students.0.school", "S9"), 'students[0] (P1): school "S9" names no school'),
    ("unknown period", _set("students.0.period", "w99"), 'students[0] (P1): period "w99" names no period'),
    (
        "bad gender",
        _set("students.0.gender", "f"),
        'students[0] (P1): field "gender" must be "female", "male", "other" or null, got "f"',
    ),
    ("missing age", _set("students.1.age", DELETE), 'students[1] (P2): missing field "age"'),
    ("fractional age", _set("students.1.age", 14.5), 'students[1] (P2): field "age" must be a whole number, got 14.5'),
    ("negative age", _set("students.1.age", -3), 'students[1] (P2): field "age" must be at least 0, got -3'),
    ("missing preferences", _set("students.1.preferences", DELETE), 'students[1] (P2): missing field "preferences"'),
    (
        "preferences wrong type",
        _set("students.1.preferences", "O2"),
        'students[1] (P2): field "preferences" must be an array of strings, got string',
    ),
    (
        "unknown preference",
        _set("students.1.preferences", ["O9999"]),
        'students[1] (P2): preference "O9999" names no offer',
    ),
    (
        "offer twice in preferences",
        _set("students.0.preferences", ["O1", "O2", "O1"]),
        'students[0] (P1): preference "O1" listed twice (positions 1 and 3)',
    ),
    (
        "attributes wrong type",
        _set("students.0.attributes", {"swedish": True}),
        'students[0] (P1): field "attributes" must be an array of strings, got object',
    ),
    (
        "negative radius",
        _set("students.0.max_distance_km", -1),
        'students[0] (P1): field "max_distance_km" must be at least 0, got -1',
    ),
    ("unknown locked offer", _set("students.2.locked", "O9"), 'students[2] (P3): locked offer "O9" names no offer'),
    (
        "locked wrong type",
        _set("students.2.locked", 3),
        'students[2] (P3): field "locked" must be an offer id or null, got number',
    ),
    (
        "locked without a place in the period",
        _set("students.2.locked", "O2"),
        'students[2] (P3): locked offer "O2" has no place in period w47',
    ),
    (
        "locked exceeding capacity",
        _set("offers.2.capacity", {"w47": 0}),
        'students[2] (P3): locked offer "O3" has no place in period w47',
    ),
    (
        "excluded wrong type",
        _set("students.0.excluded_offers", "O1"),
        'students[0] (P1): field "excluded_offers" must be an array of strings, got string',
    ),
    ("missing policy", _set("policy", DELETE), 'instance: missing field "policy"'),
    ("policy not object", _set("policy", []), "policy: must be an object, got array"),
    ("missing radius", _set("policy.max_distance_km", DELETE), 'policy: missing field "max_distance_km"'),
    ("missing assign_unranked", _set("policy.assign_unranked", DELETE), 'policy: missing field "assign_unranked"'),
    (
        "negative radius policy",
        _set("policy.max_distance_km", -5),
        'policy: field "max_distance_km" must be at least 0, got -5',
    ),
    (
        "assign_unranked wrong type",
        _set("policy.assign_unranked", 1),
        'policy: field "assign_unranked" must be true or false, got number',
    ),
    ("fairness not object", _set("policy.fairness", 1), 'policy: field "fairness" must be an object, got number'),
    (
        "negative fairness",
        _set("policy.fairness.gender", -1),
        'policy.fairness: field "gender" must be at least 0, got -1',
    ),
    ("zero time limit", _set("policy.time_limit_s", 0), 'policy: field "time_limit_s" must be greater than 0, got 0'),
    (
        "time limit wrong type",
        _set("policy.time_limit_s", "60"),
        'policy: field "time_limit_s" must be a number, got string',
    ),
    ("seed wrong type", _set("policy.seed", 1.5), 'policy: field "seed" must be a whole number, got 1.5'),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_rule_is_checked(mutate: Mutation, message: str) -> None:
    doc = factory.valid()
    mutate(doc)
    with pytest.raises(InstanceError) as caught:
        load_instance(doc)
    assert message in caught.value.problems, caught.value.problems


def test_locked_placements_exceeding_capacity_name_the_offer() -> None:
    doc = factory.valid()
    doc["students"].append(factory.student("P5", [], period="w47", locked="O3"))
    doc["students"].append(factory.student("P6", [], period="w47", locked="O3"))
    with pytest.raises(InstanceError) as caught:
        load_instance(doc)
    assert caught.value.problems == ['offers[2] (O3): capacity["w47"] is 2 but 3 locked placements use it']


def test_locked_on_an_invalid_offer_reports_the_offer_only() -> None:
    doc = factory.valid()
    doc["offers"][2]["capacity"] = [2]
    with pytest.raises(InstanceError) as caught:
        load_instance(doc)
    assert caught.value.problems == ['offers[2] (O3): field "capacity" must be an object, got array']


def test_every_problem_is_listed_at_once() -> None:
    doc = factory.valid()
    doc["students"][0]["preferences"] = ["O9999"]
    doc["students"][1]["gender"] = "x"
    doc["offers"][1]["capacity"] = {"w45": -2}
    doc["policy"]["seed"] = "zero"
    with pytest.raises(InstanceError) as caught:
        load_instance(doc)
    assert len(caught.value.problems) == 4
    assert str(caught.value).splitlines() == caught.value.problems


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "instance: expected a JSON object, got array"),
        ({}, 'instance: missing field "format"'),
        ({"format": "praktik-instance/2"}, 'format: expected "praktik-instance/1", got "praktik-instance/2"'),
        ({"format": None}, 'format: expected "praktik-instance/1", got null'),
    ],
)
def test_wrong_document_or_format(doc: Any, message: str) -> None:
    with pytest.raises(InstanceError) as caught:
        load_instance(doc)
    assert caught.value.problems == [message]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "round.json: not valid JSON: "),
        ('{"a": NaN}', "NaN is not allowed in JSON"),
        ('{"a": 1, "a": 2}', 'duplicate key "a" in one JSON object'),
        (b"\xff\xfe", "round.json: not valid JSON"),
    ],
)
def test_not_json(text: str | bytes, fragment: str) -> None:
    with pytest.raises(InstanceError) as caught:
        parse_json(text, "round.json")
    assert fragment in caught.value.problems[0]


def test_read_instance_from_file(tmp_path: Path) -> None:
    import json

    path = tmp_path / "round.json"
    path.write_text(json.dumps(factory.valid()), encoding="utf-8")
    assert read_instance(path).name == "test round"
    with pytest.raises(InstanceError) as caught:
        read_instance(tmp_path / "missing.json")
    assert "cannot read" in caught.value.problems[0]


def test_valid_instance_is_read_completely() -> None:
    inst = load_instance(factory.valid())
    assert [p.id for p in inst.periods] == ["w45", "w47"]
    assert inst.school_by_id["S1"].need_index == 1.4
    o1 = inst.offer_by_id["O1"]
    assert (o1.min_age, o1.requires, o1.schools, o1.places("w47"), o1.places("w49")) == (
        15,
        frozenset({"swedish"}),
        frozenset({"S1", "S2"}),
        1,
        0,
    )
    p3 = inst.students[2]
    assert (p3.gender, p3.locked, p3.preferences, p3.attributes) == (None, "O3", (), frozenset())
    assert inst.students[0].max_distance_km == 15
    assert inst.radius_km(inst.students[0]) == 15
    assert inst.radius_km(inst.students[1]) == 20
    assert inst.policy.fairness.need == 1.0
    assert inst.warnings == ()


def test_optional_fields_default() -> None:
    doc = factory.valid()
    for key in ("fairness", "time_limit_s", "seed"):
        del doc["policy"][key]
    del doc["schools"][0]["need_index"]
    doc["offers"][0].update({"min_age": None, "requires": None, "schools": None})
    doc["students"][0].update({"attributes": None, "max_distance_km": None, "excluded_offers": None})
    doc["policy"]["fairness"] = {"school": 0.5}
    inst = load_instance(doc)
    doc["policy"]["fairness"] = None
    assert load_instance(doc).policy.fairness.need == 1.0
    assert inst.policy.time_limit_s == 60
    assert inst.policy.seed == 0
    assert (inst.policy.fairness.school, inst.policy.fairness.gender) == (0.5, 1.0)
    assert inst.schools[0].need_index == 1.0
    assert inst.offers[0].schools is None
    assert inst.offers[0].min_age is None
    assert inst.students[0].attributes == frozenset()


def test_unknown_fields_are_ignored_with_one_warning_per_field() -> None:
    doc = factory.valid()
    doc["comment"] = "exported by hand"
    doc["policy"]["colour"] = "blue"
    doc["policy"]["fairness"]["age"] = 1
    for s in doc["students"]:
        s["class"] = "8B"
    inst = load_instance(doc)
    assert inst.warnings == (
        'instance: unknown field "comment" ignored',
        'policy: unknown field "colour" ignored',
        'policy.fairness: unknown field "age" ignored',
        'students (4 records): unknown field "class" ignored',
    )


def test_excluded_offers_extension() -> None:
    doc = factory.valid()
    doc["students"][0]["excluded_offers"] = ["O2", "O404"]
    inst = load_instance(doc)
    assert inst.students[0].excluded_offers == frozenset({"O2"})
    assert inst.warnings == ('students[0] (P1): excluded offer "O404" names no offer (ignored)',)


def test_json_type_names() -> None:
    assert [json_type(v) for v in (None, True, 1, 1.5, "a", [], {}, object())] == [
        "null",
        "boolean",
        "number",
        "number",
        "string",
        "array",
        "object",
        "object",
    ]

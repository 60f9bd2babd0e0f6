"""Reading and validating ``praktik-instance/1`` documents.

Every rule of the format is checked and *every* problem is reported, one line
each, naming the record and the field, for example::

    students[17] (P000018): preference "O9999" names no offer

:func:`load_instance` raises :class:`InstanceError` carrying that list.
Fields that the format does not know are ignored with one warning per
collection and field name, so that a newer exporter does not break an older
solver.

This module is longer than most (about 600 lines) because it validates every field of
the format in one pass, naming each bad record and field; the checks are many and small.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

from solver.model import (
    GENDERS,
    INSTANCE_FORMAT,
    MECHANISMS,
    Fairness,
    Instance,
    Offer,
    Period,
    Policy,
    Reserves,
    School,
    Student,
)

_MISSING: Final = object()

_FIELDS: Final[dict[str, frozenset[str]]] = {
    "instance": frozenset({"format", "name", "periods", "schools", "offers", "students", "policy"}),
    "periods": frozenset({"id", "start", "end"}),
    "schools": frozenset({"id", "name", "lat", "lon", "need_index"}),
    "offers": frozenset(
        {"id", "employer", "title", "sector", "lat", "lon", "capacity", "min_age", "requires", "schools"}
    ),
    "students": frozenset(
        {
            "id",
            "school",
            "period",
            "gender",
            "age",
            "preferences",
            "attributes",
            "max_distance_km",
            "locked",
            "excluded_offers",
        }
    ),
    "policy": frozenset(
        {"max_distance_km", "assign_unranked", "fairness", "time_limit_s", "seed", "mechanism", "reserves"}
    ),
    "policy.fairness": frozenset({"school", "gender", "need"}),
    "policy.reserves": frozenset({"high_need_share"}),
}
_POLICY_KINDS: Final = frozenset({"instance", "policy", "policy.fairness", "policy.reserves"})
"""Kinds of objects that occur once, named in warnings without a record count."""


class InstanceError(ValueError):
    """A document that breaks the format; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def json_type(value: object) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in JSON")


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f'duplicate key "{key}" in one JSON object')
        result[key] = value
    return result


def parse_json(text: str | bytes, label: str) -> object:
    """Parse strict JSON (no NaN/Infinity, no duplicate keys); errors become InstanceError."""
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_pairs_without_duplicates)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InstanceError([f"{label}: not valid JSON: {exc}"]) from None


def read_json_file(path: str | Path, label: str) -> object:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InstanceError([f"{label}: cannot read {path}: {exc.strerror or exc}"]) from None
    return parse_json(raw, label)


def read_instance(path: str | Path) -> Instance:
    """Read and validate an instance file."""
    return load_instance(read_json_file(path, str(path)))


class _Reader:
    """Collects problems while reading typed fields out of JSON objects."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.unknown: Counter[tuple[str, str]] = Counter()

    def fail(self, label: str, message: str) -> None:
        self.problems.append(f"{label}: {message}")

    def note_unknown(self, kind: str, obj: Mapping[str, object]) -> None:
        for key in obj:
            if key not in _FIELDS[kind]:
                self.unknown[(kind, key)] += 1

    def get(self, obj: Mapping[str, object], key: str, label: str, *, required: bool) -> object:
        if key in obj:
            return obj[key]
        if required:
            self.fail(label, f'missing field "{key}"')
        return _MISSING

    def string(self, obj: Mapping[str, object], key: str, label: str, *, nonempty: bool = True) -> str | None:
        value = self.get(obj, key, label, required=True)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(label, f'field "{key}" must be a string, got {json_type(value)}')
            return None
        if nonempty and not value.strip():
            self.fail(label, f'field "{key}" must not be empty')
            return None
        return value

    def number(
        self,
        obj: Mapping[str, object],
        key: str,
        label: str,
        *,
        required: bool = True,
        low: float | None = None,
        high: float | None = None,
        positive: bool = False,
    ) -> float | None:
        value = self.get(obj, key, label, required=required)
        if value is _MISSING or (value is None and not required):
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(label, f'field "{key}" must be a number, got {json_type(value)}')
            return None
        number = float(value)
        if positive and number <= 0:
            self.fail(label, f'field "{key}" must be greater than 0, got {value}')
            return None
        if low is not None and number < low:
            self.fail(label, f'field "{key}" must be at least {low:g}, got {value}')
            return None
        if high is not None and number > high:
            self.fail(label, f'field "{key}" must be at most {high:g}, got {value}')
            return None
        return number

    def integer(
        self, obj: Mapping[str, object], key: str, label: str, *, required: bool = True, low: int | None = 0
    ) -> int | None:
        value = self.get(obj, key, label, required=required)
        if value is _MISSING or (value is None and not required):
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(label, f'field "{key}" must be a whole number, got {_show(value)}')
            return None
        if low is not None and value < low:
            self.fail(label, f'field "{key}" must be at least {low}, got {value}')
            return None
        return value

    def boolean(self, obj: Mapping[str, object], key: str, label: str) -> bool | None:
        value = self.get(obj, key, label, required=True)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.fail(label, f'field "{key}" must be true or false, got {json_type(value)}')
            return None
        return value

    def strings(self, obj: Mapping[str, object], key: str, label: str, *, required: bool) -> list[str] | None:
        """A list of non-empty strings; None when absent/null (optional) or invalid."""
        value = self.get(obj, key, label, required=required)
        if value is _MISSING or (value is None and not required):
            return None
        if not isinstance(value, list):
            self.fail(label, f'field "{key}" must be an array of strings, got {json_type(value)}')
            return None
        items: list[str] = []
        ok = True
        for position, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(label, f'field "{key}" item {position + 1} must be a non-empty string, got {_show(item)}')
                ok = False
            else:
                items.append(item)
        return items if ok else None

    def record_list(self, obj: Mapping[str, object], key: str) -> list[Any]:
        value = self.get(obj, key, "instance", required=True)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be an array, got {json_type(value)}")
            return []
        return value


def _show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return json_type(value)


def _label(kind: str, index: int, record: Mapping[str, object]) -> str:
    ident = record.get("id")
    if isinstance(ident, str) and ident.strip():
        return f"{kind}[{index}] ({ident})"
    return f"{kind}[{index}]"


def _objects(reader: _Reader, kind: str, raw: list[Any]) -> list[tuple[int, str, dict[str, Any], str | None]]:
    """(index, label, record, id) for every record that is an object; ids checked for duplicates."""
    out: list[tuple[int, str, dict[str, Any], str | None]] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(raw):
        if not isinstance(record, dict):
            reader.fail(f"{kind}[{index}]", f"must be an object, got {json_type(record)}")
            continue
        label = _label(kind, index, record)
        reader.note_unknown(kind, record)
        ident = reader.string(record, "id", label)
        if ident is not None:
            if ident in seen:
                reader.fail(label, f'duplicate id "{ident}" (also {kind}[{seen[ident]}])')
                ident = None
            else:
                seen[ident] = index
        out.append((index, label, record, ident))
    return out


def _date(reader: _Reader, record: Mapping[str, object], key: str, label: str) -> date | None:
    text = reader.string(record, key, label)
    if text is None:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        reader.fail(label, f'field "{key}" must be an ISO date (YYYY-MM-DD), got "{text}"')
        return None


def _periods(reader: _Reader, raw: list[Any]) -> list[Period]:
    periods: list[Period] = []
    for _, label, record, ident in _objects(reader, "periods", raw):
        start = _date(reader, record, "start", label)
        end = _date(reader, record, "end", label)
        if start is not None and end is not None and start > end:
            reader.fail(label, f"start {start.isoformat()} is after end {end.isoformat()}")
        elif ident is not None and start is not None and end is not None:
            periods.append(Period(ident, start, end))
    return periods


def _coordinates(reader: _Reader, record: Mapping[str, object], label: str) -> tuple[float, float] | None:
    lat = reader.number(record, "lat", label, low=-90, high=90)
    lon = reader.number(record, "lon", label, low=-180, high=180)
    if lat is None or lon is None:
        return None
    return lat, lon


def _schools(reader: _Reader, raw: list[Any]) -> list[School]:
    schools: list[School] = []
    for _, label, record, ident in _objects(reader, "schools", raw):
        name = reader.string(record, "name", label, nonempty=False)
        position = _coordinates(reader, record, label)
        need = reader.number(record, "need_index", label, required=False, low=0)
        bad_need = "need_index" in record and record["need_index"] is not None and need is None
        if ident is not None and name is not None and position is not None and not bad_need:
            schools.append(School(ident, name, position[0], position[1], 1.0 if need is None else need))
    return schools


def _offers(reader: _Reader, raw: list[Any], period_ids: set[str], school_ids: set[str]) -> list[Offer]:
    offers: list[Offer] = []
    for _, label, record, ident in _objects(reader, "offers", raw):
        ok = ident is not None
        texts = [reader.string(record, key, label) for key in ("employer", "title", "sector")]
        ok &= all(text is not None for text in texts)
        position = _coordinates(reader, record, label)
        ok &= position is not None
        capacity: dict[str, int] = {}
        value = reader.get(record, "capacity", label, required=True)
        if value is _MISSING:
            ok = False
        elif not isinstance(value, dict):
            reader.fail(label, f'field "capacity" must be an object, got {json_type(value)}')
            ok = False
        else:
            for period, places in value.items():
                if period not in period_ids:
                    reader.fail(label, f'capacity["{period}"] names no period')
                    ok = False
                elif isinstance(places, bool) or not isinstance(places, int) or places < 0:
                    reader.fail(label, f'capacity["{period}"] must be a whole number >= 0, got {_show(places)}')
                    ok = False
                else:
                    capacity[period] = places
        min_age = reader.integer(record, "min_age", label, required=False)
        ok &= min_age is not None or record.get("min_age") is None
        requires = reader.strings(record, "requires", label, required=False)
        ok &= requires is not None or record.get("requires") is None
        schools = reader.strings(record, "schools", label, required=False)
        if schools is None:
            ok &= record.get("schools") is None
        else:
            for school in schools:
                if school not in school_ids:
                    reader.fail(label, f'school "{school}" in field "schools" names no school')
                    ok = False
        if ok:
            assert position is not None
            employer, title, sector = (str(text) for text in texts)
            offers.append(
                Offer(
                    id=str(ident),
                    employer=employer,
                    title=title,
                    sector=sector,
                    lat=position[0],
                    lon=position[1],
                    capacity=capacity,
                    min_age=min_age,
                    requires=frozenset(requires or ()),
                    schools=None if schools is None else frozenset(schools),
                )
            )
    return offers


def _students(
    reader: _Reader,
    raw: list[Any],
    *,
    period_ids: set[str],
    school_ids: set[str],
    offers: Mapping[str, Offer],
    all_offer_ids: set[str],
    warnings: list[str],
) -> list[Student]:
    students: list[Student] = []
    for _, label, record, ident in _objects(reader, "students", raw):
        ok = ident is not None
        school = reader.string(record, "school", label)
        if school is not None and school not in school_ids:
            reader.fail(label, f'school "{school}" names no school')
            school = None
        period = reader.string(record, "period", label)
        if period is not None and period not in period_ids:
            reader.fail(label, f'period "{period}" names no period')
            period = None
        ok &= school is not None and period is not None
        gender = record.get("gender")
        if gender is not None and gender not in GENDERS:
            reader.fail(label, f'field "gender" must be "female", "male", "other" or null, got {_show(gender)}')
            ok = False
        age = reader.integer(record, "age", label)
        ok &= age is not None
        preferences = reader.strings(record, "preferences", label, required=True)
        if preferences is None:
            ok = False
        else:
            first: dict[str, int] = {}
            for position, offer in enumerate(preferences, start=1):
                if offer not in all_offer_ids:
                    reader.fail(label, f'preference "{offer}" names no offer')
                    ok = False
                elif offer in first:
                    reader.fail(label, f'preference "{offer}" listed twice (positions {first[offer]} and {position})')
                    ok = False
                else:
                    first[offer] = position
        attributes = reader.strings(record, "attributes", label, required=False)
        ok &= attributes is not None or record.get("attributes") is None
        own_radius = reader.number(record, "max_distance_km", label, required=False, low=0)
        ok &= own_radius is not None or record.get("max_distance_km") is None
        locked = record.get("locked")
        if locked is not None:
            if not isinstance(locked, str):
                reader.fail(label, f'field "locked" must be an offer id or null, got {json_type(locked)}')
                ok = False
            elif locked not in all_offer_ids:
                reader.fail(label, f'locked offer "{locked}" names no offer')
                ok = False
            elif period is not None and locked in offers and offers[locked].places(period) <= 0:
                reader.fail(label, f'locked offer "{locked}" has no place in period {period}')
                ok = False
        excluded = reader.strings(record, "excluded_offers", label, required=False)
        if excluded is None:
            ok &= record.get("excluded_offers") is None
        else:
            for offer in excluded:
                if offer not in all_offer_ids:
                    warnings.append(f'{label}: excluded offer "{offer}" names no offer (ignored)')
        if ok:
            assert school is not None
            assert period is not None
            assert age is not None
            assert preferences is not None
            students.append(
                Student(
                    id=str(ident),
                    school=school,
                    period=period,
                    gender=gender if isinstance(gender, str) else None,
                    age=age,
                    preferences=tuple(preferences),
                    attributes=frozenset(attributes or ()),
                    max_distance_km=own_radius,
                    locked=locked if isinstance(locked, str) else None,
                    excluded_offers=frozenset(o for o in excluded or () if o in all_offer_ids),
                )
            )
    return students


def _policy(reader: _Reader, data: Mapping[str, object]) -> Policy | None:
    value = reader.get(data, "policy", "instance", required=True)
    if value is _MISSING:
        return None
    if not isinstance(value, dict):
        reader.fail("policy", f"must be an object, got {json_type(value)}")
        return None
    reader.note_unknown("policy", value)
    radius = reader.number(value, "max_distance_km", "policy", low=0)
    assign = reader.boolean(value, "assign_unranked", "policy")
    time_limit = reader.number(value, "time_limit_s", "policy", required=False, positive=True)
    seed = reader.integer(value, "seed", "policy", required=False, low=None)
    ok = radius is not None and assign is not None
    ok &= time_limit is not None or value.get("time_limit_s") is None
    ok &= seed is not None or value.get("seed") is None
    fairness = Fairness()
    raw = value.get("fairness")
    if raw is not None:
        if not isinstance(raw, dict):
            reader.fail("policy", f'field "fairness" must be an object, got {json_type(raw)}')
            ok = False
        else:
            reader.note_unknown("policy.fairness", raw)
            weights = {
                key: reader.number(raw, key, "policy.fairness", required=False, low=0)
                for key in ("school", "gender", "need")
            }
            bad = [key for key, weight in weights.items() if weight is None and raw.get(key) is not None]
            ok &= not bad
            fairness = Fairness(**{k: 1.0 if w is None else w for k, w in weights.items()})
    mechanism = value.get("mechanism")
    if mechanism is not None and mechanism not in MECHANISMS:
        choices = ", ".join(f'"{m}"' for m in MECHANISMS[:-1]) + f' or "{MECHANISMS[-1]}"'
        reader.fail("policy", f'field "mechanism" must be {choices}, got {_show(mechanism)}')
        ok = False
    reserves = _reserves(reader, value.get("reserves"))
    ok &= reserves is not None
    if not ok:
        return None
    assert radius is not None
    assert assign is not None
    assert reserves is not None
    return Policy(
        max_distance_km=radius,
        assign_unranked=assign,
        fairness=fairness,
        time_limit_s=60.0 if time_limit is None else time_limit,
        seed=0 if seed is None else seed,
        mechanism="optimal" if mechanism is None else str(mechanism),
        reserves=reserves,
    )


def _reserves(reader: _Reader, raw: object) -> Reserves | None:
    """``policy.reserves`` (absent or null: the defaults); None when invalid."""
    if raw is None:
        return Reserves()
    if not isinstance(raw, dict):
        reader.fail("policy", f'field "reserves" must be an object, got {json_type(raw)}')
        return None
    reader.note_unknown("policy.reserves", raw)
    share = reader.number(raw, "high_need_share", "policy.reserves", required=False, low=0, high=1)
    if share is None and raw.get("high_need_share") is not None:
        return None
    return Reserves(high_need_share=share)


def _check_locked_capacity(reader: _Reader, raw_offers: list[Any], students: list[Student]) -> None:
    used: Counter[tuple[str, str]] = Counter((s.locked, s.period) for s in students if s.locked is not None)
    by_offer: defaultdict[str, list[tuple[str, int]]] = defaultdict(list)
    for (offer, period), count in sorted(used.items()):
        by_offer[offer].append((period, count))
    for index, record in enumerate(raw_offers):
        if not isinstance(record, dict) or record.get("id") not in by_offer:
            continue
        capacity = record.get("capacity")
        if not isinstance(capacity, dict):
            continue
        for period, count in by_offer[record["id"]]:
            places = capacity.get(period)
            if isinstance(places, int) and not isinstance(places, bool) and count > places:
                reader.fail(
                    _label("offers", index, record),
                    f'capacity["{period}"] is {places} but {count} locked placements use it',
                )


def load_instance(data: object) -> Instance:
    """Validate a parsed ``praktik-instance/1`` document and build an :class:`Instance`.

    Raises :class:`InstanceError` listing every problem found.
    """
    reader = _Reader()
    if not isinstance(data, dict):
        raise InstanceError([f"instance: expected a JSON object, got {json_type(data)}"])
    fmt = data.get("format", _MISSING)
    if fmt is _MISSING:
        raise InstanceError(['instance: missing field "format"'])
    if fmt != INSTANCE_FORMAT:
        raise InstanceError([f'format: expected "{INSTANCE_FORMAT}", got {_show(fmt)}'])
    reader.note_unknown("instance", data)
    name = reader.string(data, "name", "instance", nonempty=False)
    raw_periods = reader.record_list(data, "periods")
    raw_schools = reader.record_list(data, "schools")
    raw_offers = reader.record_list(data, "offers")
    raw_students = reader.record_list(data, "students")
    periods = _periods(reader, raw_periods)
    schools = _schools(reader, raw_schools)
    # Ids named by other records are checked against every record that has a
    # valid id, even when the record itself has another problem: this avoids
    # a cascade of "names no ..." lines caused by one bad field.
    period_ids = _valid_ids(raw_periods)
    school_ids = _valid_ids(raw_schools)
    offer_ids = _valid_ids(raw_offers)
    offers = _offers(reader, raw_offers, period_ids, school_ids)
    warnings: list[str] = []
    students = _students(
        reader,
        raw_students,
        period_ids=period_ids,
        school_ids=school_ids,
        offers={o.id: o for o in offers},
        all_offer_ids=offer_ids,
        warnings=warnings,
    )
    _check_locked_capacity(reader, raw_offers, students)
    policy = _policy(reader, data)
    if reader.problems:
        raise InstanceError(reader.problems)
    assert name is not None
    assert policy is not None
    for (kind, key), count in sorted(reader.unknown.items()):
        where = kind if kind in _POLICY_KINDS else f"{kind} ({count} records)"
        warnings.append(f'{where}: unknown field "{key}" ignored')
    return Instance(
        name=name,
        periods=tuple(periods),
        schools=tuple(schools),
        offers=tuple(offers),
        students=tuple(students),
        policy=policy,
        warnings=tuple(warnings),
    )


def _valid_ids(raw: list[Any]) -> set[str]:
    return {r["id"] for r in raw if isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"].strip()}

"""Seeded generator of realistic ``praktik-instance/1`` rounds in a Göteborg-like region.

``generate(students, seed=...)`` returns the instance as a plain dict, ready for
``json.dump``; ``python -m benchmarks.instances N -o FILE`` writes it.  The
same arguments always give the same document (one ``random.Random(seed)``
drives everything; the bulk draws of the pupils' choices use a NumPy
generator seeded from it).

What the instances look like (see ``benchmarks/README.md``):

* schools in the districts of Göteborg and the 12 surrounding municipalities,
  one per 100-250 pupils, ``need_index`` 0.6-1.8 following the area;
* pupils in classes of about 25, each class doing PRAO in one period (year 9
  in autumn only, so ages are 13-15), genders 49/49/2 (other or unknown);
* workplaces clustered around the town centres, most in central Göteborg;
  offers have 1-4 places in some periods, and per period the places add up
  to 1.05-1.15 times the pupils of that period (0.93-0.97 with ``scarce``);
* popularity is concentrated: employers' fame follows a Zipf law and some
  sectors are far more sought after than others; girls and boys lean towards
  gender-typical sectors, with a lot of overlap; pupils mostly rank offers
  near their school; about 5 % rank nothing, the others rank ``choices`` on
  average (at most 10);
* about 15 % of offers have a ``min_age`` (15, a few 16), about 10 % require
  a tag (``swedish``, ``english``, ``drivers_licence_moped``), about 5 % are
  reserved to the nearest schools; about 2 % of pupils have a self-arranged
  (locked) placement that fits the capacity.

``variant="periphery"`` is a harder round of the same region: the high-need
areas (Angered, Östra Göteborg, Biskopsgården, Norra Hisingen) lie farther
out from the centre and have far fewer workplaces of their own, and the most
famous employers are concentrated in central Göteborg, so that high-need
pupils' most popular choices are far away and contested.  The default
variant is unchanged by this: the same arguments give the same document.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

TIME_LIMIT_S = 60
"""The rounds' ``policy.time_limit_s``: the solver's default, as a municipality would run it."""

FORMAT = "praktik-instance/1"
MAX_CHOICES = 10
PUPILS_PER_SCHOOL = 170
CLASS_SIZE = 25
KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.2 * math.cos(math.radians(57.8))
TAGS = ("swedish", "english", "drivers_licence_moped")
VARIANTS = ("default", "periphery")
PERIPHERY_NEED = 1.3
"""In the periphery variant, areas with at least this typical need_index are moved out..."""
PERIPHERY_PUSH = 1.7
"""... to this many times their distance from the centre (Göteborg Centrum) ..."""
PERIPHERY_JOBS = 0.25
"""... with this share of their workplaces."""
FAME_NOISE = 0.5
"""Periphery variant: employers' fame rank follows distance from the centre times lognormal noise of this sigma."""


@dataclass(frozen=True)
class Area:
    name: str
    lat: float
    lon: float
    spread_km: float
    pupils: float
    """Relative number of pupils (and so of schools)."""
    jobs: float
    """Relative number of workplaces."""
    need: float
    """Typical need_index of the area's schools."""


# Göteborg's districts, then the 12 surrounding municipalities (centre of the main town).
AREAS: tuple[Area, ...] = (
    Area("Göteborg Centrum", 57.7089, 11.9746, 2.0, 3.0, 24.0, 0.70),
    Area("Majorna-Linné", 57.6930, 11.9200, 1.8, 3.0, 4.0, 0.75),
    Area("Örgryte-Härlanda", 57.7010, 12.0180, 2.2, 4.0, 5.0, 0.72),
    Area("Askim-Frölunda-Högsbo", 57.6460, 11.9330, 3.0, 6.0, 6.0, 0.90),
    Area("Västra Göteborg", 57.6400, 11.8650, 2.5, 4.0, 1.5, 0.65),
    Area("Lundby", 57.7200, 11.9300, 1.8, 3.0, 6.0, 0.95),
    Area("Biskopsgården", 57.7290, 11.8850, 1.5, 3.0, 1.0, 1.60),
    Area("Torslanda", 57.7200, 11.7800, 2.5, 2.5, 3.0, 0.65),
    Area("Norra Hisingen", 57.7880, 11.9450, 3.0, 4.0, 3.5, 1.30),
    Area("Angered", 57.7960, 12.0480, 2.5, 5.0, 2.0, 1.75),
    Area("Östra Göteborg", 57.7520, 12.0600, 2.5, 5.0, 3.0, 1.55),
    Area("Mölndal", 57.6554, 12.0138, 3.0, 7.0, 7.0, 0.90),
    Area("Partille", 57.7395, 12.1064, 2.5, 4.5, 2.5, 0.85),
    Area("Kungälv", 57.8706, 11.9805, 4.0, 5.0, 3.0, 0.90),
    Area("Lerum", 57.7705, 12.2690, 4.5, 5.0, 2.0, 0.70),
    Area("Alingsås", 57.9303, 12.5334, 4.0, 4.5, 3.0, 1.00),
    Area("Kungsbacka", 57.4875, 12.0761, 6.0, 9.0, 4.0, 0.70),
    Area("Härryda", 57.6589, 12.1166, 4.5, 4.5, 2.0, 0.68),
    Area("Stenungsund", 58.0705, 11.8181, 4.0, 3.0, 2.0, 1.00),
    Area("Tjörn", 57.9897, 11.5489, 4.0, 1.7, 1.0, 0.85),
    Area("Öckerö", 57.7086, 11.6534, 2.0, 1.5, 0.6, 0.65),
    Area("Ale", 57.8935, 12.0663, 5.0, 3.2, 1.8, 1.15),
    Area("Lilla Edet", 58.1339, 12.1236, 4.0, 1.5, 0.9, 1.25),
)


@dataclass(frozen=True)
class Sector:
    name: str
    supply: float
    """Share of offers."""
    popularity: float
    """How sought after a typical offer of the sector is."""
    female: float
    male: float
    min_age: float
    """Probability that an offer has a min_age."""
    roles: tuple[tuple[str, str], ...]


SECTORS: tuple[Sector, ...] = (
    Sector(
        "health",
        0.12,
        1.2,
        1.8,
        0.5,
        0.10,
        (
            ("Assistant nurse", "health centre"),
            ("Care assistant", "elderly care home"),
            ("Dental assistant", "dental clinic"),
            ("Pharmacy assistant", "pharmacy"),
            ("Hospital porter", "hospital"),
        ),
    ),
    Sector(
        "education",
        0.12,
        0.9,
        1.6,
        0.6,
        0.03,
        (
            ("Preschool assistant", "preschool"),
            ("Teaching assistant", "primary school"),
            ("Leisure-time assistant", "after-school centre"),
        ),
    ),
    Sector(
        "retail",
        0.12,
        1.0,
        1.1,
        0.9,
        0.08,
        (
            ("Shop assistant", "grocery store"),
            ("Sales assistant", "clothing store"),
            ("Stock assistant", "hardware store"),
            ("Sales assistant", "bookshop"),
        ),
    ),
    Sector(
        "hospitality",
        0.08,
        1.1,
        1.0,
        1.0,
        0.15,
        (
            ("Kitchen assistant", "restaurant"),
            ("Barista", "café"),
            ("Reception assistant", "hotel"),
            ("Baker's assistant", "bakery"),
        ),
    ),
    Sector(
        "construction",
        0.06,
        0.8,
        0.3,
        1.8,
        0.60,
        (
            ("Carpenter's helper", "building site"),
            ("Electrician's helper", "electrical contractor"),
            ("Plumber's helper", "plumbing firm"),
            ("Painter's helper", "painting firm"),
        ),
    ),
    Sector(
        "manufacturing",
        0.06,
        0.6,
        0.5,
        1.5,
        0.45,
        (
            ("Production assistant", "factory"),
            ("Machine operator trainee", "engineering workshop"),
            ("Production assistant", "food plant"),
        ),
    ),
    Sector(
        "it",
        0.05,
        2.0,
        0.6,
        1.8,
        0.03,
        (
            ("Developer trainee", "software company"),
            ("IT support assistant", "IT department"),
            ("Game tester", "game studio"),
        ),
    ),
    Sector(
        "transport",
        0.04,
        0.7,
        0.4,
        1.5,
        0.45,
        (
            ("Logistics assistant", "freight terminal"),
            ("Warehouse assistant", "distribution centre"),
            ("Harbour assistant", "port"),
        ),
    ),
    Sector(
        "office",
        0.08,
        0.8,
        1.1,
        0.9,
        0.03,
        (
            ("Office assistant", "accounting firm"),
            ("Reception assistant", "law firm"),
            ("Office assistant", "real-estate agency"),
            ("Office assistant", "bank"),
        ),
    ),
    Sector(
        "culture",
        0.04,
        1.6,
        1.3,
        0.8,
        0.05,
        (
            ("Library assistant", "public library"),
            ("Museum assistant", "museum"),
            ("Stage assistant", "theatre"),
            ("Production assistant", "radio station"),
        ),
    ),
    Sector(
        "public",
        0.06,
        0.6,
        1.1,
        0.9,
        0.10,
        (
            ("Office assistant", "municipal office"),
            ("Park worker", "parks department"),
            ("Assistant", "fire station"),
            ("Assistant", "police station"),
        ),
    ),
    Sector(
        "agriculture",
        0.03,
        0.9,
        1.3,
        0.8,
        0.25,
        (
            ("Stable assistant", "riding school"),
            ("Farm assistant", "dairy farm"),
            ("Gardener's helper", "garden centre"),
            ("Animal keeper assistant", "animal shelter"),
        ),
    ),
    Sector(
        "vehicles",
        0.03,
        1.4,
        0.2,
        2.2,
        0.50,
        (
            ("Mechanic's helper", "car workshop"),
            ("Mechanic's helper", "truck workshop"),
            ("Assistant", "tyre centre"),
            ("Mechanic's helper", "boat yard"),
        ),
    ),
    Sector(
        "beauty",
        0.03,
        1.8,
        2.5,
        0.2,
        0.10,
        (
            ("Hairdresser's assistant", "hair salon"),
            ("Assistant", "beauty salon"),
            ("Nail technician assistant", "nail studio"),
        ),
    ),
    Sector(
        "sports",
        0.03,
        2.0,
        0.9,
        1.2,
        0.05,
        (
            ("Assistant coach", "sports club"),
            ("Assistant", "gym"),
            ("Pool assistant", "swimming hall"),
        ),
    ),
    Sector(
        "science",
        0.02,
        1.5,
        1.1,
        0.9,
        0.20,
        (
            ("Lab assistant", "research lab"),
            ("Assistant", "science centre"),
            ("Assistant", "environmental consultancy"),
        ),
    ),
)
SECTOR_NAMES = tuple(s.name for s in SECTORS)
CENTRE = AREAS[0]
MOPED_SECTORS = frozenset({"transport", "vehicles", "agriculture"})

# ISO weeks of the 2026/27 school year, in the order periods are added: autumn
# weeks >= 30 are 2026, the others 2027; holiday weeks (44, 7-9, 52-2) are left out.
WEEKS = (45, 10, 40, 16, 47, 13, 38, 20, 49, 5, 42, 18, 39, 11, 46, 21, 41, 15, 48, 4, 43, 19, 50, 3, 12, 6, 17, 14)

SCHOOL_STEMS = (
    "Björk",
    "Ek",
    "Lind",
    "Sjö",
    "Berg",
    "Äng",
    "Hög",
    "Strand",
    "Backa",
    "Skogs",
    "Kvarn",
    "Torps",
    "Hed",
    "Vik",
    "Norr",
    "Söder",
    "Väster",
    "Öster",
    "Lunda",
    "Gärde",
    "Bräcke",
    "Kulle",
    "Dal",
    "Ås",
)


def _periods(count: int) -> list[dict[str, str]]:
    if not 1 <= count <= len(WEEKS):
        raise ValueError(f"periods must be between 1 and {len(WEEKS)}, got {count}")
    out = []
    for week in WEEKS[:count]:
        year = 2026 if week >= 30 else 2027
        start = date.fromisocalendar(year, week, 1)
        out.append((start, f"w{week:02d}"))
    out.sort()
    return [
        {"id": ident, "start": start.isoformat(), "end": (start + timedelta(days=11)).isoformat()}
        for start, ident in out
    ]


def _ids(prefix: str, count: int, width: int) -> list[str]:
    width = max(width, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _place(rng: random.Random, lat: float, lon: float, spread_km: float) -> tuple[float, float]:
    return (
        round(lat + rng.gauss(0.0, spread_km) / KM_PER_DEG_LAT, 5),
        round(lon + rng.gauss(0.0, spread_km) / KM_PER_DEG_LON, 5),
    )


def _km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Approximate distance in km (equirectangular; fine at the scale of a region)."""
    return np.hypot((lat - lat0) * KM_PER_DEG_LAT, (lon - lon0) * KM_PER_DEG_LON)


def _periphery(areas: Sequence[Area]) -> tuple[Area, ...]:
    """The areas of the periphery variant: high-need areas farther out, with fewer workplaces."""
    return tuple(
        replace(
            a,
            lat=round(CENTRE.lat + PERIPHERY_PUSH * (a.lat - CENTRE.lat), 4),
            lon=round(CENTRE.lon + PERIPHERY_PUSH * (a.lon - CENTRE.lon), 4),
            jobs=a.jobs * PERIPHERY_JOBS,
        )
        if a.need >= PERIPHERY_NEED
        else a
        for a in areas
    )


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def generate(
    students: int,
    *,
    seed: int = 0,
    periods: int = 4,
    choices: float = 8.0,
    scarce: bool = False,
    variant: str = "default",
) -> dict[str, Any]:
    """A ``praktik-instance/1`` round with ``students`` pupils (see the module docstring)."""
    if students < 1:
        raise ValueError("students must be at least 1")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    areas = AREAS if variant == "default" else _periphery(AREAS)
    rng = random.Random(seed)
    np_rng = np.random.default_rng(rng.getrandbits(64))
    period_docs = _periods(periods)
    period_ids = [p["id"] for p in period_docs]
    period_start = {p["id"]: date.fromisoformat(p["start"]) for p in period_docs}
    autumn = [p for p in period_ids if period_start[p].month >= 8]
    n_periods = len(period_ids)

    # Schools: one per ~170 pupils (100-250 each), placed in the areas by pupil numbers.
    n_schools = max(1, round(students / PUPILS_PER_SCHOOL))
    school_ids = _ids("S", n_schools, 3)
    school_area = rng.choices(range(len(areas)), weights=[a.pupils for a in areas], k=n_schools)
    sizes = _split(students, [rng.uniform(100, 250) for _ in range(n_schools)])
    schools: list[dict[str, Any]] = []
    used_names: dict[str, int] = {}
    for ident, a in zip(school_ids, school_area, strict=True):
        area = areas[a]
        lat, lon = _place(rng, area.lat, area.lon, area.spread_km)
        name = f"{rng.choice(SCHOOL_STEMS)}skolan"
        used_names[name] = used_names.get(name, 0) + 1
        if used_names[name] > 1:
            name = f"{name}, {area.name}" if used_names[name] == 2 else f"{name} {used_names[name]}, {area.name}"
        need = round(min(1.8, max(0.6, rng.gauss(area.need, 0.12))), 2)
        schools.append({"id": ident, "name": name, "lat": lat, "lon": lon, "need_index": need})
    school_lat = np.array([s["lat"] for s in schools])
    school_lon = np.array([s["lon"] for s in schools])

    # Pupils, class by class; year 9 does PRAO in the autumn, year 8 in any period.
    pupil_school: list[int] = []
    pupil_period: list[int] = []
    pupil_gender: list[str | None] = []
    pupil_age: list[int] = []
    pupil_attrs: list[list[str]] = []
    load = [0] * n_periods
    for si, size in enumerate(sizes):
        n_classes = max(1, round(size / CLASS_SIZE))
        for class_size in _split(size, [1.0] * n_classes):
            year9 = bool(autumn) and rng.random() < 0.4
            options = [period_ids.index(p) for p in autumn] if year9 else list(range(n_periods))
            if rng.random() < 0.8:
                least = min(load[p] for p in options)
                options = [p for p in options if load[p] == least]
            p_index = rng.choice(options)
            load[p_index] += class_size
            period = period_ids[p_index]
            born = 2011 if year9 else 2012
            start = period_start[period]
            for _ in range(class_size):
                birth = date(born, 1, 1) + timedelta(days=rng.randrange(365))
                age = _age(birth, start)
                g = rng.random()
                gender = "female" if g < 0.49 else "male" if g < 0.98 else "other" if g < 0.995 else None
                attrs = []
                if rng.random() < 0.92:
                    attrs.append("swedish")
                if rng.random() < 0.85:
                    attrs.append("english")
                if age >= 15 and rng.random() < 0.2:
                    attrs.append("drivers_licence_moped")
                pupil_school.append(si)
                pupil_period.append(p_index)
                pupil_gender.append(gender)
                pupil_age.append(age)
                pupil_attrs.append(attrs)
    n_pupils = len(pupil_school)
    per_period = [0] * n_periods
    for p in pupil_period:
        per_period[p] += 1

    # Offers: employers around the town centres, until each period has its places.
    ratio = rng.uniform(0.93, 0.97) if scarce else rng.uniform(1.05, 1.15)
    target = [math.ceil(ratio * k) for k in per_period]
    have = [0] * n_periods
    job_weights = [a.jobs for a in areas]
    supply = [s.supply for s in SECTORS]
    offer_docs: list[dict[str, Any]] = []
    offer_employer: list[int] = []
    offer_sector: list[int] = []
    offer_lat: list[float] = []
    offer_lon: list[float] = []
    offer_caps: list[list[int]] = []
    employer_site: list[tuple[float, float]] = []
    n_employers = 0
    while any(h < t for h, t in zip(have, target, strict=True)):
        area = areas[rng.choices(range(len(areas)), weights=job_weights)[0]]
        main_sector = rng.choices(range(len(SECTORS)), weights=supply)[0]
        big = SECTORS[main_sector].name in {"health", "education", "public"}
        count = rng.choices((1, 2, 3, 4, 6, 10), weights=(60, 18, 9, 6, 4, 3 if big else 1))[0]
        base_lat, base_lon = _place(rng, area.lat, area.lon, area.spread_km)
        employer_site.append((base_lat, base_lon))
        employer = n_employers
        n_employers += 1
        for k in range(count):
            open_periods = [p for p in range(n_periods) if have[p] < target[p]]
            if not open_periods:
                break
            s = main_sector if rng.random() < 0.9 else rng.choices(range(len(SECTORS)), weights=supply)[0]
            lat, lon = (base_lat, base_lon) if k == 0 else _place(rng, base_lat, base_lon, 0.4 * area.spread_km)
            wanted = rng.choices(range(1, n_periods + 1), weights=[1.0 / i for i in range(1, n_periods + 1)])[0]
            if rng.random() < 0.25:
                wanted = n_periods
            chosen: list[int] = []
            while open_periods and len(chosen) < wanted:
                deficit = [target[p] - have[p] for p in open_periods]
                p = rng.choices(open_periods, weights=deficit)[0]
                open_periods.remove(p)
                chosen.append(p)
            offer_cap = [0] * n_periods
            places = rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]
            for p in chosen:
                offer_cap[p] = places if rng.random() < 0.8 else rng.randint(1, 4)
                have[p] += offer_cap[p]
            offer_employer.append(employer)
            offer_sector.append(s)
            offer_lat.append(lat)
            offer_lon.append(lon)
            offer_caps.append(offer_cap)
    n_offers = len(offer_caps)
    offer_ids = _ids("O", n_offers, 5)
    employer_ids = _ids("E", n_employers, 4)
    o_lat = np.array(offer_lat)
    o_lon = np.array(offer_lon)

    # Popularity: employers' fame is Zipf-distributed, times the sector's pull and some noise.
    fame_rank = list(range(1, n_employers + 1))
    if variant == "periphery":  # the most famous employers are the central ones
        site = np.array(employer_site).reshape(-1, 2)
        remoteness = _km(site[:, 0], site[:, 1], CENTRE.lat, CENTRE.lon)
        noisy = [float(d) * rng.lognormvariate(0.0, FAME_NOISE) for d in remoteness]
        for rank, e in enumerate(sorted(range(n_employers), key=lambda e: (noisy[e], e)), start=1):
            fame_rank[e] = rank
    else:
        rng.shuffle(fame_rank)
    pull = np.array(
        [
            fame_rank[offer_employer[o]] ** -0.8 * SECTORS[offer_sector[o]].popularity * rng.lognormvariate(0.0, 0.3)
            for o in range(n_offers)
        ]
    )
    sector_of = np.array(offer_sector)
    affinity = {
        "female": np.array([s.female for s in SECTORS])[sector_of],
        "male": np.array([s.male for s in SECTORS])[sector_of],
    }
    affinity["other"] = (affinity["female"] + affinity["male"]) / 2

    # Restrictions: min_age, required tags, reserved for the nearest schools.
    offer_min_age: list[int | None] = []
    offer_requires: list[frozenset[str]] = []
    offer_schools: list[list[int] | None] = []
    for o in range(n_offers):
        sector = SECTORS[offer_sector[o]]
        min_age = (16 if rng.random() < 0.1 else 15) if rng.random() < sector.min_age else None
        requires: frozenset[str] = frozenset()
        if rng.random() < 0.10:
            if sector.name in MOPED_SECTORS and rng.random() < 0.5:
                requires = frozenset({"drivers_licence_moped"})
            else:
                x = rng.random()
                requires = frozenset({"swedish"} if x < 0.55 else {"english"} if x < 0.85 else {"swedish", "english"})
        reserved = None
        if rng.random() < 0.05:
            near = np.argsort(_km(school_lat, school_lon, offer_lat[o], offer_lon[o]), kind="stable")
            reserved = sorted(int(i) for i in near[: rng.randint(1, 3)])
        offer_min_age.append(min_age)
        offer_requires.append(requires)
        offer_schools.append(reserved)
    for o in range(n_offers):
        sector = SECTORS[offer_sector[o]]
        role, place = rng.choice(sector.roles)
        doc: dict[str, Any] = {
            "id": offer_ids[o],
            "employer": employer_ids[offer_employer[o]],
            "title": f"{role}, {place}",
            "sector": sector.name,
            "lat": offer_lat[o],
            "lon": offer_lon[o],
            "capacity": {period_ids[p]: c for p, c in enumerate(offer_caps[o]) if c > 0},
        }
        if offer_min_age[o] is not None:
            doc["min_age"] = offer_min_age[o]
        if offer_requires[o]:
            doc["requires"] = sorted(offer_requires[o])
        reserved_for = offer_schools[o]
        if reserved_for is not None:
            doc["schools"] = [school_ids[i] for i in reserved_for]
        offer_docs.append(doc)

    # Choices: pupils of one school, period and gender draw from the same weights
    # (pull x gender affinity x distance decay, only offers open to them in that period).
    ranked = np_rng.random(n_pupils) >= 0.05
    wish = 1 + np_rng.binomial(MAX_CHOICES - 1, (min(max(choices, 1.0), MAX_CHOICES) - 1) / (MAX_CHOICES - 1), n_pupils)
    open_in = np.array(offer_caps, dtype=np.int64).reshape(n_offers, n_periods) > 0
    reserved_mask = np.zeros((n_schools, n_offers), dtype=np.bool_)
    restricted = np.zeros(n_offers, dtype=np.bool_)
    for o, listed in enumerate(offer_schools):
        if listed is not None:
            restricted[o] = True
            reserved_mask[listed, o] = True
    groups: dict[tuple[int, int, str], list[int]] = {}
    for i in range(n_pupils):
        key = (pupil_school[i], pupil_period[i], pupil_gender[i] or "other")
        groups.setdefault(key, []).append(i)
    preferences: list[list[int]] = [[] for _ in range(n_pupils)]
    candidates: list[list[int]] = [[] for _ in range(n_pupils)]
    lock_chance = 0.02
    is_locker = [rng.random() < lock_chance for _ in range(n_pupils)]
    school_weights = pull
    current_school = -1
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2])):
        si, p, gender = key
        if si != current_school:
            d = _km(o_lat, o_lon, float(school_lat[si]), float(school_lon[si]))
            open_to_school = ~restricted | reserved_mask[si]
            school_weights = pull * (np.exp(-d / 5.0) + 0.03 * np.exp(-d / 20.0)) * open_to_school
            current_school = si
        weights = school_weights * affinity[gender] * open_in[:, p]
        cum = np.cumsum(weights)
        total = float(cum[-1]) if n_offers else 0.0
        members = groups[key]
        if total <= 0.0:
            continue
        draws_per = [3 * int(wish[i]) + 10 for i in members]
        u = np_rng.random(sum(draws_per)) * total
        picks = np.minimum(np.searchsorted(cum, u, side="right"), n_offers - 1).tolist()
        slack = (np_rng.random(sum(draws_per)) < 0.01).tolist()
        at = 0
        for i, m in zip(members, draws_per, strict=True):
            drawn = picks[at : at + m]
            keep_anyway = slack[at : at + m]
            at += m
            candidates[i] = drawn
            if not ranked[i]:
                continue
            want = int(wish[i])
            picked: list[int] = []
            seen: set[int] = set()
            age = pupil_age[i]
            attrs = pupil_attrs[i]
            for o, anyway in zip(drawn, keep_anyway, strict=True):
                if o in seen:
                    continue
                seen.add(o)
                minimum = offer_min_age[o]
                eligible = (minimum is None or age >= minimum) and offer_requires[o].issubset(attrs)
                if eligible or anyway:
                    picked.append(o)
                    if len(picked) == want:
                        break
            preferences[i] = picked

    # Self-arranged placements: about 2 % of pupils, at a workplace with a place left in their period.
    locks_used: dict[tuple[int, int], int] = {}
    locked: list[int | None] = [None] * n_pupils
    for i in range(n_pupils):
        if not is_locker[i]:
            continue
        p = pupil_period[i]
        for o in candidates[i]:
            if locks_used.get((o, p), 0) < offer_caps[o][p]:
                locks_used[(o, p)] = locks_used.get((o, p), 0) + 1
                locked[i] = o
                if rng.random() < 0.6:
                    preferences[i] = []
                break

    own_radius = [rng.choice((5, 8, 10, 15)) if rng.random() < 0.03 else None for _ in range(n_pupils)]
    pupil_ids = _ids("P", n_pupils, 6)
    student_docs: list[dict[str, Any]] = []
    for i in range(n_pupils):
        doc = {
            "id": pupil_ids[i],
            "school": school_ids[pupil_school[i]],
            "period": period_ids[pupil_period[i]],
            "gender": pupil_gender[i],
            "age": pupil_age[i],
            "preferences": [offer_ids[o] for o in preferences[i]],
            "attributes": pupil_attrs[i],
        }
        if own_radius[i] is not None:
            doc["max_distance_km"] = own_radius[i]
        lock = locked[i]
        doc["locked"] = None if lock is None else offer_ids[lock]
        student_docs.append(doc)

    name = (
        f"Göteborg region PRAO 2026/27, {students} pupils, seed {seed}"
        + (", scarce" if scarce else "")
        + ("" if variant == "default" else f", {variant}")
    )
    return {
        "format": FORMAT,
        "name": name,
        "periods": period_docs,
        "schools": schools,
        "offers": offer_docs,
        "students": student_docs,
        "policy": {
            "max_distance_km": 25,
            "assign_unranked": True,
            "fairness": {"school": 1.0, "gender": 1.0, "need": 1.0},
            "time_limit_s": TIME_LIMIT_S,
            "seed": 0,
        },
    }


def write(instance: dict[str, Any], path: str | Path) -> None:
    """Write ``instance`` as compact UTF-8 JSON."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(instance, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def summary(instance: dict[str, Any]) -> str:
    """One line describing the size of an instance."""
    places = sum(sum(o["capacity"].values()) for o in instance["offers"])
    pupils = len(instance["students"])
    ranked = [len(s["preferences"]) for s in instance["students"] if s["preferences"]]
    locked = sum(1 for s in instance["students"] if s["locked"])
    return (
        f"{pupils} pupils, {len(instance['schools'])} schools, {len(instance['offers'])} offers, "
        f"{places} places ({places / pupils:.2f} per pupil), "
        f"{sum(ranked) / max(1, len(ranked)):.1f} choices per ranking pupil, {locked} locked"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instances", description=__doc__.split("\n")[0])
    parser.add_argument("students", type=int, help="number of pupils")
    parser.add_argument("-o", "--output", help="JSON file to write (default: standard output)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--periods", type=int, default=4)
    parser.add_argument("--choices", type=float, default=8.0, help="mean number of ranked offers (max 10)")
    parser.add_argument("--scarce", action="store_true", help="about 0.95 places per pupil instead of 1.05-1.15")
    parser.add_argument(
        "--variant", choices=VARIANTS, default="default", help="periphery: high-need schools far from popular offers"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    instance = generate(
        args.students,
        seed=args.seed,
        periods=args.periods,
        choices=args.choices,
        scarce=args.scarce,
        variant=args.variant,
    )
    if args.output:
        write(instance, args.output)
        print(f"{args.output}: {summary(instance)} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    else:
        json.dump(instance, sys.stdout, ensure_ascii=False, separators=(",", ":"))
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

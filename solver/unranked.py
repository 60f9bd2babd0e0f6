"""The unranked part of the eligibility graph, aggregated so that it stays sparse.

Unranked options are dense: every student may use every eligible offer
within the radius.  They are represented exactly, with few arcs, in layers:

1. **Profiles.**  Students with the same school, period, age class, relevant
   attributes, radius and exclusions have identical unranked options.
   Arc student -> profile (capacity 1).
2. **Hubs.**  Offers fall into *types* by their eligibility rules
   (``min_age``, ``requires``, ``schools``).  A hub is (school, period,
   radius, type); a profile has an arc to the hub of every type its students
   are eligible for.  Profiles with ``excluded_offers`` get private hubs.
3. **Cells.**  The offers of one (period, type) are put on a grid (a quadtree
   with 5 levels; the largest cell is a quarter and the finest 1/64 of the policy radius).  A hub
   has one arc to each largest cell that lies *wholly* within its radius (the
   farthest corner, by spherical distance, is more than 1 % inside, which is
   more than the spherical-vs-geodesic error), and one arc per slot for the
   slots of cells that the circle crosses, decided one by one (geodesic near
   the boundary, see :mod:`solver.geo`).  A cell has one arc to each of its
   slots, shared by every hub.

Every path student -> profile -> hub -> (cell ->) slot therefore ends at an
offer the student is eligible for and that lies within the radius, and every
such offer is reachable: the aggregated network has the same maximum flow as
the dense one.  In the objective, the distance of an unranked placement is
measured to the offer for boundary slots and to the centre of its cell for
cells wholly inside the radius (cells are at most a quarter of the radius
wide and usually much smaller).

This module is a little over 500 lines because the aggregation and its exact
expansion back to pupils belong together: one cannot be checked without the other.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from solver.geo import (
    ABSOLUTE_MARGIN_KM,
    FINE_MAX_KM,
    FINE_MAX_LAT,
    MARGIN,
    Distances,
    haversine_km,
    local_ellipsoid_km,
)
from solver.model import Instance, School

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

LEVELS = 5
"""Quadtree levels; the largest cell is 1/4 and the finest 1/64 of the policy radius (see _Grid)."""
KM_PER_DEGREE_LAT = 111.2
KM_PER_DEGREE_LON_EQUATOR = 111.32

CELL_FINE_MARGIN = 0.001
"""Safety band for 'cell wholly inside' with local-ellipsoid corner distances (their error is < 0.006 %)."""
FAR_CACHE = 64
"""(school, offer group) entries of corner distances kept while building hubs."""
MIN_GRID_SLOTS = 32
"""Smaller groups of slots are tested one by one (cells would not save arcs)."""

TypeKey = tuple[int, tuple[str, ...], tuple[str, ...] | None]


@dataclass
class Profile:
    school: int
    period: str
    radius_km: float
    students: list[int] = field(default_factory=list)
    age: int = -1
    """The largest min_age threshold of any offer that the students reach (-1 for none)."""
    attributes: tuple[str, ...] = ()
    """The students' attributes that some offer requires, sorted."""
    excluded: tuple[str, ...] = ()


@dataclass
class UnrankedGraph:
    profiles: list[Profile]
    profile_of: I32
    """Per student: profile index, -1 without unranked options (or locked)."""
    hub_school: I32
    hub_period: I32
    hub_key: list[str]
    ph_profile: I32
    ph_hub: I32
    hc_hub: I32
    hc_cell: I32
    hc_km: F64
    hc_radius: F64
    hs_hub: I32
    hs_slot: I32
    hs_km: F64
    hs_radius: F64
    cell_key: list[str]
    cell_period: I32
    cs_cell: I32
    cs_slot: I32

    @property
    def n_hubs(self) -> int:
        return len(self.hub_key)

    @property
    def n_cells(self) -> int:
        return len(self.cell_key)


@dataclass
class _Group:
    """The slots of one (period, offer type) with free places, and their grid cells."""

    slots: I64
    offers: I64
    lat: F64
    lon: F64
    level_cells: list[I64] = field(default_factory=list)
    """Per level: cell index of each slot."""
    level_keys: list[I64] = field(default_factory=list)
    """Per level: (cx, cy) packed key of each cell."""
    level_order: list[I64] = field(default_factory=list)
    level_start: list[I64] = field(default_factory=list)
    """Per level: slots of cell c are level_order[level_start[c]:level_start[c + 1]]."""
    level_parent: list[I64] = field(default_factory=list)
    """Per level below the top: index of each cell's parent cell one level up."""
    level_node: list[I64] = field(default_factory=list)
    """Per level: flow-network cell node of each cell (-1 until used)."""
    level_x: list[I64] = field(default_factory=list)
    level_y: list[I64] = field(default_factory=list)
    """Per level: lattice coordinates of each cell's lower-left corner."""
    level_several: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    """Per level: the cell holds at least two slots (a cell of one slot saves no arc)."""


class _Grid:
    def __init__(self, instance: Instance) -> None:
        offers = instance.offers
        radius = instance.policy.max_distance_km
        self.enabled = radius > 0 and len(offers) > 0
        lats = np.array([o.lat for o in offers], dtype=np.float64)
        lons = np.array([o.lon for o in offers], dtype=np.float64)
        finest = radius / 2 ** (LEVELS + 1)  # top level: radius / 4
        self.lat0 = float(lats.min()) if len(lats) else 0.0
        self.lon0 = float(lons.min()) if len(lons) else 0.0
        mean_lat = float(lats.mean()) if len(lats) else 0.0
        self.dlat = max(finest / KM_PER_DEGREE_LAT, 1e-9)
        self.dlon = max(finest / (KM_PER_DEGREE_LON_EQUATOR * max(math.cos(math.radians(mean_lat)), 0.1)), 1e-9)
        self.radius = radius
        self._tables: dict[str, tuple[int, int, F64]] = {}
        # The local-ellipsoid distance is accurate enough for a much thinner
        # safety band when the radius is short and the region not polar.
        self.fine = radius <= FINE_MAX_KM and bool(len(lats)) and float(np.abs(lats).max()) <= FINE_MAX_LAT - 1
        self.margin = CELL_FINE_MARGIN if self.fine else MARGIN

    def fill(self, group: _Group) -> None:
        ix = np.floor((group.lon - self.lon0) / self.dlon).astype(np.int64)
        iy = np.floor((group.lat - self.lat0) / self.dlat).astype(np.int64)
        for level in range(LEVELS):
            key = ((ix >> level) << 32) + (iy >> level)
            unique, inverse = np.unique(key, return_inverse=True)
            cells = inverse.astype(np.int64).reshape(-1)
            group.level_keys.append(unique)
            group.level_cells.append(cells)
            group.level_order.append(np.argsort(cells, kind="stable"))
            group.level_start.append(np.searchsorted(cells[group.level_order[-1]], np.arange(len(unique) + 1)))
            group.level_node.append(np.full(len(unique), -1, dtype=np.int64))
            group.level_x.append((unique >> 32) << level)
            group.level_y.append((unique & 0xFFFFFFFF) << level)
            group.level_several.append(np.diff(group.level_start[-1]) >= 2)
        for level in range(LEVELS - 1):
            keys = group.level_keys[level]
            parent = ((keys >> 33) << 32) + ((keys & 0xFFFFFFFF) >> 1)
            group.level_parent.append(np.searchsorted(group.level_keys[level + 1], parent))

    def farthest_corner(self, school: School, group: _Group, level: int) -> F64:
        """Largest distance from the school to a corner of each cell of a level (inf when off the table).

        Cells are sorted by column, so only the columns of the school's table are looked at.
        """
        ix0, iy0, table = self._lattice(school)
        size = 1 << level
        rows, cols = table.shape
        keys = group.level_keys[level]
        first = int(np.searchsorted(keys, (-(-ix0 // size)) << 32)) if ix0 > 0 else 0
        last = int(np.searchsorted(keys, ((ix0 + cols - 1 - size) // size + 1) << 32))
        out = np.full(len(keys), np.inf, dtype=np.float64)
        x = group.level_x[level][first:last] - ix0
        y = group.level_y[level][first:last] - iy0
        ok = (x >= 0) & (y >= 0) & (x + size < cols) & (y + size < rows)
        xs, ys = x[ok], y[ok]
        inner = np.maximum(np.maximum(table[ys, xs], table[ys, xs + size]), table[ys + size, xs])
        out[first:last][ok] = np.maximum(inner, table[ys + size, xs + size])
        return out

    def _lattice(self, school: School) -> tuple[int, int, F64]:
        """Distances from a school to the grid's lattice points around it (cached per school)."""
        cached = self._tables.get(school.id)
        if cached is None:
            reach = self.radius * 1.05 + 1.0
            ky = int(reach / (self.dlat * KM_PER_DEGREE_LAT)) + (1 << LEVELS) + 2
            cos_lat = max(math.cos(math.radians(school.lat)), 0.05)
            kx = int(reach / (self.dlon * KM_PER_DEGREE_LON_EQUATOR * cos_lat)) + (1 << LEVELS) + 2
            kx = min(kx, 1 << 12)
            ix = math.floor((school.lon - self.lon0) / self.dlon) - kx
            iy = math.floor((school.lat - self.lat0) / self.dlat) - ky
            lats = self.lat0 + (iy + np.arange(2 * ky + 1, dtype=np.float64)) * self.dlat
            lons = self.lon0 + (ix + np.arange(2 * kx + 1, dtype=np.float64)) * self.dlon
            grid_lat, grid_lon = np.meshgrid(lats, lons, indexing="ij")
            flat_lat, flat_lon = grid_lat.ravel(), grid_lon.ravel()
            if self.fine:
                km = local_ellipsoid_km(school.lat, school.lon, flat_lat, flat_lon)
            else:
                km = haversine_km(school.lat, school.lon, flat_lat, flat_lon)
            table = km.reshape(grid_lat.shape)
            cached = (ix, iy, table)
            self._tables[school.id] = cached
        return cached

    def corners(self, level: int, keys: I64) -> tuple[F64, F64, F64, F64]:
        size = 1 << level
        cx = (keys >> 32).astype(np.float64) * size
        cy = (keys & 0xFFFFFFFF).astype(np.float64) * size
        lat_lo = self.lat0 + cy * self.dlat
        lon_lo = self.lon0 + cx * self.dlon
        return lat_lo, lat_lo + size * self.dlat, lon_lo, lon_lo + size * self.dlon


def _compatible_rule(key: TypeKey, age: int, attributes: tuple[str, ...]) -> bool:
    min_age, requires, _ = key
    return age >= min_age and set(requires).issubset(attributes)


def _type_key(min_age: int | None, requires: frozenset[str], schools: frozenset[str] | None) -> TypeKey:
    return (
        -1 if min_age is None else min_age,
        tuple(sorted(requires)),
        None if schools is None else tuple(sorted(schools)),
    )


def build_unranked(
    instance: Instance,
    *,
    distances: Distances,
    slot_index: dict[str, dict[str, int]],
    slot_offer: I32,
    remaining: I64,
    school_of: I32,
) -> UnrankedGraph:
    builder = _Builder(
        instance,
        distances=distances,
        slot_index=slot_index,
        slot_offer=slot_offer,
        remaining=remaining,
        school_of=school_of,
    )
    if instance.policy.assign_unranked:
        builder.run()
    return builder.graph()


class _Builder:
    def __init__(
        self,
        instance: Instance,
        *,
        distances: Distances,
        slot_index: dict[str, dict[str, int]],
        slot_offer: I32,
        remaining: I64,
        school_of: I32,
    ) -> None:
        self.instance = instance
        self.distances = distances
        self.slot_index = slot_index
        self.slot_offer = slot_offer
        self.remaining = remaining
        self.school_of = school_of
        self.grid = _Grid(instance)
        self.profiles: list[Profile] = []
        self.profile_of = np.full(len(instance.students), -1, dtype=np.int32)
        self.hub_school: list[int] = []
        self.hub_period: list[int] = []
        self.cell_period: list[int] = []
        self.period_index = {p.id: k for k, p in enumerate(instance.periods)}
        self.hub_key: list[str] = []
        self.hub_index: dict[tuple[object, ...], int | None] = {}
        self.ph: tuple[list[int], list[int]] = ([], [])
        self.hc: tuple[list[I64], list[I64], list[F64], list[F64]] = ([], [], [], [])
        self.hs: tuple[list[I64], list[I64], list[F64], list[F64]] = ([], [], [], [])
        self.cell_key: list[str] = []
        self.cs: tuple[list[I64], list[I64]] = ([], [])
        self.groups: dict[tuple[str, TypeKey], _Group] = {}
        self._far_cache: OrderedDict[tuple[int, tuple[str, TypeKey]], list[F64]] = OrderedDict()
        self.open_types: dict[str, list[TypeKey]] = {}
        self.school_types: dict[str, dict[str, list[TypeKey]]] = {}

    def run(self) -> None:
        self._make_groups()
        self._make_profiles()
        kept: list[Profile] = []
        for profile in self.profiles:
            hubs = [h for h in self._hubs_of(profile) if h is not None]
            if not hubs:
                continue
            index = len(kept)
            kept.append(profile)
            self.profile_of[profile.students] = index
            for hub in hubs:
                self.ph[0].append(index)
                self.ph[1].append(hub)
        self.profiles = kept

    def _make_groups(self) -> None:
        """Sort the free slots of each period by offer type (the offer's eligibility rules)."""
        offers = self.instance.offers
        for period, by_offer in self.slot_index.items():
            members: dict[TypeKey, list[int]] = {}
            for slot in sorted(by_offer.values()):
                if self.remaining[slot] <= 0:
                    continue
                offer = offers[int(self.slot_offer[slot])]
                members.setdefault(_type_key(offer.min_age, offer.requires, offer.schools), []).append(slot)
            ordered = sorted(members, key=repr)
            self.open_types[period] = [k for k in ordered if k[2] is None]
            by_school: dict[str, list[TypeKey]] = {}
            for key in ordered:
                for school_id in key[2] or ():
                    by_school.setdefault(school_id, []).append(key)
                slots = np.array(members[key], dtype=np.int64)
                offer_array = self.slot_offer[slots].astype(np.int64)
                group = _Group(
                    slots,
                    offer_array,
                    np.array([offers[int(o)].lat for o in offer_array], dtype=np.float64),
                    np.array([offers[int(o)].lon for o in offer_array], dtype=np.float64),
                )
                if self.grid.enabled and len(slots) >= MIN_GRID_SLOTS:
                    self.grid.fill(group)
                self.groups[(period, key)] = group
            self.school_types[period] = by_school

    def _make_profiles(self) -> None:
        instance = self.instance
        offers = instance.offers
        ages = sorted({o.min_age for o in offers if o.min_age is not None})
        tags = frozenset().union(*(o.requires for o in offers))
        keyed: dict[tuple[object, ...], int] = {}
        for i, student in enumerate(instance.students):
            if student.locked is not None:
                continue
            radius = instance.radius_km(student)
            age_class = bisect.bisect_right(ages, student.age)
            attributes = tuple(sorted(student.attributes & tags))
            key = (
                int(self.school_of[i]),
                student.period,
                age_class,
                attributes,
                radius,
                tuple(sorted(student.excluded_offers)),
            )
            index = keyed.get(key)
            if index is None:
                index = len(self.profiles)
                keyed[key] = index
                self.profiles.append(
                    Profile(
                        int(self.school_of[i]),
                        student.period,
                        radius,
                        age=ages[age_class - 1] if age_class else -1,
                        attributes=attributes,
                        excluded=tuple(sorted(student.excluded_offers)),
                    )
                )
            self.profiles[index].students.append(i)

    def _hubs_of(self, profile: Profile) -> list[int | None]:
        """The hubs of every offer type the profile's students are eligible for."""
        school_id = self.instance.schools[profile.school].id
        period = profile.period
        out: list[int | None] = []
        for key in self.open_types[period] + self.school_types[period].get(school_id, []):
            if not _compatible_rule(key, profile.age, profile.attributes):
                continue
            if profile.excluded:
                out.append(self._make_hub(profile, key))
            else:
                hub_id = (profile.school, profile.period, profile.radius_km, key)
                if hub_id not in self.hub_index:
                    self.hub_index[hub_id] = self._make_hub(profile, key)
                out.append(self.hub_index[hub_id])
        return out

    def _make_hub(self, profile: Profile, key: TypeKey) -> int | None:
        """Create the arcs of a hub; None when it reaches no slot.

        A profile with exclusions gets a private hub without cells, so that the
        excluded offers can be left out one by one.
        """
        group = self.groups[(profile.period, key)]
        school = profile.school
        radius = profile.radius_km
        use_cells = self.grid.enabled and not profile.excluded and len(group.slots) >= MIN_GRID_SLOTS
        chosen: list[tuple[int, I64]] = []  # (level, cells used)
        covered_slots = np.zeros(len(group.slots), dtype=np.bool_)
        if use_cells:
            limit = radius * (1 - self.grid.margin) - ABSOLUTE_MARGIN_KM
            far_by_level = self._far(school, (profile.period, key), group)
            covered: npt.NDArray[np.bool_] | None = None
            for level in reversed(range(LEVELS)):
                inside = far_by_level[level] <= limit
                inside &= group.level_several[level]
                if covered is None:
                    used = inside
                    covered = used
                else:
                    above = covered[group.level_parent[level]]
                    used = inside & ~above
                    covered = used | above
                if used.any():
                    chosen.append((level, np.flatnonzero(used)))
            assert covered is not None
            covered_slots = covered[group.level_cells[0]]
        rest = np.flatnonzero(~covered_slots)
        if profile.excluded:
            excluded = set(profile.excluded)
            offers = self.instance.offers
            rest = np.array([k for k in rest.tolist() if offers[int(group.offers[k])].id not in excluded], np.int64)
        if len(rest):
            rest = rest[self.distances.within(school, group.offers[rest], radius)]
        if not chosen and not len(rest):
            return None
        hub = len(self.hub_key)
        self.hub_school.append(school)
        self.hub_period.append(self.period_index[profile.period])
        self.hub_key.append("\x1f".join(map(str, (school, profile.period, radius, key, profile.excluded))))
        if len(rest):
            self.hs[0].append(np.full(len(rest), hub, dtype=np.int64))
            self.hs[1].append(group.slots[rest])
            self.hs[2].append(self.distances.spherical(school)[group.offers[rest]])
            self.hs[3].append(np.full(len(rest), radius, dtype=np.float64))
        if chosen:
            s = self.instance.schools[school]
            for level, cells in chosen:
                lat_lo, lat_hi, lon_lo, lon_hi = self.grid.corners(level, group.level_keys[level][cells])
                self.hc[0].append(np.full(len(cells), hub, dtype=np.int64))
                self.hc[1].append(self._cells(profile.period, key, group, level, cells))
                self.hc[2].append(haversine_km(s.lat, s.lon, (lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2))
                self.hc[3].append(np.full(len(cells), radius, dtype=np.float64))
        return hub

    def _far(self, school: int, group_id: tuple[str, TypeKey], group: _Group) -> list[F64]:
        """Farthest-corner distances of every cell of every level (cached: hubs of a school share them)."""
        cache_key = (school, group_id)
        far = self._far_cache.get(cache_key)
        if far is None:
            s = self.instance.schools[school]
            far = [self.grid.farthest_corner(s, group, level) for level in range(LEVELS)]
            self._far_cache[cache_key] = far
            if len(self._far_cache) > FAR_CACHE:
                self._far_cache.popitem(last=False)
        else:
            self._far_cache.move_to_end(cache_key)
        return far

    def _cells(self, period: str, key: TypeKey, group: _Group, level: int, cells: I64) -> I64:
        """Flow-network nodes of these cells, creating nodes (and cell -> slot arcs) for new ones."""
        nodes = group.level_node[level]
        new = cells[nodes[cells] < 0]
        if len(new):
            first = len(self.cell_key)
            nodes[new] = first + np.arange(len(new))
            for cell in new.tolist():
                packed = int(group.level_keys[level][cell])
                self.cell_key.append(f"{period}\x1f{key}\x1f{level}\x1f{packed >> 32}\x1f{packed & 0xFFFFFFFF}")
            self.cell_period.extend([self.period_index[period]] * len(new))
            start = group.level_start[level]
            counts = start[new + 1] - start[new]
            offsets = np.repeat(start[new] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
            self.cs[0].append(np.repeat(nodes[new], counts))
            self.cs[1].append(group.slots[group.level_order[level][offsets]])
        return nodes[cells]

    def graph(self) -> UnrankedGraph:
        def i32(values: list[int]) -> I32:
            return np.array(values, dtype=np.int32)

        def cat(parts: list[I64] | list[F64], dtype: type) -> npt.NDArray[np.generic]:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        return UnrankedGraph(
            profiles=self.profiles,
            profile_of=self.profile_of,
            hub_school=i32(self.hub_school),
            hub_period=i32(self.hub_period),
            hub_key=self.hub_key,
            ph_profile=i32(self.ph[0]),
            ph_hub=i32(self.ph[1]),
            hc_hub=cat(self.hc[0], np.int32),  # type: ignore[arg-type]
            hc_cell=cat(self.hc[1], np.int32),  # type: ignore[arg-type]
            hc_km=cat(self.hc[2], np.float64),  # type: ignore[arg-type]
            hc_radius=cat(self.hc[3], np.float64),  # type: ignore[arg-type]
            hs_hub=cat(self.hs[0], np.int32),  # type: ignore[arg-type]
            hs_slot=cat(self.hs[1], np.int32),  # type: ignore[arg-type]
            hs_km=cat(self.hs[2], np.float64),  # type: ignore[arg-type]
            hs_radius=cat(self.hs[3], np.float64),  # type: ignore[arg-type]
            cell_key=self.cell_key,
            cell_period=i32(self.cell_period),
            cs_cell=cat(self.cs[0], np.int32),  # type: ignore[arg-type]
            cs_slot=cat(self.cs[1], np.int32),  # type: ignore[arg-type]
        )

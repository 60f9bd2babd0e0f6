"""Distances between schools and offers.

The radius rule of the format is decided by the WGS-84 geodesic distance as
``geopy.distance.geodesic`` computes it.  That call costs about 0.1 ms, and a
large round has hundreds of thousands of (school, offer) pairs, so
:class:`Distances` first computes the spherical (haversine) distance of every
needed pair with numpy.  On the WGS-84 ellipsoid the spherical distance with
the mean radius is within 0.6 % of the geodesic one, so a pair whose
spherical distance is more than :data:`MARGIN` (1 %) inside or outside the
radius is decided without the geodesic call; every pair in the band in
between is decided by geodesic, computed once per pair and cached for the
whole solve.  The distance term of the objective (which only orders unranked
placements, rounded to 1/100 of the radius) uses the spherical value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from geopy.distance import geodesic

from solver.model import Offer, School

EARTH_RADIUS_KM = 6371.0088
MARGIN = 0.01
"""Relative band around the radius where the spherical distance cannot decide (its error is < 0.6 %)."""
FINE_MARGIN = 1e-5
FINE_MARGIN_PER_KM2 = 6e-8
"""Relative band for the local-ellipsoid distance at radius r: 1e-5 + 6e-8 r^2, four times its
largest error measured against geodesic up to 60 km and 75 degrees (about 1.5e-8 d^2)."""
FINE_MAX_KM = 60.0
FINE_MAX_LAT = 75.0
ABSOLUTE_MARGIN_KM = 0.001
WGS84_A = 6378.137
WGS84_F = 1 / 298.257223563
_E2 = WGS84_F * (2 - WGS84_F)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def haversine_km(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Spherical distance from one point to many, in km."""
    phi1 = np.radians(lat)
    phi2 = np.radians(lats)
    dphi = phi2 - phi1
    dlam = np.radians(lons - lon)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlam / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


def local_ellipsoid_km(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Distance on the WGS-84 ellipsoid's local tangent at the mid-latitude (short distances only)."""
    phi1 = np.radians(lat)
    phi2 = np.radians(lats)
    mid = (phi1 + phi2) / 2
    sin2 = np.sin(mid) ** 2
    meridional = WGS84_A * (1 - _E2) / (1 - _E2 * sin2) ** 1.5
    normal = WGS84_A / np.sqrt(1 - _E2 * sin2)
    dlam = np.radians((lons - lon + 180.0) % 360.0 - 180.0)
    return np.asarray(np.hypot(meridional * (phi2 - phi1), normal * np.cos(mid) * dlam), dtype=np.float64)


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return float(geodesic((lat1, lon1), (lat2, lon2)).km)


class Distances:
    """School-to-offer distances for one solve, each geodesic computed at most once."""

    def __init__(self, schools: Sequence[School], offers: Sequence[Offer]) -> None:
        self._schools = schools
        self._offer_lat = np.array([o.lat for o in offers], dtype=np.float64)
        self._offer_lon = np.array([o.lon for o in offers], dtype=np.float64)
        self._offers = offers
        self._spherical: dict[int, FloatArray] = {}
        self._geodesic: dict[tuple[int, int], float] = {}

    @property
    def geodesic_calls(self) -> int:
        return len(self._geodesic)

    def spherical(self, school: int) -> FloatArray:
        """Spherical distance from ``school`` to every offer (vectorised, cached per school)."""
        cached = self._spherical.get(school)
        if cached is None:
            s = self._schools[school]
            cached = haversine_km(s.lat, s.lon, self._offer_lat, self._offer_lon)
            self._spherical[school] = cached
        return cached

    def geodesic(self, school: int, offer: int) -> float:
        key = (school, offer)
        value = self._geodesic.get(key)
        if value is None:
            s = self._schools[school]
            o = self._offers[offer]
            value = geodesic_km(s.lat, s.lon, o.lat, o.lon)
            self._geodesic[key] = value
        return value

    def within(self, school: int, offers: IntArray, radius_km: float) -> BoolArray:
        """Whether each offer lies within ``radius_km`` (geodesic, inclusive) of the school.

        Decided by the spherical distance outside a 1 % band around the
        radius; inside the band by the local-ellipsoid distance outside a
        thin band (radius up to 60 km, latitudes up to 75 degrees); and by the
        geodesic in what remains.
        """
        approx = self.spherical(school)[offers]
        inside = approx <= radius_km * (1 - MARGIN) - ABSOLUTE_MARGIN_KM
        band = np.flatnonzero(~inside & (approx <= radius_km * (1 + MARGIN) + ABSOLUTE_MARGIN_KM))
        if not len(band):
            return inside
        s = self._schools[school]
        near = offers[band]
        lat = self._offer_lat[near]
        fine = local_ellipsoid_km(s.lat, s.lon, lat, self._offer_lon[near])
        usable = (radius_km <= FINE_MAX_KM) & (abs(s.lat) <= FINE_MAX_LAT) & (np.abs(lat) <= FINE_MAX_LAT)
        band_width = FINE_MARGIN + FINE_MARGIN_PER_KM2 * radius_km**2
        sure_in = usable & (fine <= radius_km * (1 - band_width) - ABSOLUTE_MARGIN_KM)
        sure_out = usable & (fine > radius_km * (1 + band_width) + ABSOLUTE_MARGIN_KM)
        inside[band[sure_in]] = True
        for position in band[~sure_in & ~sure_out].tolist():
            inside[position] = self.geodesic(school, int(offers[position])) <= radius_km
        return inside

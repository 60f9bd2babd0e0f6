"""Geocoding addresses with Nominatim, and distances between points.

Only the addresses of schools and workplaces are ever geocoded; pupils' home
addresses are not stored and never sent anywhere.  The Nominatim server is
configurable (a municipality may run its own instance); requests carry an
identifying User-Agent and are spaced at least ``min_delay_seconds`` apart by
geopy's :class:`~geopy.extra.rate_limiter.RateLimiter`, shared by every
:class:`Geocoder` of the process that talks to the same server.  The
limiter is per process: geocode in one process (the scheduler), not in every
web worker.

:meth:`Geocoder.lookup` never raises for a geocoder failure.  No match, an
implausible match (outside the configured countries or bounding box) and an
error (timeout, HTTP 403/429/5xx, connection refused) each come back as a
:class:`GeoAnswer` whose status says what happened, so that the coordinator
can fix the address later.

This module knows nothing of the database or of Flask; caching answers lives
in :mod:`placement.organisation.locations`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from geopy.distance import geodesic
from geopy.exc import (
    GeocoderInsufficientPrivileges,
    GeocoderRateLimited,
    GeocoderServiceError,
    GeocoderTimedOut,
    GeocoderUnavailable,
    GeopyError,
)
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim

from placement.enums import GeoStatus

logger = logging.getLogger(__name__)

PUBLIC_NOMINATIM_URL = "https://nominatim.openstreetmap.org"

#: Longest detail or display name kept (the width of the cache's columns).
MAX_TEXT = 500

#: The samples from geopy's documentation.  They, and geopy's own "geopy/x.y",
#: get 403 from the public Nominatim, and geopy refuses them for that server.
SAMPLE_USER_AGENTS = frozenset(
    {
        "my-application",
        "my_app/1",
        "my_user_agent/1.0",
        "specify_your_app_name_here",
    }
)

Point = tuple[float, float]


@dataclasses.dataclass(frozen=True)
class BoundingBox:
    """The area a plausible answer lies in (degrees, bounds included)."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def __post_init__(self) -> None:
        if not -90 <= self.min_lat < self.max_lat <= 90:
            raise ValueError(f"bounding box: latitudes {self.min_lat}..{self.max_lat} are not within -90..90 in order")
        if not -180 <= self.min_lon < self.max_lon <= 180:
            raise ValueError(
                f"bounding box: longitudes {self.min_lon}..{self.max_lon} are not within -180..180 in order"
            )

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


#: Sweden with a small margin.
SWEDEN = BoundingBox(min_lat=55.0, max_lat=69.1, min_lon=10.9, max_lon=24.2)


@dataclasses.dataclass(frozen=True)
class GeocoderSettings:
    """How to reach Nominatim and what counts as a plausible answer.

    ``base_url`` may carry a path (``https://maps.example.se/nominatim``).
    ``user_agent`` must identify this installation (e.g. ``"praktik-goteborg
    (prao@goteborg.se)"``); geopy's default and sample agents are refused.
    The public server allows at most one request per second, so a smaller
    ``min_delay_seconds`` is accepted only for another server.  Errors are not
    retried at once: the failure is stored and retried later.
    """

    user_agent: str
    base_url: str = PUBLIC_NOMINATIM_URL
    country_codes: tuple[str, ...] = ("se",)
    bounds: BoundingBox = SWEDEN
    timeout: float = 10.0
    min_delay_seconds: float = 1.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GeocoderSettings:
        """The settings of an app configuration (GEOCODER_USER_AGENT, GEOCODER_URL); ValueError if unusable."""
        return cls(
            user_agent=str(config.get("GEOCODER_USER_AGENT") or ""),
            base_url=str(config.get("GEOCODER_URL") or PUBLIC_NOMINATIM_URL),
        )

    def __post_init__(self) -> None:
        agent = self.user_agent.strip()
        if not agent:
            raise ValueError("geocoder: a user agent identifying this installation is required")
        if agent.casefold() in SAMPLE_USER_AGENTS or agent.casefold().startswith("geopy/"):
            raise ValueError(
                f'geocoder: user agent "{agent}" is geopy\'s default or sample agent; '
                "give one that identifies this installation"
            )
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            raise ValueError(f'geocoder: base URL "{self.base_url}" is not an http(s) URL of a Nominatim server')
        codes = tuple(code.strip().lower() for code in self.country_codes)
        if any(not re.fullmatch(r"[a-z]{2}", code) for code in codes):
            raise ValueError(f"geocoder: country codes {self.country_codes!r} are not ISO 3166-1 alpha-2 codes")
        object.__setattr__(self, "country_codes", codes)
        object.__setattr__(self, "user_agent", agent)
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"geocoder: timeout {self.timeout} must be a positive number of seconds")
        if not (math.isfinite(self.min_delay_seconds) and self.min_delay_seconds >= 0):
            raise ValueError(f"geocoder: min_delay_seconds {self.min_delay_seconds} must not be negative")
        if self.is_public_server and self.min_delay_seconds < 1.0:
            raise ValueError("geocoder: the public Nominatim server allows at most one request per second")

    @property
    def domain(self) -> str:
        """Host, port and path, as geopy's ``Nominatim(domain=...)`` takes them."""
        url = urlsplit(self.base_url)
        return f"{url.netloc}{url.path}".rstrip("/")

    @property
    def scheme(self) -> str:
        return urlsplit(self.base_url).scheme

    @property
    def is_public_server(self) -> bool:
        return (urlsplit(self.base_url).hostname or "").lower() == "nominatim.openstreetmap.org"


@dataclasses.dataclass(frozen=True)
class GeoAnswer:
    """What geocoding an address gave.

    ``lat``/``lon`` are set only when ``status`` is OK; an implausible point is
    kept in ``detail`` for the coordinator, never as the location.
    """

    status: GeoStatus
    lat: float | None = None
    lon: float | None = None
    display_name: str | None = None
    detail: str | None = None

    @property
    def point(self) -> Point | None:
        if self.lat is None or self.lon is None:
            return None
        return (self.lat, self.lon)


_SPACE_BEFORE_COMMA = re.compile(r"\s*,\s*")
_REPEATED_COMMAS = re.compile(r",(\s*,)+")
_WHITESPACE = re.compile(r"\s+")


def normalise_address(text: str) -> str:
    """The cache key of an address: one case, single spaces, ", " between parts.

    ``"  Storgatan 1 ,411 38  GÖTEBORG,, "`` becomes ``"storgatan 1, 411 38 göteborg"``.
    """
    text = unicodedata.normalize("NFC", text).lower()
    text = _WHITESPACE.sub(" ", text)
    text = _SPACE_BEFORE_COMMA.sub(", ", text)
    text = _REPEATED_COMMAS.sub(",", text)
    return text.strip(" ,")


def distance_km(a: Point, b: Point) -> float:
    """Geodesic (WGS-84) distance between two (lat, lon) points, in kilometres."""
    return float(geodesic(a, b).kilometers)


# One rate limiter per server and process, shared by every Geocoder talking
# to that server.  Its delay is the longest any of them asked for.
_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def _call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _limiter_for(settings: GeocoderSettings) -> RateLimiter:
    server = f"{settings.scheme}://{settings.domain}"
    with _limiters_lock:
        limiter = _limiters.get(server)
        if limiter is None:
            limiter = RateLimiter(
                _call,
                min_delay_seconds=settings.min_delay_seconds,
                max_retries=0,
                error_wait_seconds=settings.min_delay_seconds,
                swallow_exceptions=False,  # a failure must be seen and stored, not turned into "no match"
            )
            _limiters[server] = limiter
        else:
            limiter.min_delay_seconds = max(limiter.min_delay_seconds, settings.min_delay_seconds)
        return limiter


class Geocoder:
    """Nominatim behind a rate limiter, answering :class:`GeoAnswer` for an address."""

    def __init__(
        self,
        settings: GeocoderSettings,
        *,
        proxies: Mapping[str, str] | None = None,
        adapter_factory: Callable[..., Any] | None = None,
    ) -> None:
        """``proxies`` None uses the system's proxy settings; ``{}`` connects directly."""
        self.settings = settings
        self._nominatim = Nominatim(
            domain=settings.domain,
            scheme=settings.scheme,
            user_agent=settings.user_agent,
            timeout=settings.timeout,
            proxies=None if proxies is None else dict(proxies),
            adapter_factory=adapter_factory,
        )
        self._limiter = _limiter_for(settings)

    def lookup(self, address: str) -> GeoAnswer:
        """Geocode ``address`` (normalised first); failures come back as answers, never raised."""
        query = normalise_address(address)
        if not query:
            return GeoAnswer(GeoStatus.NOT_FOUND, detail="the address is empty")
        try:
            location = self._limiter(
                self._nominatim.geocode,
                query,
                exactly_one=True,
                country_codes=list(self.settings.country_codes),
                addressdetails=True,
            )
        except GeopyError as exc:
            detail = _failure_reason(exc, self.settings)
            logger.warning("Geocoding %r failed: %s", query, detail)
            return GeoAnswer(GeoStatus.FAILED, detail=_clip(detail))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # Whatever else an odd server or connection makes geopy raise.
            logger.warning("Geocoding %r failed", query, exc_info=True)
            return GeoAnswer(GeoStatus.FAILED, detail=_clip(f"unexpected answer or error: {exc!r}"))
        if location is None:
            return GeoAnswer(GeoStatus.NOT_FOUND, detail="no match")
        return self._judge(location.latitude, location.longitude, location.address, location.raw)

    def close(self) -> None:
        """Release the HTTP adapter's connections (a no-op for urllib)."""
        self._nominatim.adapter.__exit__(None, None, None)

    def __enter__(self) -> Geocoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _judge(self, lat: Any, lon: Any, display_name: str | None, raw: Any) -> GeoAnswer:
        name = _clip(display_name) if display_name else None
        if not all(isinstance(v, float) and math.isfinite(v) for v in (lat, lon)):
            return GeoAnswer(GeoStatus.FAILED, display_name=name, detail="the answer has no usable coordinates")
        where = f"{lat:.6f}, {lon:.6f}" + (f" ({display_name})" if display_name else "")
        country = _country_code(raw)
        if country is not None and country not in self.settings.country_codes:
            allowed = ", ".join(self.settings.country_codes)
            return GeoAnswer(
                GeoStatus.IMPLAUSIBLE,
                display_name=name,
                detail=_clip(f"answer in country {country!r}, not {allowed}: {where}"),
            )
        if not self.settings.bounds.contains(lat, lon):
            return GeoAnswer(
                GeoStatus.IMPLAUSIBLE,
                display_name=name,
                detail=_clip(f"answer outside the expected area: {where}"),
            )
        return GeoAnswer(GeoStatus.OK, lat=lat, lon=lon, display_name=name)


def _country_code(raw: Any) -> str | None:
    address = raw.get("address") if isinstance(raw, Mapping) else None
    code = address.get("country_code") if isinstance(address, Mapping) else None
    return code.lower() if isinstance(code, str) and code else None


def _failure_reason(exc: GeopyError, settings: GeocoderSettings) -> str:
    message = str(exc).strip()
    if isinstance(exc, GeocoderRateLimited):
        after = f", retry after {exc.retry_after} s" if exc.retry_after else ""
        return f"rate limited by the geocoder (HTTP 429){after}: {message}"
    if isinstance(exc, GeocoderInsufficientPrivileges):
        return f"refused by the geocoder (HTTP 403; check the user agent): {message}"
    if isinstance(exc, GeocoderTimedOut):
        return f"timed out after {settings.timeout:g} s: {message}"
    if isinstance(exc, GeocoderUnavailable):
        return f"geocoder unavailable: {message}"
    if isinstance(exc, GeocoderServiceError):
        return f"geocoder error ({type(exc).__name__}): {message}"
    return f"{type(exc).__name__}: {message}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

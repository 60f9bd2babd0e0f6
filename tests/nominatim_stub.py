"""A small local stand-in for a Nominatim server, for tests and the demo.

It listens on 127.0.0.1 on a free port and answers ``/search?q=...&format=json``
in Nominatim's JSON format from canned answers keyed by the (lower-case)
query; an unknown query gets ``[]``, as from the real server.  Some canned
addresses answer an HTTP error or take longer than a client's timeout.
Every request is recorded (path, parameters, User-Agent, arrival time) so
that tests can assert exactly what left the box.

    with NominatimStub() as stub:
        settings = GeocoderSettings(user_agent="praktik-test", base_url=stub.url)
        ...
        assert stub.queries == ["drottningtorget 5, 411 03 göteborg"]
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import zlib
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"


@dataclasses.dataclass(frozen=True)
class Reply:
    """One canned answer: an HTTP status, a JSON body (or raw text), and a delay."""

    status: int = 200
    body: Any = dataclasses.field(default_factory=list)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    delay_seconds: float = 0.0
    raw: str | None = None


@dataclasses.dataclass(frozen=True)
class Recorded:
    path: str
    params: dict[str, str]
    user_agent: str | None
    at: float  # time.monotonic() on arrival

    @property
    def q(self) -> str | None:
        return self.params.get("q")


def place(
    lat: float, lon: float, display_name: str, *, country_code: str | None, country: str = "", city: str = ""
) -> dict[str, Any]:
    """One search result as Nominatim returns it (coordinates are strings)."""
    result: dict[str, Any] = {
        "place_id": zlib.crc32(display_name.encode()) % 10_000_000,
        "licence": LICENCE,
        "osm_type": "node",
        "osm_id": zlib.crc32(display_name.encode()) % 1_000_000,
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "class": "place",
        "type": "house",
        "place_rank": 30,
        "importance": 0.2,
        "addresstype": "place",
        "name": "",
        "display_name": display_name,
        "boundingbox": [f"{lat - 0.0005:.7f}", f"{lat + 0.0005:.7f}", f"{lon - 0.0005:.7f}", f"{lon + 0.0005:.7f}"],
    }
    if country_code is not None:
        result["address"] = {"city": city, "country": country, "country_code": country_code}
    return result


# Canned addresses, as the geocoder sends them (normalised, lower case).
GOTEBORG = "drottningtorget 5, 411 03 göteborg"  # Göteborg Central Station
GOTEBORG_POINT = (57.7089, 11.9734)
MOLNDAL = "göteborgsvägen 11, 431 82 mölndal"  # Mölndal town hall, by Mölndals bro
MOLNDAL_POINT = (57.6557, 12.0136)
STOCKHOLM = "drottninggatan 1, 111 51 stockholm"
STOCKHOLM_POINT = (59.3294, 18.0686)
OSLO = "karl johans gate 1, 0154 oslo"  # a Norwegian answer, country code "no"
OSLO_POINT = (59.9111, 10.7503)
OUTSIDE_BOX = "storgatan 1, ingenstans"  # a match without country code, outside Sweden
RATE_LIMITED = "kvotgatan 429, göteborg"
FORBIDDEN = "spärrgatan 403, göteborg"
SERVER_ERROR = "felgatan 500, göteborg"
NOT_JSON = "trasiga gatan 1, göteborg"
SLOW = "långsamma gatan 1, göteborg"


def default_answers(slow_seconds: float = 2.0) -> dict[str, Reply]:
    return {
        GOTEBORG: Reply(
            body=[
                place(
                    *GOTEBORG_POINT,
                    "Göteborg Centralstation, Drottningtorget 5, Nordstaden, Göteborg, 411 03, Sverige",
                    country_code="se",
                    country="Sverige",
                    city="Göteborg",
                )
            ]
        ),
        MOLNDAL: Reply(
            body=[
                place(
                    *MOLNDAL_POINT,
                    "Mölndals stadshus, Göteborgsvägen 11, Mölndal, 431 82, Sverige",
                    country_code="se",
                    country="Sverige",
                    city="Mölndal",
                )
            ]
        ),
        STOCKHOLM: Reply(
            body=[
                place(
                    *STOCKHOLM_POINT,
                    "Drottninggatan 1, Norrmalm, Stockholm, 111 51, Sverige",
                    country_code="se",
                    country="Sverige",
                    city="Stockholm",
                )
            ]
        ),
        OSLO: Reply(
            body=[
                place(*OSLO_POINT, "Karl Johans gate 1, Sentrum, Oslo, 0154, Norge", country_code="no", country="Norge")
            ]
        ),
        OUTSIDE_BOX: Reply(body=[place(*OSLO_POINT, "Storgata 1, Oslo", country_code=None)]),
        RATE_LIMITED: Reply(status=429, body={"error": "Too many requests"}, headers={"Retry-After": "30"}),
        FORBIDDEN: Reply(status=403, raw="<html><body>Access blocked</body></html>"),
        SERVER_ERROR: Reply(status=500, raw="Internal Server Error"),
        NOT_JSON: Reply(raw="<html>this is not JSON</html>"),
        SLOW: Reply(body=[], delay_seconds=slow_seconds),
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads: nothing left running
    stub: NominatimStub


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        stub = self.server.stub
        url = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        stub._record(Recorded(url.path, params, self.headers.get("User-Agent"), time.monotonic()))
        if not url.path.rstrip("/").endswith("/search"):  # a server may live under a path
            self._send(Reply(status=404, body={"error": "unknown endpoint"}))
            return
        reply = stub.answers.get(params.get("q", "").strip().lower(), Reply(body=[]))
        if reply.delay_seconds and stub._stopping.wait(reply.delay_seconds):
            return  # shutting down: drop the connection instead of answering
        if isinstance(reply.body, list) and params.get("addressdetails") != "1":
            reply = dataclasses.replace(
                reply, body=[{k: v for k, v in r.items() if k != "address"} for r in reply.body]
            )
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.raw is not None:
            payload, content_type = reply.raw.encode(), "text/html; charset=utf-8"
        else:
            payload, content_type = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timed out) before the answer
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class NominatimStub:
    """The fake server; use as a context manager or call start() and stop()."""

    def __init__(self, answers: Mapping[str, Reply] | None = None) -> None:
        self.answers: dict[str, Reply] = dict(default_answers() if answers is None else answers)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the stub is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def queries(self) -> list[str | None]:
        """The ``q`` of every request, in order of arrival."""
        with self._lock:
            return [r.q for r in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def start(self) -> NominatimStub:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stub = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> NominatimStub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

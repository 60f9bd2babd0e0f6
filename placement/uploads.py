"""Uploaded files waiting between an import's preview and its confirmation.

An import is previewed first (a dry run listing every problem) and confirmed
after; the file waits here in between, in a private folder under a random
token, with the user and the school it was uploaded for.  Only the token
travels to the browser.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import secrets
from pathlib import Path

from placement.db import utcnow
from placement.errors import NotFound
from placement.models import User

#: How long an uploaded file waits for its confirmation.
UPLOAD_TTL = dt.timedelta(hours=1)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclasses.dataclass(frozen=True)
class StagedUpload:
    token: str
    school_id: int
    filename: str
    data: bytes


class UploadStore:
    """Files waiting between preview and confirmation, in a private folder, under random tokens.

    Only the token travels to the browser; the file, the user and the school
    stay on the server.  A token of another user, another school, a token
    past :data:`UPLOAD_TTL` or one that is not a token at all finds nothing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, user: User, school_id: int, filename: str, data: bytes, *, now: dt.datetime | None = None) -> str:
        now = now or utcnow()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.purge(now=now)
        token = secrets.token_urlsafe(32)
        meta = {"user_id": user.id, "school_id": school_id, "filename": Path(filename).name, "at": now.isoformat()}
        self._write(self._path(token, ".bin"), data)
        self._write(self._path(token, ".json"), json.dumps(meta).encode())
        return token

    def get(self, user: User, token: str, *, now: dt.datetime | None = None) -> StagedUpload:
        now = now or utcnow()
        if not _TOKEN.fullmatch(token or ""):
            raise NotFound("upload: not found")
        try:
            meta = json.loads(self._path(token, ".json").read_bytes())
            data = self._path(token, ".bin").read_bytes()
        except (OSError, ValueError):
            raise NotFound("upload: not found or expired; upload the file again") from None
        if meta.get("user_id") != user.id or now - dt.datetime.fromisoformat(meta["at"]) > UPLOAD_TTL:
            raise NotFound("upload: not found or expired; upload the file again")
        return StagedUpload(token, int(meta["school_id"]), str(meta["filename"]), data)

    def discard(self, token: str) -> None:
        if _TOKEN.fullmatch(token or ""):
            for suffix in (".bin", ".json"):
                self._path(token, suffix).unlink(missing_ok=True)

    def purge(self, *, now: dt.datetime | None = None) -> int:
        """Remove files older than :data:`UPLOAD_TTL`; how many uploads went."""
        now = now or utcnow()
        removed = 0
        if not self.folder.is_dir():
            return 0
        for meta_path in self.folder.glob("*.json"):
            try:
                at = dt.datetime.fromisoformat(json.loads(meta_path.read_bytes())["at"])
            except (OSError, ValueError, KeyError):
                at = None
            if at is None or now - at > UPLOAD_TTL:
                self.discard(meta_path.stem)
                meta_path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _path(self, token: str, suffix: str) -> Path:
        return self.folder / f"{token}{suffix}"

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

"""Uploaded files waiting between an import's preview and its confirmation.

An import is previewed first (a dry run listing every problem) and confirmed
after; the file waits in between in the database (``staged_upload``), so the
confirmation may reach another web host than the preview, under a random
token, with the user and the school (or municipality) it was uploaded for.
Only the token travels to the browser, and only its hash is stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from placement.db import utcnow
from placement.errors import NotFound
from placement.models import StagedUpload, User

#: How long an uploaded file waits for its confirmation.
UPLOAD_TTL = dt.timedelta(hours=1)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclasses.dataclass(frozen=True)
class Staged:
    token: str
    school_id: int
    filename: str
    data: bytes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UploadStore:
    """Files waiting between preview and confirmation, under random tokens, in the caller's transaction.

    A token of another user, a token past :data:`UPLOAD_TTL` or one that is
    not a token at all finds nothing.  Nothing is committed here.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, user: User, school_id: int, filename: str, data: bytes, *, now: dt.datetime | None = None) -> str:
        now = now or utcnow()
        self.purge(now=now)
        token = secrets.token_urlsafe(32)
        self.session.add(
            StagedUpload(
                token_hash=_hash(token),
                user_id=user.id,
                scope_id=school_id,
                filename=Path(filename).name[:255],
                data=data,
                created_at=now,
            )
        )
        self.session.flush()
        return token

    def get(self, user: User, token: str, *, now: dt.datetime | None = None) -> Staged:
        now = now or utcnow()
        if not _TOKEN.fullmatch(token or ""):
            raise NotFound("upload: not found")
        staged = self.session.scalars(select(StagedUpload).where(StagedUpload.token_hash == _hash(token))).first()
        if staged is None or staged.user_id != user.id or now - staged.created_at > UPLOAD_TTL:
            raise NotFound("upload: not found or expired; upload the file again")
        return Staged(token, staged.scope_id, staged.filename, staged.data)

    def discard(self, token: str) -> None:
        if _TOKEN.fullmatch(token or ""):
            self.session.execute(delete(StagedUpload).where(StagedUpload.token_hash == _hash(token)))

    def purge(self, *, now: dt.datetime | None = None) -> int:
        """Remove files older than :data:`UPLOAD_TTL`; how many uploads went."""
        now = now or utcnow()
        gone = self.session.execute(delete(StagedUpload).where(StagedUpload.created_at < now - UPLOAD_TTL))
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]

"""Sessions that hold across a host's workers and end after an absolute lifetime."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import log_in_coordinator
from web import config
from web.app import SIGNED_IN_AT


def test_workers_of_one_host_share_the_key_kept_in_the_instance_folder(tmp_path: Path) -> None:
    keys: list[str] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        keys.append(config.instance_secret_key(str(tmp_path)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert len(keys[0]) == 64
    assert (tmp_path / config.SECRET_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert config.instance_secret_key(str(tmp_path)) == keys[0]  # a restart keeps it


def test_the_environment_key_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAKTIK_SECRET_KEY", "k" * 40)
    settings = config.from_environment(str(tmp_path))
    assert (settings["SECRET_KEY"], settings["SECRET_KEY_FROM_ENV"]) == ("k" * 40, True)
    assert not (tmp_path / config.SECRET_KEY_FILE).exists()


@pytest.mark.parametrize("hours_late", [0.5, 13])
def test_a_staff_login_ends_twelve_hours_after_it_began(
    client: FlaskClient, db_session: Session, hours_late: float
) -> None:
    assert log_in_coordinator(client, db_session) == 302
    assert client.get("/coordinator/").status_code == 200
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = int(session[SIGNED_IN_AT] - hours_late * 3600)
    response = client.get("/coordinator/")
    if hours_late < 12:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert "/auth/login" in response.headers["Location"]


def test_a_cookie_without_a_login_time_is_not_honoured(client: FlaskClient, db_session: Session) -> None:
    assert log_in_coordinator(client, db_session, "sam@kommun.example") == 302
    with client.session_transaction() as session:
        del session[SIGNED_IN_AT]
    assert client.get("/coordinator/").status_code == 302

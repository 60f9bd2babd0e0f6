"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd), that can go down, come back, and refuse.

    server = SmtpServer()
    server.start()
    ...                       # mail to 127.0.0.1:server.port
    server.stop()             # an outage: connections are refused
    server.start()            # back, on the same port
    server.answer("bounce@example.se", "550 5.1.1 No such user")
    server.messages           # what it accepted, as email.message.EmailMessage
    server.close()

Everything runs on loopback; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclasses.dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    #: Whether the client had logged in (AUTH) when it sent this.
    authenticated: bool = False

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Recorder:
    """The aiosmtpd handler: records envelopes, answers as told for given recipients."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, str] = {}
        self.data_delay_s = 0.0
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.answers.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        content = envelope.original_content or b""
        with self._lock:
            self.received.append(
                Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content), bool(session.authenticated))
            )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """An aiosmtpd server on a fixed loopback port that can be stopped and started again."""

    host = "127.0.0.1"

    def __init__(self, *, port: int | None = None, logins: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.recorder = Recorder()
        self.logins = logins
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {}
        if self.logins is not None:
            # Offered without TLS on loopback; requiring it too would make aiosmtpd warn.
            kwargs |= {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = Controller(self.recorder, hostname=self.host, port=self.port, ready_timeout=10, **kwargs)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: new connections are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    close = stop

    def answer(self, recipient: str, reply: str) -> None:
        """Answer ``reply`` (e.g. ``"550 5.1.1 No such user"``) to RCPT TO of ``recipient``."""
        self.recorder.answers[recipient.lower()] = reply

    def accept(self, recipient: str) -> None:
        self.recorder.answers.pop(recipient.lower(), None)

    def slow_down(self, seconds: float) -> None:
        """Wait this long before accepting each message's data."""
        self.recorder.data_delay_s = seconds

    @property
    def received(self) -> list[Received]:
        return list(self.recorder.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.logins is not None
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.logins.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

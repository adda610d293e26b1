"""Reading the mail Box sends to a new account's admin (the e-mail verification link).

Box verifies the sign-up address by e-mail, so the portal must be able to read the mail sent to
every admin address it signs up with. In production that is a mailbox the provider controls
(for example a catch-all domain such as ``box-admins.provider.example`` read over IMAP, with one
address per customer account); see docs/connector.md. Only the simulator's mailbox is
implemented here, because only it can be tested: it reads ``GET /_sim/mail?to=ADDRESS``.

``BOX_MAILBOX`` names the class; ``BOX_MAILBOX_URL`` is where it reads (for the simulator: its
origin, by default ``BOX_WEB_BASE_URL``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from provisioning.connector.base import TransientError


@dataclass
class Mail:
    to: str
    subject: str
    body: str
    links: list[str] = field(default_factory=list)
    sent_at: str = ""


class Mailbox:
    def messages(self, to: str) -> list[Mail]:
        """The mail received for ``to``, oldest first."""
        raise NotImplementedError

    def verification_link(self, to: str, *, since: datetime | None = None) -> str:
        """The link of the newest verification mail for ``to``. Raises ``TransientError`` when
        none has arrived yet (mail can be slow; the engine tries again later)."""
        for mail in reversed(self.messages(to)):
            if "verify" not in mail.subject.lower():
                continue
            for link in mail.links or re.findall(r"https?://\S+", mail.body):
                if "verify" in link:
                    return link
        raise TransientError(
            f"No verification mail for {to} has arrived yet.", code="mail_not_arrived"
        )


class SimulatorMailbox(Mailbox):
    def __init__(self, url: str | None = None, timeout: float = 10.0) -> None:
        self.url = (url or settings.BOX_MAILBOX_URL or settings.BOX_WEB_BASE_URL).rstrip("/")
        self.timeout = timeout

    def messages(self, to: str) -> list[Mail]:
        try:
            response = requests.get(
                f"{self.url}/_sim/mail", params={"to": to}, timeout=self.timeout
            )
            response.raise_for_status()
        except requests.RequestException:
            raise TransientError("The mailbox could not be read.", code="mailbox") from None
        return [
            Mail(
                to=entry.get("to", ""),
                subject=entry.get("subject", ""),
                body=entry.get("body", ""),
                links=list(entry.get("links") or []),
                sent_at=entry.get("sent_at", ""),
            )
            for entry in response.json().get("entries", [])
        ]


def get_mailbox() -> Mailbox:
    return import_string(settings.BOX_MAILBOX)()

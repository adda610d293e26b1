"""Reading the mail Box sends to a new account's admin (the e-mail verification link).

Box verifies the sign-up address by e-mail, so the portal must be able to read the mail sent to
every admin address it signs up with. Two mailboxes implement the interface the browser driver
uses (``Mailbox``: ``messages(to, since=)``, ``verification_link(to, since=)``):

* ``SimulatorMailbox`` reads the Box simulator's ``GET /_sim/mail?to=ADDRESS`` (development,
  tests, the sandbox stack);
* ``ImapMailbox`` reads a real mailbox over IMAP (production): typically a catch-all domain such
  as ``box-admins.provider.example`` whose mail all lands in one inbox, with one address per
  customer account (``BOX_ADMIN_LOGIN_TEMPLATE``); see docs/connector.md.

``BOX_MAILBOX`` names the class; ``BOX_MAILBOX_URL`` is where it reads: for the simulator its
origin (by default ``BOX_WEB_BASE_URL``), for IMAP ``imaps://USER:PASSWORD@HOST[:PORT]/FOLDER``
(TLS from the start, port 993) or ``imap://...`` (port 143, upgraded with STARTTLS before the
password is sent; a server without STARTTLS is refused).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import imaplib
import re
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from provisioning.connector.base import PermanentError, TransientError

LINK_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")
LINK_IN_HTML = re.compile(r"""href\s*=\s*["'](https?://[^"']+)["']""", re.IGNORECASE)


@dataclass
class Mail:
    to: str
    subject: str
    body: str
    links: list[str] = field(default_factory=list)
    sent_at: str = ""  # ISO 8601, with its offset

    def sent(self) -> datetime | None:
        try:
            value = datetime.fromisoformat(self.sent_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def _not_before(mail: Mail, since: datetime | None) -> bool:
    """Mail sent at or after ``since`` (to the second: mail dates have no fractions). A mail
    without a readable date is kept."""
    if since is None:
        return True
    sent = mail.sent()
    return sent is None or sent >= since.replace(microsecond=0)


class Mailbox:
    def messages(self, to: str, *, since: datetime | None = None) -> list[Mail]:
        """The mail received for ``to`` (sent at or after ``since``), oldest first."""
        raise NotImplementedError

    def verification_link(self, to: str, *, since: datetime | None = None) -> str:
        """The link of the newest verification mail for ``to`` sent at or after ``since``.
        Raises ``TransientError`` when none has arrived yet (mail can be slow; the engine tries
        again later)."""
        for mail in reversed(self.messages(to, since=since)):
            if not _not_before(mail, since) or "verify" not in mail.subject.lower():
                continue
            for link in mail.links or LINK_IN_TEXT.findall(mail.body):
                if "verify" in link:
                    return link
        raise TransientError(
            f"No verification mail for {to} has arrived yet.", code="mail_not_arrived"
        )


class SimulatorMailbox(Mailbox):
    def __init__(self, url: str | None = None, timeout: float = 10.0) -> None:
        self.url = (url or settings.BOX_MAILBOX_URL or settings.BOX_WEB_BASE_URL).rstrip("/")
        self.timeout = timeout

    def messages(self, to: str, *, since: datetime | None = None) -> list[Mail]:
        try:
            response = requests.get(
                f"{self.url}/_sim/mail", params={"to": to}, timeout=self.timeout
            )
            response.raise_for_status()
        except requests.RequestException:
            raise TransientError("The mailbox could not be read.", code="mailbox") from None
        mails = [
            Mail(
                to=entry.get("to", ""),
                subject=entry.get("subject", ""),
                body=entry.get("body", ""),
                links=list(entry.get("links") or []),
                sent_at=entry.get("sent_at", ""),
            )
            for entry in response.json().get("entries", [])
        ]
        return [mail for mail in mails if _not_before(mail, since)]


# --- IMAP -----------------------------------------------------------------------------------------

# Headers that can carry the address a mail was delivered to: a catch-all domain's mail may name
# it only in Delivered-To / X-Original-To (Bcc, forwarding).
ADDRESS_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")


@dataclass(frozen=True)
class ImapLocation:
    """Where an ``ImapMailbox`` reads, parsed from ``BOX_MAILBOX_URL``."""

    host: str
    port: int
    implicit_tls: bool  # imaps:// (TLS from the start) or imap:// (STARTTLS)
    user: str
    password: str
    folder: str = "INBOX"
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ImapLocation:
        parts = urlsplit(url)
        if parts.scheme not in ("imaps", "imap"):
            raise PermanentError(
                "BOX_MAILBOX_URL must start with imaps:// or imap://.", code="mailbox_config"
            )
        if not parts.hostname or parts.username is None or parts.password is None:
            raise PermanentError(
                "BOX_MAILBOX_URL must name the user, password and host: "
                "imaps://USER:PASSWORD@HOST/FOLDER.",
                code="mailbox_config",
            )
        try:
            port = parts.port
        except ValueError:
            raise PermanentError(
                "BOX_MAILBOX_URL has an invalid port.", code="mailbox_config"
            ) from None
        implicit = parts.scheme == "imaps"
        options = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=port or (993 if implicit else 143),
            implicit_tls=implicit,
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            cafile=(options.get("cafile") or [None])[0],
        )


def _quote(value: str) -> str:
    """An IMAP quoted string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text_of(message: EmailMessage) -> tuple[str, list[str]]:
    """The readable text of a mail and the links in it (plain text preferred, HTML as well)."""
    texts, links = [], []
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            content = part.get_payload(decode=True).decode("utf-8", "replace")
        if kind == "text/html":
            links += [html.unescape(link) for link in LINK_IN_HTML.findall(content)]
            content = html.unescape(re.sub(r"<[^>]+>", " ", content))
        texts.append(content)
        links += LINK_IN_TEXT.findall(content)
    unique = list(dict.fromkeys(link.rstrip(".,;") for link in links))
    return "\n".join(texts), unique


class ImapMailbox(Mailbox):
    """Box's verification mail in a real mailbox, read over IMAP (``imaplib``).

    Each call opens one connection: TLS (``imaps://``) or STARTTLS (``imap://``), verifying the
    server's certificate (``?cafile=PATH`` adds a private CA), logs in, opens the folder read-only
    and searches for mail to the address (server-side, by date too when ``since`` is given),
    then keeps only mail whose To, Cc, Delivered-To or X-Original-To is exactly that address.
    Nothing is deleted or marked as read. Errors never carry the password: a refused login is a
    ``PermanentError`` (the settings are wrong), anything else a ``TransientError``.
    """

    def __init__(self, url: str | None = None, timeout: float = 30.0) -> None:
        self.location = ImapLocation.from_url(url or settings.BOX_MAILBOX_URL)
        self.timeout = timeout

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.location.cafile)

    def _connect(self) -> imaplib.IMAP4:
        where = self.location
        if where.implicit_tls:
            conn = imaplib.IMAP4_SSL(
                where.host, where.port, ssl_context=self._context(), timeout=self.timeout
            )
        else:
            conn = imaplib.IMAP4(where.host, where.port, timeout=self.timeout)
            try:
                conn.starttls(ssl_context=self._context())
            except imaplib.IMAP4.error:
                conn.shutdown()
                raise PermanentError(
                    f"The mail server {where.host} does not offer STARTTLS; the mailbox password "
                    "is never sent unencrypted (use imaps://).",
                    code="mailbox_tls",
                ) from None
        try:
            conn.login(where.user, where.password)
        except imaplib.IMAP4.error:
            conn.shutdown()
            raise PermanentError(
                f"The mail server {where.host} refused the mailbox's login; check BOX_MAILBOX_URL.",
                code="mailbox_login",
            ) from None
        return conn

    def messages(self, to: str, *, since: datetime | None = None) -> list[Mail]:
        address = to.strip().lower()
        try:
            conn = self._connect()
        except ssl.SSLCertVerificationError:
            raise PermanentError(
                f"The certificate of the mail server {self.location.host} is not trusted; give "
                "its CA with ?cafile=PATH in BOX_MAILBOX_URL.",
                code="mailbox_tls",
            ) from None
        except (OSError, imaplib.IMAP4.error):  # OSError: sockets, TLS, timeouts
            raise TransientError(
                f"The mailbox at {self.location.host} could not be read.", code="mailbox"
            ) from None
        try:
            return self._read(conn, address, since)
        except (OSError, imaplib.IMAP4.error):  # OSError: sockets, TLS, timeouts
            raise TransientError(
                f"The mailbox at {self.location.host} could not be read.", code="mailbox"
            ) from None
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                conn.logout()

    def _read(self, conn: imaplib.IMAP4, address: str, since: datetime | None) -> list[Mail]:
        status, _ = conn.select(_quote(self.location.folder), readonly=True)
        if status != "OK":
            raise PermanentError(
                f"The mailbox has no folder {self.location.folder!r}; check BOX_MAILBOX_URL.",
                code="mailbox_folder",
            )
        criteria = ["OR", "TO", _quote(address), "HEADER", "Delivered-To", _quote(address)]
        if since is not None:
            # SINCE compares dates only, in the server's time zone: a day earlier is safe, and
            # the exact time is checked on each mail below.
            day = (since.astimezone(UTC) - timedelta(days=1)).strftime("%d-%b-%Y")
            criteria = ["SINCE", day, *criteria]
        status, data = conn.uid("SEARCH", *criteria)
        if status != "OK":
            raise TransientError("The mailbox did not answer a search.", code="mailbox")
        uids = (data[0] or b"").split()
        mails: list[tuple[datetime, int, Mail]] = []
        for uid in uids:
            status, fetched = conn.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])")
            if status != "OK":
                continue
            for item in fetched:
                if not isinstance(item, tuple):
                    continue
                mail = self._mail(item[0], item[1], address)
                if mail is not None and _not_before(mail, since):
                    mails.append((mail.sent() or datetime.min.replace(tzinfo=UTC), int(uid), mail))
        mails.sort(key=lambda entry: entry[:2])
        return [mail for _, _, mail in mails]

    @staticmethod
    def _mail(meta: bytes, raw: bytes, address: str) -> Mail | None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        recipients = {
            found.lower()
            for _, found in getaddresses(
                [str(value) for name in ADDRESS_HEADERS for value in message.get_all(name, [])]
            )
        }
        if address not in recipients:
            return None
        sent = None
        try:
            sent = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
        except (TypeError, ValueError):
            sent = None
        if sent is None:
            arrival = imaplib.Internaldate2tuple(meta)
            if arrival is not None:
                sent = datetime(*arrival[:6], tzinfo=UTC)
        if sent is not None and sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)
        body, links = _text_of(message)
        return Mail(
            to=address,
            subject=str(message["Subject"] or ""),
            body=body,
            links=links,
            sent_at=sent.isoformat() if sent else "",
        )


def get_mailbox() -> Mailbox:
    return import_string(settings.BOX_MAILBOX)()

"""The IMAP mailbox against a real IMAP server: a dovecot of its own, started for this module on
free ports (tests/provisioning/imap_server.py). Box's verification mail is delivered with IMAP
APPEND; the mailbox must find the newest one for the address, sent after the given time, and its
link, over imaps:// and over imap:// with STARTTLS, and never another address's or an older one.

Skipped, saying why, only when dovecot cannot be installed or started here."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from provisioning.connector.base import PermanentError, TransientError
from provisioning.connector.browser_driver import BrowserDriver
from provisioning.connector.mailbox import ImapLocation, ImapMailbox, get_mailbox
from tests.provisioning.imap_server import DovecotUnavailable, start_dovecot

_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot():
    try:
        server = start_dovecot()
    except DovecotUnavailable as exc:
        pytest.fail(
            f"no IMAP server for the mailbox tests: {exc}; install dovecot-imapd (make dovecot)"
        )
    yield server
    server.stop()


@pytest.fixture(params=["imaps", "imap+starttls"])
def mailbox(request, dovecot):
    url = dovecot.imaps_url() if request.param == "imaps" else dovecot.imap_url()
    return ImapMailbox(url, timeout=10)


def address() -> str:
    return f"box-admin-{next(_numbers)}@admins.provider.test"


def box_mail(
    to: str,
    token: str,
    *,
    sent: datetime | None = None,
    subject: str = "Verify your email address for Box",
    html: bool = False,
    headers: dict | None = None,
) -> EmailMessage:
    link = f"https://account.box.com/signup/verify?token={token}"
    message = EmailMessage()
    message["From"] = "Box <noreply@box.com>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(sent or datetime.now(UTC))
    for name, value in (headers or {}).items():
        message[name] = value
    if html:
        message.set_content(
            f'<p>Confirm your address: <a href="{link}&amp;lang=en">Verify</a></p>', subtype="html"
        )
    else:
        message.set_content(f"Thanks for signing up for Box. Confirm your email:\n\n{link}\n")
    return message


def test_the_newest_verification_mail_and_its_link_are_found(dovecot, mailbox):
    # given: two verification mails for the address, the second one newer
    to = address()
    dovecot.deliver(box_mail(to, "first", sent=datetime.now(UTC) - timedelta(minutes=5)))
    dovecot.deliver(box_mail(to, "second"))
    # when
    mails = mailbox.messages(to)
    link = mailbox.verification_link(to.upper())  # addresses compare without case
    # then
    assert [m.links for m in mails] == [
        ["https://account.box.com/signup/verify?token=first"],
        ["https://account.box.com/signup/verify?token=second"],
    ]
    assert mails[0].subject == "Verify your email address for Box"
    assert mails[0].to == to
    assert link == "https://account.box.com/signup/verify?token=second"


def test_older_and_other_addresses_mail_is_not_picked(dovecot, mailbox):
    # given: for this address only a verification mail from before the sign-up...
    to = address()
    signed_up = datetime.now(UTC) - timedelta(minutes=1)
    dovecot.deliver(box_mail(to, "stale", sent=signed_up - timedelta(hours=2)))
    # ...and, after the sign-up, mail for addresses that merely contain this one, and other mail
    local, domain = to.split("@")
    dovecot.deliver(box_mail(f"x{to}", "prefixed"))
    dovecot.deliver(box_mail(f"{local}7@{domain}", "longer"))
    dovecot.deliver(box_mail(to, "welcome", subject="Welcome to Box"))
    # when / then: nothing has arrived for it since the sign-up
    with pytest.raises(TransientError) as waiting:
        mailbox.verification_link(to, since=signed_up)
    assert waiting.value.code == "mail_not_arrived"
    assert [m.subject for m in mailbox.messages(to, since=signed_up)] == ["Welcome to Box"]
    # and once Box's mail for the sign-up arrives, that is the one
    dovecot.deliver(box_mail(to, "fresh"))
    link = mailbox.verification_link(to, since=signed_up)
    assert link == "https://account.box.com/signup/verify?token=fresh"
    # without a time, the stale mail is still older than the fresh one
    assert mailbox.verification_link(to) == link


def test_catch_all_delivery_and_html_mail(dovecot, mailbox):
    # given: a mail addressed to a list, delivered to the address (catch-all), HTML only
    to = address()
    dovecot.deliver(
        box_mail(
            "undisclosed-recipients:;",
            "html-only",
            html=True,
            headers={"Delivered-To": to},
        )
    )
    # then
    assert mailbox.verification_link(to) == (
        "https://account.box.com/signup/verify?token=html-only&lang=en"
    )


def test_the_settings_choose_the_imap_mailbox_for_the_browser_driver(dovecot, settings):
    settings.BOX_MAILBOX = "provisioning.connector.mailbox.ImapMailbox"
    settings.BOX_MAILBOX_URL = dovecot.imaps_url()
    to = address()
    dovecot.deliver(box_mail(to, "chosen"))
    assert isinstance(get_mailbox(), ImapMailbox)
    driver = BrowserDriver(base_url="https://account.box.com")
    assert driver.mailbox.verification_link(to).endswith("token=chosen")


def test_a_refused_login_is_permanent_and_keeps_the_password_out(dovecot):
    mailbox = ImapMailbox(dovecot.imaps_url(password="wrong-password-123"), timeout=10)
    with pytest.raises(PermanentError) as refused:
        mailbox.messages(address())
    assert refused.value.code == "mailbox_login"
    assert "wrong-password-123" not in str(refused.value)


def test_an_untrusted_certificate_is_refused(dovecot):
    url = dovecot.imaps_url().split("?")[0]  # without the test CA
    with pytest.raises(PermanentError) as refused:
        ImapMailbox(url, timeout=10).messages(address())
    assert refused.value.code == "mailbox_tls"


def test_a_missing_folder_is_permanent(dovecot):
    url = dovecot.imaps_url().replace("/INBOX?", "/Box-Verification?")
    with pytest.raises(PermanentError) as refused:
        ImapMailbox(url, timeout=10).messages(address())
    assert refused.value.code == "mailbox_folder"


def test_an_unreachable_server_is_transient():
    mailbox = ImapMailbox("imaps://user:pass@127.0.0.1:1/INBOX", timeout=5)
    with pytest.raises(TransientError) as failed:
        mailbox.messages(address())
    assert failed.value.code == "mailbox"
    assert "pass" not in str(failed.value)


def test_the_url_says_where_and_how():
    where = ImapLocation.from_url("imaps://box-admins%40provider.example:p%40ss%3Aw@mail.example")
    assert (where.host, where.port, where.implicit_tls) == ("mail.example", 993, True)
    assert (where.user, where.password, where.folder) == (
        "box-admins@provider.example",
        "p@ss:w",
        "INBOX",
    )
    where = ImapLocation.from_url("imap://u:p@mail.example:1143/Box%20Mail?cafile=/etc/ca.pem")
    assert (where.port, where.implicit_tls, where.folder) == (1143, False, "Box Mail")
    assert where.cafile == "/etc/ca.pem"
    for bad in (
        "https://u:p@mail.example/",
        "imaps://mail.example/INBOX",
        "imaps://u@mail.example",
    ):
        with pytest.raises(PermanentError):
            ImapLocation.from_url(bad)

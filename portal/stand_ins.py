"""Recognising the local stand-ins for Box and Stripe: the Box simulator (``boxsim``) and
localstripe. Production settings refuse them; ``manage.py bootstrap`` registers the platform app
in the simulator when the connector points at one.

Plain functions on URLs, without Django: settings modules use them before Django is set up.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

BOXSIM_PORT = 8765
BOXSIM_HOSTS = frozenset({"boxsim"})
LOCALSTRIPE_PORT = 8420
LOCALSTRIPE_HOSTS = frozenset({"localstripe"})
SIMULATOR_MAILBOX = "SimulatorMailbox"


def _host_and_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower().rstrip("."), port


def is_local_host(host: str) -> bool:
    """The machine itself: ``localhost`` (and ``*.localhost``), any loopback address, the
    unspecified address (``0.0.0.0``, ``::``), or no host at all."""
    host = host.lower().strip("[]").rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _points_at(url: str, hosts: frozenset[str], port: int) -> bool:
    host, url_port = _host_and_port(url)
    return is_local_host(host) or host in hosts or url_port == port


def is_box_simulator_url(url: str) -> bool:
    """True when ``url`` is (or could only be) the local Box simulator: this machine, the
    simulator's default port 8765, or the compose service ``boxsim``."""
    return _points_at(url, BOXSIM_HOSTS, BOXSIM_PORT)


def is_localstripe_url(url: str) -> bool:
    """True when ``url`` is localstripe: this machine, its port 8420 or the host
    ``localstripe``."""
    return _points_at(url, LOCALSTRIPE_HOSTS, LOCALSTRIPE_PORT)


def is_simulator_mailbox(class_path: str) -> bool:
    return class_path.strip().rsplit(".", 1)[-1] == SIMULATOR_MAILBOX


BOX_URL_SETTINGS = ("BOX_API_BASE_URL", "BOX_UPLOAD_BASE_URL", "BOX_OAUTH2_URL", "BOX_WEB_BASE_URL")


def stand_ins(values: dict) -> list[tuple[str, str]]:
    """``(setting, why)`` for every setting in ``values`` that points at a stand-in."""
    found = []
    for name in BOX_URL_SETTINGS:
        url = values.get(name, "")
        if not url.strip():
            found.append((name, f"{name} is empty; it must be Box's address"))
        elif is_box_simulator_url(url):
            found.append((name, f"{name}={url!r} points at the local Box simulator, not at Box"))
    mailbox = values.get("BOX_MAILBOX", "")
    if is_simulator_mailbox(mailbox):
        found.append(
            (
                "BOX_MAILBOX",
                f"BOX_MAILBOX={mailbox!r} reads the Box simulator's mail; Box's verification "
                "mail arrives in a real mailbox (provisioning.connector.mailbox.ImapMailbox "
                "with BOX_MAILBOX_URL)",
            )
        )
    stripe = values.get("STRIPE_API_BASE", "")
    if not stripe.strip():
        found.append(("STRIPE_API_BASE", "STRIPE_API_BASE is empty; it must be Stripe's address"))
    elif is_localstripe_url(stripe):
        found.append(
            ("STRIPE_API_BASE", f"STRIPE_API_BASE={stripe!r} points at localstripe, not at Stripe")
        )
    return found


def redis_url_from_broker(broker_url: str) -> str:
    """The broker's URL when it is Redis (``redis://``, ``rediss://``), else empty."""
    return broker_url if broker_url.startswith(("redis://", "rediss://")) else ""

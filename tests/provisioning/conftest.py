"""Fixtures of the provisioning tests: the provider's platform app in the shared simulator,
settings that point the connector at a simulator, and accounts linked to fresh enterprises."""

from __future__ import annotations

import itertools

import pytest
from django.conf import settings as django_settings

from boxsim.testing import SimulatorError
from portal.actors import system
from provisioning.connector.api_driver import _CLIENTS

SYSTEM = system("tests")

_enterprise_seq = itertools.count(1)


def ensure_platform_app(sim) -> None:
    """The provider's platform app exists once per simulator (Box: made in the developer
    console); every enterprise then authorises it by client id."""
    try:
        sim.control.create_app(
            "Box broker portal",
            client_id=django_settings.BOX_PLATFORM_CLIENT_ID,
            client_secret=django_settings.BOX_PLATFORM_CLIENT_SECRET,
        )
    except SimulatorError as exc:
        if "409" not in str(exc):
            raise


def point_at(settings, sim, **extra) -> None:
    """Send the connector (API, pages, mailbox) to this simulator."""
    settings.BOX_API_BASE_URL = sim.url
    settings.BOX_UPLOAD_BASE_URL = sim.url + "/api"
    settings.BOX_OAUTH2_URL = sim.url + "/api/oauth2"
    settings.BOX_WEB_BASE_URL = sim.url
    settings.BOX_MAILBOX_URL = sim.url
    settings.BOX_API_TIMEOUT_SECONDS = 10
    settings.BOX_RATE_LIMIT_PER_MINUTE = 0
    settings.BOX_JOB_BACKOFF_BASE_SECONDS = 0.05
    settings.BOX_JOB_BACKOFF_MAX_SECONDS = 2
    for name, value in extra.items():
        setattr(settings, name, value)
    _CLIENTS.clear()


def new_enterprise(sim, *, seats=10, plan="business", name=None) -> dict:
    n = next(_enterprise_seq)
    return sim.control.create_enterprise(
        name=name or f"Test Enterprise {n}",
        plan=plan,
        seats=seats,
        admin_login=f"admin{n}-{sim.port}@ent{n}.example.com",
        client_id=django_settings.BOX_PLATFORM_CLIENT_ID,
    )


def link_account(customer, enterprise: dict, *, seats=None, plan="business"):
    from provisioning import services

    return services.box_account_link(
        customer=customer,
        box_enterprise_id=enterprise["enterprise_id"],
        plan_code=plan,
        seats=seats or enterprise["seats"],
        admin_login=enterprise["admin_login"],
        admin_name="Primary Admin",
        admin_password=enterprise["admin_password"],
        actor=SYSTEM,
    )


@pytest.fixture
def sim_settings(settings, platform_sim):
    point_at(settings, platform_sim)
    yield settings
    _CLIENTS.clear()


@pytest.fixture
def own_sim(tmp_path):
    """A simulator of the test's own (for faults and rate limits), with the platform app."""
    from boxsim.testing import start_simulator

    handle = start_simulator(data_path=tmp_path / "boxsim.sqlite3")
    ensure_platform_app(handle)
    yield handle
    handle.stop()


def box_users(sim, enterprise: dict) -> list:
    """Every managed user of the enterprise, straight from the simulator's API."""
    from boxsim.testing import box_client

    client = box_client(
        sim.url,
        django_settings.BOX_PLATFORM_CLIENT_ID,
        django_settings.BOX_PLATFORM_CLIENT_SECRET,
        enterprise["enterprise_id"],
    )
    users, marker = [], None
    while True:
        page = client.users.get_users(
            user_type="managed",
            usemarker=True,
            marker=marker,
            limit=1000,
            fields=["id", "login", "status", "space_amount", "external_app_user_id"],
        )
        users += page.entries
        marker = page.next_marker
        if not marker:
            return users

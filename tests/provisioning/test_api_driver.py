"""The API driver against the simulator: a creation finds what an earlier try made, a login
used elsewhere and a full enterprise are permanent errors, users are listed page by page, and
no error message carries a credential."""

import pytest
from django.conf import settings as django_settings

from boxsim.testing import box_client
from provisioning.connector.api_driver import ApiDriver
from provisioning.connector.base import (
    ApiCredentials,
    ConflictError,
    PermanentError,
    UserSpec,
)
from tests.provisioning.conftest import new_enterprise


def creds(enterprise, secret=None):
    return ApiCredentials(
        enterprise_id=enterprise["enterprise_id"],
        client_id=django_settings.BOX_PLATFORM_CLIENT_ID,
        client_secret=secret or django_settings.BOX_PLATFORM_CLIENT_SECRET,
    )


def test_a_creation_adopts_the_user_an_earlier_try_made(platform_sim, sim_settings):
    enterprise = new_enterprise(platform_sim, seats=5)
    client = box_client(
        platform_sim.url,
        django_settings.BOX_PLATFORM_CLIENT_ID,
        django_settings.BOX_PLATFORM_CLIENT_SECRET,
        enterprise["enterprise_id"],
    )
    login = f"early-{enterprise['enterprise_id']}@adopt.example.com"
    made = client.users.create_user("Early", login=login, external_app_user_id="seat-9")
    driver = ApiDriver()
    remote = driver.user_create(
        creds(enterprise), UserSpec(login=login, name="Early", external_app_user_id="seat-9")
    )
    assert (remote.id, remote.adopted) == (made.id, True)
    assert platform_sim.control.enterprise(enterprise["enterprise_id"])["seats_used"] == 2


def test_a_login_of_another_enterprise_is_a_permanent_conflict(platform_sim, sim_settings):
    first = new_enterprise(platform_sim, seats=5)
    second = new_enterprise(platform_sim, seats=5)
    driver = ApiDriver()
    login = f"taken-{first['enterprise_id']}@conflict.example.com"
    driver.user_create(creds(first), UserSpec(login=login, name="A", external_app_user_id="a"))
    with pytest.raises(ConflictError) as error:
        driver.user_create(creds(second), UserSpec(login=login, name="B", external_app_user_id="b"))
    assert error.value.code == "user_login_already_used"
    assert not error.value.retryable
    assert platform_sim.control.enterprise(second["enterprise_id"])["seats_used"] == 1


def test_a_full_enterprise_refuses_for_good(platform_sim, sim_settings):
    enterprise = new_enterprise(platform_sim, seats=1, plan="starter")  # the admin holds it
    with pytest.raises(PermanentError) as error:
        ApiDriver().user_create(
            creds(enterprise),
            UserSpec(login="one-too-many@full.example.com", name="X", external_app_user_id="x"),
        )
    assert (error.value.status, error.value.code) == (403, "seat_limit_exceeded")


def test_a_wrong_secret_is_permanent_and_never_quoted(platform_sim, sim_settings):
    enterprise = new_enterprise(platform_sim, seats=3)
    secret = "Wrong-Secret-Value-4242"
    with pytest.raises(PermanentError) as error:
        ApiDriver().user_find(creds(enterprise, secret), login="nobody@example.com")
    assert error.value.code == "invalid_client"
    assert secret not in error.value.message
    assert secret not in repr(creds(enterprise, secret))


def test_users_are_listed_page_by_page_with_usage(platform_sim, sim_settings):
    enterprise = new_enterprise(platform_sim, seats=1300)
    platform_sim.control.bulk_users(enterprise["enterprise_id"], 1200)
    users = list(ApiDriver().users_list(creds(enterprise)))
    assert len(users) == 1201
    assert len({u.id for u in users}) == 1201
    assert {u.space_amount for u in users} == {-1}

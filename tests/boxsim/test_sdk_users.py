"""Box's SDK against the simulator: users."""

import pytest
from box_sdk_gen import (
    BoxAPIError,
    CreateUserStatus,
    GetUsersUserType,
    UpdateUserByIdRole,
    UpdateUserByIdStatus,
    null,
)

from tests.boxsim.conftest import login_for, new_account, sdk_client

GIB = 1024**3
UNLIMITED = 999_999_999_999_999


def api_error(excinfo) -> tuple[int, str]:
    info = excinfo.value.response_info
    return info.status_code, info.body["code"]


def test_create_read_update_delete(client, account):
    login = login_for(account, "ada")
    user = client.users.create_user("Ada Lovelace", login=login, job_title="Engineer")
    assert user.id.isdigit()
    assert (user.name, user.login, user.job_title) == ("Ada Lovelace", login, "Engineer")
    assert user.status.value == "active"
    assert user.space_amount == UNLIMITED
    assert user.space_used == 0
    assert user.max_upload_size == 5 * GIB
    assert user.role is None  # a full field: only returned when asked for

    full = client.users.get_user_by_id(
        user.id, fields=["role", "enterprise", "external_app_user_id"]
    )
    assert full.role.value == "user"
    assert full.enterprise.id == account["enterprise_id"]
    assert full.login == login  # the mini fields come with the asked ones
    assert full.created_at is None

    updated = client.users.update_user_by_id(
        user.id,
        space_amount=10 * GIB,
        status=UpdateUserByIdStatus.INACTIVE,
        role=UpdateUserByIdRole.COADMIN,
        fields=["role", "status", "space_amount"],
    )
    assert (updated.role.value, updated.status.value, updated.space_amount) == (
        "coadmin",
        "inactive",
        10 * GIB,
    )
    assert client.users.update_user_by_id(user.id, space_amount=-1).space_amount == UNLIMITED

    assert client.users.delete_user_by_id(user.id) is None
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.get_user_by_id(user.id)
    assert api_error(excinfo) == (404, "not_found")


def test_me_is_the_service_account(client, account):
    me = client.users.get_user_me(fields=["role", "enterprise"])
    assert me.id == account["service_account_id"]
    assert me.login == account["service_account_login"]
    assert me.role.value == "coadmin"
    assert me.enterprise.id == account["enterprise_id"]


def test_delete_refuses_a_user_owning_content_unless_forced(boxsim, client, account):
    user = client.users.create_user("Owner", login=login_for(account, "owner"))
    boxsim.control.set_space_used(user.id, 5_000)
    assert client.users.get_user_by_id(user.id).space_used == 5_000
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.delete_user_by_id(user.id)
    assert api_error(excinfo) == (403, "forbidden")
    client.users.delete_user_by_id(user.id, force=True)
    assert client.users.get_users().total_count == 1  # the admin alone


def test_the_admin_cannot_be_deleted(client, account):
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.delete_user_by_id(account["admin_user_id"], force=True)
    assert api_error(excinfo) == (403, "access_denied_insufficient_permissions")


def test_logins_are_unique_across_all_of_box(boxsim, client, account, recorder):
    login = login_for(account, "grace")
    first = client.users.create_user("Grace Hopper", login=login)
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.create_user("Grace Again", login=login.upper())
    assert api_error(excinfo) == (409, "user_login_already_used")

    other = sdk_client(boxsim, new_account(boxsim), recorder)
    with pytest.raises(BoxAPIError) as excinfo:
        other.users.create_user("Grace Elsewhere", login=login)
    assert api_error(excinfo) == (409, "user_login_already_used")
    with pytest.raises(BoxAPIError) as excinfo:
        other.users.create_user("Admin Twin", login=account["admin_login"])
    assert api_error(excinfo) == (409, "user_login_already_used")

    second = client.users.create_user("Second", login=login_for(account, "second"))
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.update_user_by_id(second.id, login=login)
    assert api_error(excinfo) == (409, "user_login_already_used")
    assert client.users.get_user_by_id(first.id).login == login


def test_seat_limit(boxsim, recorder):
    account = new_account(boxsim, plan="starter", seats=2)
    client = sdk_client(boxsim, account, recorder)
    kept = client.users.create_user("Seat Two", login=login_for(account, "two"))  # admin + 1
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.create_user("Seat Three", login=login_for(account, "three"))
    assert api_error(excinfo) == (403, "seat_limit_exceeded")
    assert excinfo.value.response_info.body["context_info"] == {"seats": 2, "seats_used": 2}

    # neither app users nor inactive users take a seat
    app_user = client.users.create_user("Robot", is_platform_access_only=True)
    assert app_user.login.endswith("@boxdevedition.com")
    idle = client.users.create_user(
        "Idle", login=login_for(account, "idle"), status=CreateUserStatus.INACTIVE
    )
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.update_user_by_id(idle.id, status=UpdateUserByIdStatus.ACTIVE)
    assert api_error(excinfo) == (403, "seat_limit_exceeded")

    client.users.update_user_by_id(kept.id, status=UpdateUserByIdStatus.INACTIVE)
    client.users.update_user_by_id(idle.id, status=UpdateUserByIdStatus.ACTIVE)
    state = boxsim.control.enterprise(account["enterprise_id"])
    assert (state["seats"], state["seats_used"]) == (2, 2)
    assert client.users.get_users().total_count == 4


def test_name_and_field_length_limits(client, account):
    assert len(client.users.create_user("N" * 50, login=login_for(account, "n50")).name) == 50
    too_long = [
        {"name": "N" * 51, "login": login_for(account, "n51")},
        {"name": "Job", "login": login_for(account, "job"), "job_title": "J" * 101},
        {"name": "Phone", "login": login_for(account, "phone"), "phone": "1" * 101},
        {"name": "Address", "login": login_for(account, "addr"), "address": "A" * 256},
    ]
    for arguments in too_long:
        name = arguments.pop("name")
        with pytest.raises(BoxAPIError) as excinfo:
            client.users.create_user(name, **arguments)
        assert api_error(excinfo) == (400, "bad_request")
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.create_user("No Login")
    assert api_error(excinfo) == (400, "bad_request")
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.create_user("Bad Login", login="not-an-email")
    assert api_error(excinfo) == (400, "bad_request")
    assert client.users.get_users().total_count == 2


def test_list_filters_and_fields(client, account):
    alice = client.users.create_user("Alice Archer", login=login_for(account, "alice"))
    client.users.create_user("Bob Baker", login=login_for(account, "bob"))
    robot = client.users.create_user(
        "Alfred Robot", is_platform_access_only=True, external_app_user_id="crm-42"
    )

    by_name = client.users.get_users(filter_term="Al")
    assert [u.id for u in by_name.entries] == [alice.id, robot.id]
    by_login = client.users.get_users(filter_term="bob@")
    assert [u.name for u in by_login.entries] == ["Bob Baker"]
    assert client.users.get_users(external_app_user_id="crm-42").entries[0].id == robot.id
    assert client.users.get_users(user_type=GetUsersUserType.MANAGED).total_count == 4
    assert client.users.get_users(user_type=GetUsersUserType.EXTERNAL).total_count == 0

    slim = client.users.get_users(fields=["role", "is_platform_access_only"], limit=10)
    roles = {u.name: (u.role.value, u.is_platform_access_only) for u in slim.entries}
    assert roles == {
        f"{account['name']} Admin": ("admin", False),
        "Alice Archer": ("user", False),
        "Bob Baker": ("user", False),
        "Alfred Robot": ("user", True),
    }
    assert all(u.space_amount is None for u in slim.entries)


def test_external_users_are_found_by_exact_login_only(boxsim, client, account, recorder):
    other = new_account(boxsim)
    outsider = sdk_client(boxsim, other, recorder).users.create_user(
        "Outsider", login=login_for(other, "outsider")
    )
    found = client.users.get_users(
        filter_term=login_for(other, "outsider"), user_type=GetUsersUserType.EXTERNAL
    )
    assert [u.id for u in found.entries] == [outsider.id]
    assert client.users.get_users(filter_term="Outsider").total_count == 0
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.get_user_by_id(outsider.id)
    assert api_error(excinfo) == (404, "not_found")


def test_storage_follows_the_plan(boxsim, recorder):
    starter = new_account(boxsim, plan="starter", seats=5)
    client = sdk_client(boxsim, starter, recorder)
    user = client.users.create_user("Pooled", login=login_for(starter, "pooled"))
    assert (user.space_amount, user.max_upload_size) == (100 * GIB, 2 * GIB)
    for too_much in (-1, 100 * GIB + 1):
        with pytest.raises(BoxAPIError) as excinfo:
            client.users.update_user_by_id(user.id, space_amount=too_much)
        assert api_error(excinfo) == (400, "bad_request")
    assert client.users.update_user_by_id(user.id, space_amount=GIB).space_amount == GIB

    individual = new_account(boxsim, plan="individual", seats=1)
    me = sdk_client(boxsim, individual, recorder).users.get_user_by_id(individual["admin_user_id"])
    assert (me.space_amount, me.max_upload_size) == (10 * GIB, 250 * 1024**2)


def test_rolling_a_user_out_of_the_enterprise(client, account):
    user = client.users.create_user("Leaver", login=login_for(account, "leaver"))
    rolled = client.users.update_user_by_id(user.id, enterprise=null, fields=["enterprise"])
    assert rolled.enterprise is None
    assert client.users.get_users().total_count == 1
    with pytest.raises(BoxAPIError) as excinfo:
        client.users.get_user_by_id(user.id)
    assert api_error(excinfo) == (404, "not_found")


def test_booleans_are_read_as_true_or_True(api, account):
    """Box's SDKs send Python's `True`; other clients send `true`."""
    for value in ("true", "True"):
        page = api.get("/2.0/users", params={"usemarker": value, "limit": 1}).json()
        assert "next_marker" in page and "total_count" not in page
    for value in ("false", "False"):
        assert api.get("/2.0/users", params={"usemarker": value}).json()["total_count"] == 1
    assert api.get("/2.0/users", params={"usemarker": "yes"}).status_code == 400
    created = api.post(
        "/2.0/users",
        json={"name": "Sync", "login": login_for(account, "sync"), "is_sync_enabled": "False"},
        params={"fields": "is_sync_enabled"},
    ).json()
    assert created["is_sync_enabled"] is False
    assert api.delete(f"/2.0/users/{created['id']}", params={"force": "true"}).status_code == 204

"""Every operation the simulator serves, with each of its success and error answers, checked
against box-openapi.json: the answers are recorded and validated one by one, and the test
asserts which (operation, status) pairs it saw."""

import pytest

from boxsim.testing import start_simulator
from tests.boxsim.conftest import Api, login_for, new_account
from tests.boxsim.spec import OPERATIONS


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    handle = start_simulator(
        data_path=tmp_path_factory.mktemp("conformance") / "boxsim.sqlite3", rate_limit=0
    )
    yield handle
    handle.stop()


EXPECTED = {
    ("post_oauth2_token", 200),
    ("post_oauth2_token", 400),
    ("post_oauth2_revoke", 200),
    ("post_oauth2_revoke", 400),
    ("get_users", 200),
    ("get_users", 400),
    ("post_users", 201),
    ("post_users", 400),
    ("post_users", 403),
    ("post_users", 409),
    ("get_users_me", 200),
    ("get_users_id", 200),
    ("get_users_id", 404),
    ("put_users_id", 200),
    ("put_users_id", 400),
    ("put_users_id", 403),
    ("put_users_id", 404),
    ("put_users_id", 409),
    ("delete_users_id", 204),
    ("delete_users_id", 400),
    ("delete_users_id", 403),
    ("delete_users_id", 404),
    ("get_users_id_memberships", 200),
    ("get_users_id_memberships", 404),
    ("get_groups", 200),
    ("get_groups", 400),
    ("post_groups", 201),
    ("post_groups", 400),
    ("post_groups", 409),
    ("get_groups_id", 200),
    ("get_groups_id", 404),
    ("put_groups_id", 200),
    ("put_groups_id", 400),
    ("put_groups_id", 404),
    ("put_groups_id", 409),
    ("delete_groups_id", 204),
    ("delete_groups_id", 404),
    ("get_groups_id_memberships", 200),
    ("get_groups_id_memberships", 404),
    ("post_group_memberships", 201),
    ("post_group_memberships", 400),
    ("post_group_memberships", 404),
    ("post_group_memberships", 409),
    ("get_group_memberships_id", 200),
    ("get_group_memberships_id", 404),
    ("put_group_memberships_id", 200),
    ("put_group_memberships_id", 400),
    ("put_group_memberships_id", 404),
    ("delete_group_memberships_id", 204),
    ("delete_group_memberships_id", 404),
    ("get_events", 200),
    ("get_events", 400),
}


def test_every_operation_and_status(sim, recorder, box_spec):
    account = new_account(sim, plan="starter", seats=3)
    api = Api(sim.url, recorder, account)
    other = new_account(sim)

    # the token endpoint
    assert api.token().status_code == 200
    assert api.token(client_secret="wrong").status_code == 400
    token = api.token().json()["access_token"]
    revoke = {"client_id": account["client_id"], "client_secret": account["client_secret"]}
    session = recorder.session
    assert session.post(f"{sim.url}/oauth2/revoke", data={**revoke, "token": token}).ok
    assert session.post(f"{sim.url}/oauth2/revoke", data={"token": token}).status_code == 400

    # users
    ada = api.post("/2.0/users", json={"name": "Ada", "login": login_for(account, "ada")})
    assert ada.status_code == 201
    ada_id = ada.json()["id"]
    bob_id = api.post(
        "/2.0/users", json={"name": "Bob", "login": login_for(account, "bob")}
    ).json()["id"]
    full = api.post("/2.0/users", json={"name": "Cy", "login": login_for(account, "cy")})
    assert (full.status_code, full.json()["code"]) == (403, "seat_limit_exceeded")
    taken = api.post("/2.0/users", json={"name": "Ada 2", "login": login_for(account, "ada")})
    assert taken.status_code == 409
    assert api.post("/2.0/users", json={"login": login_for(account, "noname")}).status_code == 400
    app_user = api.post(
        "/2.0/users",
        json={"name": "Bot", "is_platform_access_only": True},
        params={"fields": "login,is_platform_access_only,external_app_user_id,enterprise"},
    )
    assert app_user.json()["is_platform_access_only"] is True
    full_fields = (
        "role,enterprise,tracking_codes,can_see_managed_users,is_sync_enabled,"
        "is_external_collab_restricted,is_exempt_from_device_limits,hostname,"
        "is_exempt_from_login_verification,my_tags,is_platform_access_only,"
        "external_app_user_id,notification_email,space_amount"
    )
    assert api.get("/2.0/users", params={"fields": full_fields}).status_code == 200
    assert api.get("/2.0/users", params={"usemarker": "True", "limit": 2}).status_code == 200
    assert api.get("/2.0/users", params={"offset": 10_001}).status_code == 400
    assert api.get("/2.0/users/me", params={"fields": full_fields}).status_code == 200
    assert api.get(f"/2.0/users/{ada_id}", params={"fields": full_fields}).status_code == 200
    assert api.get("/2.0/users/123").status_code == 404
    assert api.get(f"/2.0/users/{other['admin_user_id']}").status_code == 404
    updated = api.put(
        f"/2.0/users/{ada_id}",
        json={
            "job_title": "CTO",
            "role": "coadmin",
            "tracking_codes": [{"type": "tracking_code", "name": "team", "value": "core"}],
            "notification_email": {"email": "ada.notify@example.com"},
            "is_sync_enabled": "False",
        },
        params={"fields": full_fields},
    )
    assert updated.status_code == 200
    assert updated.json()["notification_email"] == {
        "email": "ada.notify@example.com",
        "is_confirmed": False,
    }
    assert api.put(f"/2.0/users/{ada_id}", json={"status": "asleep"}).status_code == 400
    assert (
        api.put(f"/2.0/users/{bob_id}", json={"login": login_for(account, "ada")}).status_code
        == 409
    )
    assert (
        api.put(f"/2.0/users/{account['admin_user_id']}", json={"role": "user"}).status_code == 403
    )
    assert api.put("/2.0/users/123", json={"name": "X"}).status_code == 404
    sim.control.set_space_used(bob_id, 10)
    assert api.delete(f"/2.0/users/{bob_id}").status_code == 403
    assert api.delete(f"/2.0/users/{bob_id}", params={"force": "maybe"}).status_code == 400
    assert api.delete(f"/2.0/users/{bob_id}", params={"force": "True"}).status_code == 204
    assert api.delete(f"/2.0/users/{bob_id}").status_code == 404

    # groups and memberships
    group = api.post("/2.0/groups", json={"name": "Team", "provenance": "HR"})
    assert group.status_code == 201
    group_id = group.json()["id"]
    assert api.post("/2.0/groups", json={"name": "team"}).status_code == 409
    assert api.post("/2.0/groups", json={"description": "no name"}).status_code == 400
    second_id = api.post("/2.0/groups", json={"name": "Second"}).json()["id"]
    all_group_fields = (
        "name,group_type,created_at,modified_at,provenance,external_sync_identifier,"
        "description,invitability_level,member_viewability_level,permissions"
    )
    assert api.get("/2.0/groups", params={"fields": all_group_fields}).status_code == 200
    assert api.get("/2.0/groups", params={"limit": "many"}).status_code == 400
    assert api.get(f"/2.0/groups/{group_id}", params={"fields": all_group_fields}).ok
    assert api.get("/2.0/groups/1").status_code == 404
    assert api.put(f"/2.0/groups/{group_id}", json={"description": "The team"}).ok
    assert api.put(f"/2.0/groups/{second_id}", json={"name": "Team"}).status_code == 409
    assert api.put(f"/2.0/groups/{group_id}", json={"description": "x" * 256}).status_code == 400
    assert api.put("/2.0/groups/1", json={"name": "X"}).status_code == 404
    membership = api.post(
        "/2.0/group_memberships",
        json={"user": {"id": ada_id}, "group": {"id": group_id}, "role": "admin"},
    )
    assert membership.status_code == 201
    membership_id = membership.json()["id"]
    again = api.post(
        "/2.0/group_memberships", json={"user": {"id": ada_id}, "group": {"id": group_id}}
    )
    assert again.status_code == 409
    assert api.post("/2.0/group_memberships", json={"user": {"id": ada_id}}).status_code == 400
    assert (
        api.post(
            "/2.0/group_memberships", json={"user": {"id": "1"}, "group": {"id": group_id}}
        ).status_code
        == 404
    )
    assert api.get(f"/2.0/groups/{group_id}/memberships").status_code == 200
    assert api.get("/2.0/groups/1/memberships").status_code == 404
    assert api.get(f"/2.0/users/{ada_id}/memberships").status_code == 200
    assert api.get("/2.0/users/1/memberships").status_code == 404
    assert api.get(f"/2.0/group_memberships/{membership_id}").status_code == 200
    assert api.get("/2.0/group_memberships/1").status_code == 404
    assert api.put(f"/2.0/group_memberships/{membership_id}", json={"role": "member"}).ok
    assert (
        api.put(f"/2.0/group_memberships/{membership_id}", json={"role": "owner"}).status_code
        == 400
    )
    assert api.put("/2.0/group_memberships/1", json={"role": "member"}).status_code == 404
    assert api.delete(f"/2.0/group_memberships/{membership_id}").status_code == 204
    assert api.delete(f"/2.0/group_memberships/{membership_id}").status_code == 404
    assert api.delete(f"/2.0/groups/{second_id}").status_code == 204
    assert api.delete(f"/2.0/groups/{second_id}").status_code == 404

    # events
    events = api.get("/2.0/events", params={"stream_type": "admin_logs", "limit": 500})
    assert events.status_code == 200
    assert {e["event_type"] for e in events.json()["entries"]} == {
        "ENTERPRISE_APP_AUTHORIZATION_UPDATE",
        "NEW_USER",
        "EDIT_USER",
        "CHANGE_ADMIN_ROLE",
        "DELETE_USER",
        "GROUP_CREATION",
        "GROUP_EDITED",
        "GROUP_DELETION",
        "GROUP_ADD_USER",
        "GROUP_REMOVE_USER",
    }
    assert api.get("/2.0/events", params={"stream_type": "admin_logs", "stream_position": "now"}).ok
    assert api.get("/2.0/events").ok
    assert api.get("/2.0/events", params={"stream_type": "everything"}).status_code == 400

    seen = {box_spec.validate(response) for response in recorder.responses}
    assert seen == EXPECTED


def call_every_operation(api: Api, ids: dict, **kwargs) -> list:
    responses = []
    for method, path in OPERATIONS:
        if path.startswith("/oauth2"):
            response = api.recorder.session.post(
                f"{api.url}{path}",
                data={
                    "grant_type": "client_credentials",
                    "client_id": api.account["client_id"],
                    "client_secret": api.account["client_secret"],
                    "box_subject_type": "enterprise",
                    "box_subject_id": api.account["enterprise_id"],
                    "token": "x",
                },
                timeout=30,
            )
        else:
            url = path.format(**ids)
            body = {"name": "Faulty"} if method in ("post", "put") else None
            response = api.request(method.upper(), "/2.0" + url, json=body, **kwargs)
        responses.append(response)
    return responses


def test_every_operation_answers_401_429_and_500(sim, recorder, box_spec):
    account = new_account(sim)
    api = Api(sim.url, recorder, account)
    ids = {
        "user_id": api.post(
            "/2.0/users", json={"name": "U", "login": login_for(account, "u")}
        ).json()["id"],
        "group_id": api.post("/2.0/groups", json={"name": "G"}).json()["id"],
    }
    ids["group_membership_id"] = api.post(
        "/2.0/group_memberships",
        json={"user": {"id": ids["user_id"]}, "group": {"id": ids["group_id"]}},
    ).json()["id"]
    recorder.responses.clear()

    api_count = len([p for _, p in OPERATIONS if not p.startswith("/oauth2")])
    unauthorised = call_every_operation(api, ids, token="expired-or-unknown")
    assert [r.status_code for r in unauthorised].count(401) == api_count
    try:
        sim.control.set_fault("*", error_500=1.0)
        assert {r.status_code for r in call_every_operation(api, ids)} == {500}
        sim.control.set_fault("*", error_429=1.0, retry_after=7)
        limited = call_every_operation(api, ids)
        assert {(r.status_code, r.headers["Retry-After"]) for r in limited} == {(429, "7")}
        sim.control.set_fault("*", timeout=1.0, timeout_seconds=0)
        assert {r.status_code for r in call_every_operation(api, ids)} == {504}
    finally:
        sim.control.clear_faults()

    seen = {box_spec.validate(response) for response in recorder.responses}
    operation_ids = {
        box_spec.operation_id(m, ("" if p.startswith("/oauth2") else "/2.0") + p)
        for m, p in OPERATIONS
    }
    assert len(operation_ids) == len(OPERATIONS) == 20
    expected = {(op, status) for op in operation_ids for status in (500, 429, 504)}
    expected |= {
        (op, 401) for op in operation_ids if op not in ("post_oauth2_token", "post_oauth2_revoke")
    }
    expected |= {("post_oauth2_token", 200), ("post_oauth2_revoke", 200)}
    assert seen == expected


def test_everything_else_is_a_404_client_error(sim, recorder, box_spec):
    api = Api(sim.url, recorder, new_account(sim))
    for method, path in [
        ("GET", "/2.0/files/123"),
        ("GET", "/2.0/folders/0"),
        ("POST", "/api/2.0/files/content"),
        ("GET", "/2.0"),
        ("GET", "/2.0/enterprises/1/users"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, path
        box_spec.validate_client_error(response.json())
        assert response.json()["code"] == "not_found"
        recorder.responses.remove(response)  # not an operation of the description
    for method, path in [("PATCH", "/2.0/users"), ("DELETE", "/2.0/events")]:
        response = api.request(method, path)
        assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")
        box_spec.validate_client_error(response.json())
        recorder.responses.remove(response)

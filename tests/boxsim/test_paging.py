"""Listing 2,500 users with offset paging and with marker paging."""

import pytest

from tests.boxsim.conftest import Api, new_account, sdk_client

USERS = 2_500


@pytest.fixture(scope="module")
def big_account(boxsim):
    account = new_account(boxsim, plan="enterprise", seats=3_000)
    created = boxsim.control.bulk_users(account["enterprise_id"], USERS)
    assert created["created"] == USERS
    return account


def test_offset_paging(boxsim, big_account, recorder):
    client = sdk_client(boxsim, big_account, recorder)
    ids, offset, pages = [], 0, 0
    while True:
        page = client.users.get_users(offset=offset, limit=1000)
        assert page.total_count == USERS + 1  # and the admin
        assert (page.offset, page.limit) == (offset, 1000)
        ids += [user.id for user in page.entries]
        pages += 1
        offset += len(page.entries)
        if offset >= page.total_count:
            break
    assert pages == 3
    assert len(ids) == len(set(ids)) == USERS + 1
    assert ids == sorted(ids, key=int)
    assert ids[0] == big_account["admin_user_id"]


def test_marker_paging(boxsim, big_account, recorder):
    client = sdk_client(boxsim, big_account, recorder)
    ids, marker, pages = [], None, 0
    while True:
        page = client.users.get_users(usemarker=True, marker=marker, limit=1000)
        assert page.total_count is None  # marker paging does not count
        ids += [user.id for user in page.entries]
        pages += 1
        marker = page.next_marker
        if not marker:
            break
    assert pages == 3
    assert len(ids) == len(set(ids)) == USERS + 1
    assert ids == sorted(ids, key=int)
    first_page = client.users.get_users(usemarker=True)  # 100 by default
    assert len(first_page.entries) == 100
    assert [u.id for u in first_page.entries] == ids[:100]


def test_paging_limits(boxsim, big_account, recorder):
    api = Api(boxsim.url, recorder, big_account)
    assert len(api.get("/2.0/users", params={"limit": 5000}).json()["entries"]) == 1000
    last = api.get("/2.0/users", params={"offset": 10_000})
    assert (last.status_code, last.json()["entries"]) == (200, [])
    over = api.get("/2.0/users", params={"offset": 10_001})
    assert (over.status_code, over.json()["code"]) == (400, "bad_request")
    assert api.get("/2.0/users", params={"offset": "x"}).json()["code"] == "invalid_offset"
    assert api.get("/2.0/users", params={"limit": "x"}).json()["code"] == "invalid_limit"
    bad_marker = api.get("/2.0/users", params={"usemarker": "true", "marker": "nonsense"})
    assert (bad_marker.status_code, bad_marker.json()["code"]) == (400, "bad_request")
    by_login = api.get("/2.0/users", params={"filter_term": "user0100", "fields": "login"})
    assert [u["login"] for u in by_login.json()["entries"]] == [
        f"user{n:05d}@bulk-{big_account['enterprise_id']}.example.com" for n in range(1000, 1010)
    ]

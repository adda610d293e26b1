"""Box's SDK against the simulator: groups and group memberships."""

import pytest
from box_sdk_gen import (
    BoxAPIError,
    CreateGroupInvitabilityLevel,
    CreateGroupMembershipGroup,
    CreateGroupMembershipRole,
    CreateGroupMembershipUser,
    UpdateGroupMembershipByIdRole,
)

from tests.boxsim.conftest import login_for
from tests.boxsim.test_sdk_users import api_error


def test_group_lifecycle(client):
    group = client.groups.create_group(
        "Engineering",
        description="Builders",
        invitability_level=CreateGroupInvitabilityLevel.ALL_MANAGED_USERS,
        fields=["name", "description", "invitability_level", "member_viewability_level"],
    )
    assert group.id.isdigit()
    assert (group.name, group.description) == ("Engineering", "Builders")
    assert group.invitability_level.value == "all_managed_users"
    assert group.member_viewability_level.value == "admins_only"

    fetched = client.groups.get_group_by_id(group.id)
    assert (fetched.name, fetched.group_type.value) == ("Engineering", "managed_group")
    assert fetched.created_at is not None

    renamed = client.groups.update_group_by_id(group.id, name="Platform Engineering")
    assert renamed.name == "Platform Engineering"
    client.groups.create_group("Sales")
    listing = client.groups.get_groups()
    assert (listing.total_count, [g.name for g in listing.entries]) == (
        2,
        ["Platform Engineering", "Sales"],
    )
    assert [g.name for g in client.groups.get_groups(filter_term="plat").entries] == [
        "Platform Engineering"
    ]

    client.groups.delete_group_by_id(group.id)
    with pytest.raises(BoxAPIError) as excinfo:
        client.groups.get_group_by_id(group.id)
    assert api_error(excinfo) == (404, "not_found")
    assert client.groups.get_groups().total_count == 1


def test_group_names_are_unique_in_an_enterprise(client):
    client.groups.create_group("Finance")
    other = client.groups.create_group("Legal")
    with pytest.raises(BoxAPIError) as excinfo:
        client.groups.create_group("finance")
    assert api_error(excinfo) == (409, "conflict")
    with pytest.raises(BoxAPIError) as excinfo:
        client.groups.update_group_by_id(other.id, name="Finance")
    assert api_error(excinfo) == (409, "conflict")


def test_memberships(client, account):
    ada = client.users.create_user("Ada", login=login_for(account, "ada"))
    bob = client.users.create_user("Bob", login=login_for(account, "bob"))
    team = client.groups.create_group("Team")
    board = client.groups.create_group("Board")

    first = client.memberships.create_group_membership(
        CreateGroupMembershipUser(id=ada.id), CreateGroupMembershipGroup(id=team.id)
    )
    assert (first.user.id, first.group.id, first.role.value) == (ada.id, team.id, "member")
    assert first.user.login == login_for(account, "ada")
    client.memberships.create_group_membership(
        CreateGroupMembershipUser(id=bob.id),
        CreateGroupMembershipGroup(id=team.id),
        role=CreateGroupMembershipRole.ADMIN,
    )
    client.memberships.create_group_membership(
        CreateGroupMembershipUser(id=ada.id), CreateGroupMembershipGroup(id=board.id)
    )
    with pytest.raises(BoxAPIError) as excinfo:
        client.memberships.create_group_membership(
            CreateGroupMembershipUser(id=ada.id), CreateGroupMembershipGroup(id=team.id)
        )
    assert api_error(excinfo) == (409, "conflict")

    members = client.memberships.get_group_memberships(team.id)
    assert members.total_count == 2
    assert [(m.user.name, m.role.value) for m in members.entries] == [
        ("Ada", "member"),
        ("Bob", "admin"),
    ]
    groups_of_ada = client.memberships.get_user_memberships(ada.id)
    assert [m.group.name for m in groups_of_ada.entries] == ["Team", "Board"]

    promoted = client.memberships.update_group_membership_by_id(
        first.id, role=UpdateGroupMembershipByIdRole.ADMIN
    )
    assert promoted.role.value == "admin"
    assert client.memberships.get_group_membership_by_id(first.id).role.value == "admin"

    client.memberships.delete_group_membership_by_id(first.id)
    with pytest.raises(BoxAPIError) as excinfo:
        client.memberships.get_group_membership_by_id(first.id)
    assert api_error(excinfo) == (404, "not_found")
    assert client.memberships.get_group_memberships(team.id).total_count == 1

    # deleting a group or a user removes their memberships
    client.groups.delete_group_by_id(board.id)
    assert client.memberships.get_user_memberships(ada.id).total_count == 0
    client.users.delete_user_by_id(bob.id)
    assert client.memberships.get_group_memberships(team.id).total_count == 0


def test_memberships_need_users_and_groups_of_the_enterprise(boxsim, client, account, recorder):
    from tests.boxsim.conftest import new_account, sdk_client

    other = new_account(boxsim)
    stranger = sdk_client(boxsim, other, recorder).users.create_user(
        "Stranger", login=login_for(other, "stranger")
    )
    team = client.groups.create_group("Team")
    with pytest.raises(BoxAPIError) as excinfo:
        client.memberships.create_group_membership(
            CreateGroupMembershipUser(id=stranger.id), CreateGroupMembershipGroup(id=team.id)
        )
    assert api_error(excinfo) == (404, "not_found")
    with pytest.raises(BoxAPIError) as excinfo:
        client.memberships.get_group_memberships("999")
    assert api_error(excinfo) == (404, "not_found")
    with pytest.raises(BoxAPIError) as excinfo:
        client.memberships.get_user_memberships(stranger.id)
    assert api_error(excinfo) == (404, "not_found")

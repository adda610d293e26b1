"""Box's SDK against the simulator: the admin-logs event stream."""

from box_sdk_gen import (
    CreateGroupMembershipGroup,
    CreateGroupMembershipUser,
    GetEventsEventType,
    GetEventsStreamType,
    UpdateUserByIdRole,
)

from tests.boxsim.conftest import login_for

ADMIN_LOGS = GetEventsStreamType.ADMIN_LOGS


def test_user_and_group_changes_are_logged_in_order(client, account):
    start = client.events.get_events(stream_type=ADMIN_LOGS, stream_position="now")
    assert start.chunk_size == 0 and start.entries == []

    ada = client.users.create_user("Ada", login=login_for(account, "ada"))
    client.users.update_user_by_id(ada.id, job_title="CTO")
    client.users.update_user_by_id(ada.id, role=UpdateUserByIdRole.COADMIN)
    team = client.groups.create_group("Team")
    client.groups.update_group_by_id(team.id, description="The team")
    membership = client.memberships.create_group_membership(
        CreateGroupMembershipUser(id=ada.id), CreateGroupMembershipGroup(id=team.id)
    )
    client.memberships.delete_group_membership_by_id(membership.id)
    client.groups.delete_group_by_id(team.id)
    client.users.delete_user_by_id(ada.id)

    # read the stream from `now` in pages of three
    entries, position = [], start.next_stream_position
    pages = 0
    while True:
        page = client.events.get_events(
            stream_type=ADMIN_LOGS, stream_position=str(position), limit=3
        )
        if page.chunk_size == 0:
            assert str(page.next_stream_position) == str(position)
            break
        pages += 1
        entries += page.entries
        position = page.next_stream_position
    assert pages == 3
    assert [e.event_type.value for e in entries] == [
        "NEW_USER",
        "EDIT_USER",
        "CHANGE_ADMIN_ROLE",
        "GROUP_CREATION",
        "GROUP_EDITED",
        "GROUP_ADD_USER",
        "GROUP_REMOVE_USER",
        "GROUP_DELETION",
        "DELETE_USER",
    ]
    new_user = entries[0]
    assert new_user.created_by.id == account["service_account_id"]
    assert (new_user.source.id, new_user.source.login) == (ada.id, login_for(account, "ada"))
    assert entries[1].additional_details == {"fields_changed": ["job_title"]}
    assert entries[2].additional_details == {"old_role": "user", "new_role": "coadmin"}
    assert entries[5].additional_details["user"]["id"] == ada.id
    assert len({e.event_id for e in entries}) == 9


def test_filters_by_event_type_and_from_the_start(client, account):
    for name in ("a", "b", "c"):
        client.users.create_user(name.upper(), login=login_for(account, name))
    client.groups.create_group("G")
    everything = client.events.get_events(stream_type=ADMIN_LOGS, stream_position="0")
    # the app's authorisation, three users, one group
    assert [e.event_type.value for e in everything.entries] == [
        "ENTERPRISE_APP_AUTHORIZATION_UPDATE",
        "NEW_USER",
        "NEW_USER",
        "NEW_USER",
        "GROUP_CREATION",
    ]
    groups_only = client.events.get_events(
        stream_type=ADMIN_LOGS, event_type=[GetEventsEventType.GROUP_CREATION]
    )
    # Box's SDK reads a source of a type it does not know (here a group) as a User object
    assert [(e.source.type, e.source.name) for e in groups_only.entries] == [("group", "G")]


def test_user_streams_are_empty(client):
    events = client.events.get_events()
    assert (events.chunk_size, events.entries) == (0, [])

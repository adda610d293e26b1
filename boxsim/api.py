"""Box's API under /2.0/: users, groups, group memberships and the admin-logs event stream.

Each handler takes a `Context` (the caller's token, enterprise and service account) and the path
arguments, and returns a response or raises `ApiError`. Operation names are the `operationId`s
of Box's OpenAPI description.
"""

import base64
import json
import sqlite3
from dataclasses import dataclass

from werkzeug.wrappers import Request, Response

from boxsim import service
from boxsim.errors import ApiError, bad_parameter, json_response, not_found
from boxsim.plans import PLANS, UNLIMITED_SPACE, get_plan
from boxsim.store import Store, now

USER_MINI = ("type", "id", "name", "login")
USER_STANDARD = (
    *USER_MINI,
    "created_at",
    "modified_at",
    "language",
    "timezone",
    "space_amount",
    "space_used",
    "max_upload_size",
    "status",
    "job_title",
    "phone",
    "address",
    "avatar_url",
    "notification_email",
)
USER_FULL = (
    *USER_STANDARD,
    "role",
    "tracking_codes",
    "can_see_managed_users",
    "is_sync_enabled",
    "is_external_collab_restricted",
    "is_exempt_from_device_limits",
    "is_exempt_from_login_verification",
    "enterprise",
    "my_tags",
    "hostname",
    "is_platform_access_only",
    "external_app_user_id",
)
GROUP_MINI = ("type", "id", "name", "group_type")
GROUP_STANDARD = (*GROUP_MINI, "created_at", "modified_at")
GROUP_FULL = (
    *GROUP_STANDARD,
    "provenance",
    "external_sync_identifier",
    "description",
    "invitability_level",
    "member_viewability_level",
    "permissions",
)
USER_BOOLEANS = (
    "is_sync_enabled",
    "is_external_collab_restricted",
    "is_exempt_from_device_limits",
    "is_exempt_from_login_verification",
    "can_see_managed_users",
)
USER_STATUSES = ("active", "inactive", "cannot_delete_edit", "cannot_delete_edit_upload")
GROUP_LEVELS = ("admins_only", "admins_and_members", "all_managed_users")
STREAM_TYPES = ("all", "changes", "sync", "admin_logs", "admin_logs_streaming")

MAX_OFFSET = 10_000
FREE_USER_UPLOAD = get_plan("individual").max_upload_size


@dataclass
class Context:
    request: Request
    store: Store
    token: str
    client_id: str
    enterprise_id: int
    user_id: int

    @property
    def base_url(self) -> str:
        return self.request.host_url.rstrip("/")

    def enterprise(self, conn: sqlite3.Connection) -> sqlite3.Row:
        return service.enterprise_by_id(conn, self.enterprise_id)

    def actor(self, conn: sqlite3.Connection) -> sqlite3.Row:
        return service.user_by_id(conn, self.user_id)


# --- request parsing ---------------------------------------------------------------------------


def parse_bool(value, name: str, default: bool | None = None) -> bool | None:
    """Box takes `true`/`True`/`false`/`False` (the SDKs send Python's spelling)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_parameter(name, f"Invalid value '{value}'. '{name}' must be true or false.")


def parse_fields(request: Request) -> list[str] | None:
    raw = request.args.get("fields")
    if raw is None:
        return None
    fields = [field.strip() for field in raw.split(",") if field.strip()]
    return fields or None


def parse_paging(request: Request, default_limit: int, max_limit: int) -> tuple[int, int]:
    raw_offset = request.args.get("offset", "")
    raw_limit = request.args.get("limit", "")
    try:
        offset = int(raw_offset) if raw_offset != "" else 0
    except ValueError:
        raise ApiError(400, "invalid_offset", "Offset is not a valid number") from None
    try:
        limit = int(raw_limit) if raw_limit != "" else default_limit
    except ValueError:
        raise ApiError(400, "invalid_limit", "Limit is not a valid number") from None
    if offset < 0:
        raise ApiError(400, "invalid_offset", "Offset must not be negative")
    if offset > MAX_OFFSET:
        raise bad_parameter("offset", f"'offset' must not exceed {MAX_OFFSET}.")
    if limit < 1:
        raise ApiError(400, "invalid_limit", "Limit must be a positive number")
    return offset, min(limit, max_limit)


def json_body(request: Request) -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", "Could not parse JSON body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object")
    return body


def check_str(body: dict, name: str, max_length: int | None = None) -> str | None:
    if name not in body or body[name] is None:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise bad_parameter(name, f"'{name}' must be a string.")
    if max_length is not None and len(value) > max_length:
        raise bad_parameter(name, f"'{name}' is longer than {max_length} characters.")
    return value


def check_enum(body: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise bad_parameter(name, f"Invalid value '{value}'. Expected one of {', '.join(allowed)}.")
    return value


def check_tracking_codes(body: dict) -> str | None:
    codes = body.get("tracking_codes")
    if codes is None:
        return None
    if not isinstance(codes, list) or not all(
        isinstance(code, dict) and isinstance(code.get("name", ""), str) for code in codes
    ):
        raise bad_parameter("tracking_codes", "'tracking_codes' must be a list of objects.")
    return json.dumps(
        [
            {
                "type": "tracking_code",
                "name": str(c.get("name", "")),
                "value": str(c.get("value", "")),
            }
            for c in codes
        ]
    )


# --- representations -------------------------------------------------------------------------


def iso(ts: float) -> str:
    return service.iso(ts)


def select(values: dict, available: tuple[str, ...], mini: tuple[str, ...], standard, fields):
    """Box's `fields` rule: without it the standard set, with it the mini set plus the asked."""
    if fields is None:
        names = standard
    else:
        names = [*mini, *(f for f in fields if f in available and f not in mini)]
    out = {}
    for name in names:
        value = values[name]() if callable(values[name]) else values[name]
        if value is not None or name == "notification_email":
            out[name] = value
    return out


def user_json(
    user: sqlite3.Row,
    enterprise: sqlite3.Row | None,
    base_url: str,
    fields: list[str] | None = None,
) -> dict:
    space_amount = UNLIMITED_SPACE if user["space_amount"] < 0 else user["space_amount"]
    if enterprise is not None and enterprise["id"] == user["enterprise_id"]:
        upload = PLANS[enterprise["plan"]].max_upload_size
        enterprise_json = {
            "type": "enterprise",
            "id": str(enterprise["id"]),
            "name": enterprise["name"],
        }
    else:
        upload = FREE_USER_UPLOAD
        enterprise_json = None
    values = {
        "type": "user",
        "id": str(user["id"]),
        "name": user["name"],
        "login": user["login"],
        "created_at": iso(user["created_at"]),
        "modified_at": iso(user["modified_at"]),
        "language": user["language"],
        "timezone": user["timezone"],
        "space_amount": space_amount,
        "space_used": user["space_used"],
        "max_upload_size": upload,
        "status": user["status"],
        "job_title": user["job_title"],
        "phone": user["phone"],
        "address": user["address"],
        "avatar_url": f"{base_url}/api/avatar/large/{user['id']}",
        "notification_email": lambda: (
            {**json.loads(user["notification_email"]), "is_confirmed": False}
            if user["notification_email"]
            else None
        ),
        "role": user["role"],
        "tracking_codes": lambda: json.loads(user["tracking_codes"]),
        "can_see_managed_users": bool(user["can_see_managed_users"]),
        "is_sync_enabled": bool(user["is_sync_enabled"]),
        "is_external_collab_restricted": bool(user["is_external_collab_restricted"]),
        "is_exempt_from_device_limits": bool(user["is_exempt_from_device_limits"]),
        "is_exempt_from_login_verification": bool(user["is_exempt_from_login_verification"]),
        "enterprise": enterprise_json,
        "my_tags": [],
        "hostname": f"{base_url}/",
        "is_platform_access_only": user["kind"] == "app",
        "external_app_user_id": user["external_app_user_id"],
    }
    return select(values, USER_FULL, USER_MINI, USER_STANDARD, fields)


def group_json(group: sqlite3.Row, fields: list[str] | None = None) -> dict:
    values = {
        "type": "group",
        "id": str(group["id"]),
        "name": group["name"],
        "group_type": "managed_group",
        "created_at": iso(group["created_at"]),
        "modified_at": iso(group["modified_at"]),
        "provenance": group["provenance"],
        "external_sync_identifier": group["external_sync_identifier"],
        "description": group["description"],
        "invitability_level": group["invitability_level"],
        "member_viewability_level": group["member_viewability_level"],
        "permissions": {"can_invite_as_collaborator": True},
    }
    return select(values, GROUP_FULL, GROUP_MINI, GROUP_STANDARD, fields)


def membership_json(row: sqlite3.Row) -> dict:
    return {
        "type": "group_membership",
        "id": str(row["id"]),
        "user": {
            "type": "user",
            "id": str(row["user_id"]),
            "name": row["user_name"],
            "login": row["user_login"],
        },
        "group": {
            "type": "group",
            "id": str(row["group_id"]),
            "name": row["group_name"],
            "group_type": "managed_group",
        },
        "role": row["role"],
        "created_at": iso(row["created_at"]),
        "modified_at": iso(row["modified_at"]),
    }


MEMBERSHIP_SELECT = (
    "SELECT m.*, g.name AS group_name, u.name AS user_name, u.login AS user_login "
    "FROM memberships m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id "
)


# --- users ------------------------------------------------------------------------------------


def enterprise_user(conn, ctx: Context, user_id) -> sqlite3.Row:
    user = service.user_by_id(conn, user_id)
    if user is None or user["enterprise_id"] != ctx.enterprise_id:
        raise not_found()
    return user


def encode_marker(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"user:{last_id}".encode()).decode().rstrip("=")


def decode_marker(marker: str) -> int:
    try:
        padded = marker + "=" * (-len(marker) % 4)
        kind, _, last_id = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        if kind != "user":
            raise ValueError(kind)
        return int(last_id)
    except ValueError:
        raise bad_parameter("marker", "Invalid value for 'marker'.") from None


def like_prefix(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def get_users(ctx: Context) -> Response:
    args = ctx.request.args
    fields = parse_fields(ctx.request)
    user_type = args.get("user_type") or "all"
    if user_type not in ("all", "managed", "external"):
        raise bad_parameter("user_type", f"Invalid value '{user_type}' for 'user_type'.")
    usemarker = parse_bool(args.get("usemarker"), "usemarker", False)
    offset, limit = parse_paging(ctx.request, 100, 1000)
    filter_term = args.get("filter_term") or None
    external_app_user_id = args.get("external_app_user_id") or None

    managed = ["enterprise_id = ?", "kind IN ('managed', 'app')"]
    managed_params: list = [ctx.enterprise_id]
    if filter_term:
        managed.append("(name LIKE ? ESCAPE '\\' OR login_lc LIKE ? ESCAPE '\\')")
        managed_params += [like_prefix(filter_term), like_prefix(filter_term.lower())]
    if external_app_user_id:
        managed.append("external_app_user_id = ?")
        managed_params.append(external_app_user_id)
    clauses, params = [], []
    if user_type in ("all", "managed"):
        clauses.append("(" + " AND ".join(managed) + ")")
        params += managed_params
    if user_type in ("all", "external") and filter_term and not external_app_user_id:
        clauses.append(
            "(kind = 'managed' AND login_lc = ? AND (enterprise_id IS NULL OR enterprise_id != ?))"
        )
        params += [filter_term.strip().lower(), ctx.enterprise_id]
    where = " OR ".join(clauses) if clauses else "0"

    with ctx.store.read() as conn:
        enterprise = ctx.enterprise(conn)
        if usemarker:
            marker = args.get("marker")
            after = decode_marker(marker) if marker else 0
            rows = conn.execute(
                f"SELECT * FROM users WHERE ({where}) AND id > ? ORDER BY id LIMIT ?",  # noqa: S608
                (*params, after, limit + 1),
            ).fetchall()
            more = len(rows) > limit
            rows = rows[:limit]
            body = {
                "limit": limit,
                "next_marker": encode_marker(rows[-1]["id"]) if more else None,
                "entries": [user_json(r, enterprise, ctx.base_url, fields) for r in rows],
            }
        else:
            total = conn.execute(
                f"SELECT COUNT(*) FROM users WHERE {where}",  # noqa: S608
                params,
            ).fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM users WHERE {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
                (*params, limit, offset),
            ).fetchall()
            body = {
                "total_count": total,
                "limit": limit,
                "offset": offset,
                "entries": [user_json(r, enterprise, ctx.base_url, fields) for r in rows],
            }
    return json_response(body)


def user_values(body: dict, enterprise: sqlite3.Row) -> dict:
    """The optional user attributes of a create or update body, checked and in column form."""
    values = {}
    for name, max_length in service.FIELD_MAX.items():
        value = check_str(body, name, max_length)
        if value is not None:
            values[name] = value
    for name in ("language", "timezone"):
        value = check_str(body, name, 64)
        if value is not None:
            values[name] = value
    for name in (*USER_BOOLEANS, "is_password_reset_required"):
        if body.get(name) is not None:
            values[name] = int(parse_bool(body[name], name))
    status = check_enum(body, "status", USER_STATUSES)
    if status is not None:
        values["status"] = status
    if body.get("space_amount") is not None:
        values["space_amount"] = service.check_space_amount(enterprise, body["space_amount"])
    tracking = check_tracking_codes(body)
    if tracking is not None:
        values["tracking_codes"] = tracking
    external_id = check_str(body, "external_app_user_id", 255)
    if external_id is not None:
        values["external_app_user_id"] = external_id
    return values


def check_external_id_free(conn, enterprise_id: int, external_id, exclude: int | None = None):
    if external_id is None:
        return
    row = conn.execute(
        "SELECT id FROM users WHERE enterprise_id = ? AND external_app_user_id = ? AND id != ?",
        (enterprise_id, external_id, exclude or 0),
    ).fetchone()
    if row is not None:
        raise ApiError(409, "conflict", "A user already exists with this external_app_user_id")


def post_users(ctx: Context) -> Response:
    body = json_body(ctx.request)
    fields = parse_fields(ctx.request)
    name = service.check_name(body.get("name"))
    app_user = parse_bool(body.get("is_platform_access_only"), "is_platform_access_only", False)
    role = check_enum(body, "role", ("coadmin", "user")) or "user"
    with ctx.store.write() as conn:
        enterprise = ctx.enterprise(conn)
        values = user_values(body, enterprise)
        values.setdefault("space_amount", service.default_space_amount(enterprise["plan"]))
        status = values.pop("status", "active")
        space_amount = values.pop("space_amount")
        check_external_id_free(conn, enterprise["id"], values.get("external_app_user_id"))
        if app_user:
            login = service.app_user_login(enterprise["id"])
            kind, role = "app", "user"
        else:
            login = service.check_login(conn, body.get("login"))
            kind = "managed"
            if status != "inactive":
                service.require_seat(conn, enterprise)
        user = service.insert_user(
            conn,
            enterprise_id=enterprise["id"],
            kind=kind,
            login=login,
            name=name,
            role=role,
            status=status,
            space_amount=space_amount,
            client_id=ctx.client_id if app_user else None,
            email_verified=1,
            **values,
        )
        service.record_event(
            conn, enterprise["id"], "NEW_USER", ctx.actor(conn), service.user_mini(user)
        )
        result = user_json(user, enterprise, ctx.base_url, fields)
    return json_response(result, 201)


def get_users_me(ctx: Context) -> Response:
    fields = parse_fields(ctx.request)
    with ctx.store.read() as conn:
        user = ctx.actor(conn)
        result = user_json(user, ctx.enterprise(conn), ctx.base_url, fields)
    return json_response(result)


def get_users_id(ctx: Context, user_id: str) -> Response:
    fields = parse_fields(ctx.request)
    with ctx.store.read() as conn:
        user = enterprise_user(conn, ctx, user_id)
        result = user_json(user, ctx.enterprise(conn), ctx.base_url, fields)
    return json_response(result)


def put_users_id(ctx: Context, user_id: str) -> Response:
    body = json_body(ctx.request)
    fields = parse_fields(ctx.request)
    with ctx.store.write() as conn:
        enterprise = ctx.enterprise(conn)
        user = enterprise_user(conn, ctx, user_id)
        actor = ctx.actor(conn)
        values = user_values(body, enterprise)
        if "name" in body:
            values["name"] = service.check_name(body["name"])
        if "login" in body and user["kind"] != "app":
            login = service.check_login(conn, body["login"], exclude_user_id=user["id"])
            values["login"] = login
            values["login_lc"] = login.lower()
        role = check_enum(body, "role", ("coadmin", "user"))
        if role is not None:
            values["role"] = role
        if "notification_email" in body:
            email = body["notification_email"]
            if email is None:
                values["notification_email"] = None
            elif isinstance(email, dict) and service.EMAIL_RE.match(str(email.get("email", ""))):
                values["notification_email"] = json.dumps({"email": email["email"]})
            else:
                raise bad_parameter(
                    "notification_email", "'notification_email.email' must be an email address."
                )
        roll_out = "enterprise" in body and body["enterprise"] is None
        if "enterprise" in body and body["enterprise"] not in (None, str(enterprise["id"])):
            raise bad_parameter("enterprise", "'enterprise' can only be set to null.")
        protected = user["kind"] == "service" or user["role"] == "admin"
        if protected and (roll_out or "role" in values or "status" in values):
            raise ApiError(
                403,
                "access_denied_insufficient_permissions",
                "Access denied - insufficient permission",
            )
        if "external_app_user_id" in values:
            if user["kind"] == "app" and user["client_id"] != ctx.client_id:
                raise ApiError(
                    403,
                    "access_denied_insufficient_permissions",
                    "Only the application that created an app user can set its "
                    "external_app_user_id",
                )
            check_external_id_free(
                conn, enterprise["id"], values["external_app_user_id"], exclude=user["id"]
            )
        new_status = values.get("status", user["status"])
        if (
            user["kind"] == "managed"
            and user["status"] == "inactive"
            and new_status != "inactive"
            and not roll_out
        ):
            service.require_seat(conn, enterprise)
        changed = sorted(
            name for name, value in values.items() if name != "login_lc" and user[name] != value
        )
        if changed:
            values["modified_at"] = now()
        if roll_out:
            values["enterprise_id"] = None
            values["modified_at"] = now()
        if values:
            assignments = ", ".join(f"{name} = ?" for name in values)
            conn.execute(
                f"UPDATE users SET {assignments} WHERE id = ?",  # noqa: S608 - known columns
                (*values.values(), user["id"]),
            )
        updated = service.user_by_id(conn, user["id"])
        if "role" in changed:
            service.record_event(
                conn,
                enterprise["id"],
                "CHANGE_ADMIN_ROLE",
                actor,
                service.user_mini(updated),
                {"old_role": user["role"], "new_role": updated["role"]},
            )
        other_changes = [name for name in changed if name != "role"]
        if other_changes or roll_out:
            details = {"fields_changed": other_changes}
            if roll_out:
                details["removed_from_enterprise"] = True
            service.record_event(
                conn, enterprise["id"], "EDIT_USER", actor, service.user_mini(updated), details
            )
        result = user_json(updated, enterprise, ctx.base_url, fields)
    return json_response(result)


def delete_users_id(ctx: Context, user_id: str) -> Response:
    force = parse_bool(ctx.request.args.get("force"), "force", False)
    parse_bool(ctx.request.args.get("notify"), "notify", False)
    with ctx.store.write() as conn:
        user = enterprise_user(conn, ctx, user_id)
        service.delete_user(conn, user, ctx.actor(conn), force)
    return Response(status=204)


def get_users_id_memberships(ctx: Context, user_id: str) -> Response:
    offset, limit = parse_paging(ctx.request, 100, 1000)
    with ctx.store.read() as conn:
        user = enterprise_user(conn, ctx, user_id)
        total = conn.execute(
            "SELECT COUNT(*) FROM memberships WHERE user_id = ?", (user["id"],)
        ).fetchone()[0]
        rows = conn.execute(
            MEMBERSHIP_SELECT + "WHERE m.user_id = ? ORDER BY m.id LIMIT ? OFFSET ?",
            (user["id"], limit, offset),
        ).fetchall()
    return json_response(
        {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "entries": [membership_json(r) for r in rows],
        }
    )


# --- groups -----------------------------------------------------------------------------------


def enterprise_group(conn, ctx: Context, group_id) -> sqlite3.Row:
    group = service.group_by_id(conn, group_id)
    if group is None or group["enterprise_id"] != ctx.enterprise_id:
        raise not_found()
    return group


def group_values(body: dict) -> dict:
    values = {}
    for name, max_length in service.GROUP_FIELD_MAX.items():
        value = check_str(body, name, max_length)
        if value is not None:
            values[name] = value
    external = check_str(body, "external_sync_identifier", 255)
    if external is not None:
        values["external_sync_identifier"] = external
    for name in ("invitability_level", "member_viewability_level"):
        value = check_enum(body, name, GROUP_LEVELS)
        if value is not None:
            values[name] = value
    return values


def check_group_name(conn, enterprise_id: int, name, exclude: int = 0) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_parameter("name", "'name' is required.", "missing_parameter")
    name = name.strip()
    if len(name) > 255:
        raise bad_parameter("name", "'name' is longer than 255 characters.")
    taken = conn.execute(
        "SELECT id FROM groups WHERE enterprise_id = ? AND name_lc = ? AND id != ?",
        (enterprise_id, name.lower(), exclude),
    ).fetchone()
    if taken is not None:
        raise ApiError(409, "conflict", "A group with this name already exists")
    return name


def get_groups(ctx: Context) -> Response:
    fields = parse_fields(ctx.request)
    offset, limit = parse_paging(ctx.request, 100, 1000)
    where, params = "enterprise_id = ?", [ctx.enterprise_id]
    filter_term = ctx.request.args.get("filter_term")
    if filter_term:
        where += " AND name LIKE ? ESCAPE '\\'"
        params.append(like_prefix(filter_term))
    with ctx.store.read() as conn:
        total = conn.execute(
            f"SELECT COUNT(*) FROM groups WHERE {where}",  # noqa: S608
            params,
        ).fetchone()[0]
        rows = conn.execute(
            f"SELECT * FROM groups WHERE {where} ORDER BY id LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, offset),
        ).fetchall()
    return json_response(
        {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "entries": [group_json(r, fields) for r in rows],
        }
    )


def post_groups(ctx: Context) -> Response:
    body = json_body(ctx.request)
    fields = parse_fields(ctx.request)
    values = group_values(body)
    with ctx.store.write() as conn:
        name = check_group_name(conn, ctx.enterprise_id, body.get("name"))
        ts = now()
        columns = {
            "enterprise_id": ctx.enterprise_id,
            "name": name,
            "name_lc": name.lower(),
            "invitability_level": "admins_only",
            "member_viewability_level": "admins_only",
            **values,
            "created_at": ts,
            "modified_at": ts,
        }
        cur = conn.execute(
            f"INSERT INTO groups ({', '.join(columns)}) "  # noqa: S608 - known columns
            f"VALUES ({', '.join('?' for _ in columns)})",
            tuple(columns.values()),
        )
        group = service.group_by_id(conn, cur.lastrowid)
        service.record_event(
            conn,
            ctx.enterprise_id,
            "GROUP_CREATION",
            ctx.actor(conn),
            service.group_source(group["id"], group["name"]),
        )
        result = group_json(group, fields)
    return json_response(result, 201)


def get_groups_id(ctx: Context, group_id: str) -> Response:
    fields = parse_fields(ctx.request)
    with ctx.store.read() as conn:
        result = group_json(enterprise_group(conn, ctx, group_id), fields)
    return json_response(result)


def put_groups_id(ctx: Context, group_id: str) -> Response:
    body = json_body(ctx.request)
    fields = parse_fields(ctx.request)
    values = group_values(body)
    with ctx.store.write() as conn:
        group = enterprise_group(conn, ctx, group_id)
        if "name" in body:
            name = check_group_name(conn, ctx.enterprise_id, body["name"], exclude=group["id"])
            values.update(name=name, name_lc=name.lower())
        changed = sorted(n for n, v in values.items() if n != "name_lc" and group[n] != v)
        if changed:
            values["modified_at"] = now()
            assignments = ", ".join(f"{name} = ?" for name in values)
            conn.execute(
                f"UPDATE groups SET {assignments} WHERE id = ?",  # noqa: S608 - known columns
                (*values.values(), group["id"]),
            )
            group = service.group_by_id(conn, group["id"])
            service.record_event(
                conn,
                ctx.enterprise_id,
                "GROUP_EDITED",
                ctx.actor(conn),
                service.group_source(group["id"], group["name"]),
                {"fields_changed": changed},
            )
        result = group_json(group, fields)
    return json_response(result)


def delete_groups_id(ctx: Context, group_id: str) -> Response:
    with ctx.store.write() as conn:
        group = enterprise_group(conn, ctx, group_id)
        conn.execute("DELETE FROM memberships WHERE group_id = ?", (group["id"],))
        conn.execute("DELETE FROM groups WHERE id = ?", (group["id"],))
        service.record_event(
            conn,
            ctx.enterprise_id,
            "GROUP_DELETION",
            ctx.actor(conn),
            service.group_source(group["id"], group["name"]),
        )
    return Response(status=204)


def get_groups_id_memberships(ctx: Context, group_id: str) -> Response:
    offset, limit = parse_paging(ctx.request, 100, 1000)
    with ctx.store.read() as conn:
        group = enterprise_group(conn, ctx, group_id)
        total = conn.execute(
            "SELECT COUNT(*) FROM memberships WHERE group_id = ?", (group["id"],)
        ).fetchone()[0]
        rows = conn.execute(
            MEMBERSHIP_SELECT + "WHERE m.group_id = ? ORDER BY m.id LIMIT ? OFFSET ?",
            (group["id"], limit, offset),
        ).fetchall()
    return json_response(
        {
            "total_count": total,
            "limit": limit,
            "offset": offset,
            "entries": [membership_json(r) for r in rows],
        }
    )


# --- group memberships ------------------------------------------------------------------------


def reference_id(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, dict) or value.get("id") in (None, ""):
        raise bad_parameter(f"{name}.id", f"'{name}.id' is required.", "missing_parameter")
    return str(value["id"])


def check_permissions(body: dict):
    if "configurable_permissions" not in body:
        return None, False
    permissions = body["configurable_permissions"]
    if permissions is None:
        return None, True
    if not isinstance(permissions, dict) or not all(
        isinstance(v, bool) for v in permissions.values()
    ):
        raise bad_parameter(
            "configurable_permissions", "'configurable_permissions' must map names to booleans."
        )
    return json.dumps(permissions), True


def enterprise_membership(conn, ctx: Context, membership_id) -> sqlite3.Row:
    membership = service.membership_by_id(conn, membership_id)
    if membership is None or membership["enterprise_id"] != ctx.enterprise_id:
        raise not_found()
    return membership


def membership_row(conn, membership_id: int) -> sqlite3.Row:
    return conn.execute(MEMBERSHIP_SELECT + "WHERE m.id = ?", (membership_id,)).fetchone()


def post_group_memberships(ctx: Context) -> Response:
    body = json_body(ctx.request)
    user_id = reference_id(body, "user")
    group_id = reference_id(body, "group")
    role = check_enum(body, "role", ("member", "admin")) or "member"
    permissions, _ = check_permissions(body)
    with ctx.store.write() as conn:
        user = enterprise_user(conn, ctx, user_id)
        group = enterprise_group(conn, ctx, group_id)
        taken = conn.execute(
            "SELECT id FROM memberships WHERE group_id = ? AND user_id = ?",
            (group["id"], user["id"]),
        ).fetchone()
        if taken is not None:
            raise ApiError(409, "conflict", "User is already a member of this group")
        ts = now()
        cur = conn.execute(
            "INSERT INTO memberships (group_id, user_id, role, configurable_permissions, "
            "created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?)",
            (group["id"], user["id"], role, permissions, ts, ts),
        )
        service.record_event(
            conn,
            ctx.enterprise_id,
            "GROUP_ADD_USER",
            ctx.actor(conn),
            service.group_source(group["id"], group["name"]),
            {"user": service.user_mini(user), "group_membership_id": str(cur.lastrowid)},
        )
        result = membership_json(membership_row(conn, cur.lastrowid))
    return json_response(result, 201)


def get_group_memberships_id(ctx: Context, group_membership_id: str) -> Response:
    with ctx.store.read() as conn:
        membership = enterprise_membership(conn, ctx, group_membership_id)
        result = membership_json(membership_row(conn, membership["id"]))
    return json_response(result)


def put_group_memberships_id(ctx: Context, group_membership_id: str) -> Response:
    body = json_body(ctx.request)
    role = check_enum(body, "role", ("member", "admin"))
    permissions, permissions_given = check_permissions(body)
    with ctx.store.write() as conn:
        membership = enterprise_membership(conn, ctx, group_membership_id)
        values = {}
        if role is not None and role != membership["role"]:
            values["role"] = role
        if permissions_given:
            values["configurable_permissions"] = permissions
        if values:
            values["modified_at"] = now()
            assignments = ", ".join(f"{name} = ?" for name in values)
            conn.execute(
                f"UPDATE memberships SET {assignments} WHERE id = ?",  # noqa: S608
                (*values.values(), membership["id"]),
            )
        result = membership_json(membership_row(conn, membership["id"]))
    return json_response(result)


def delete_group_memberships_id(ctx: Context, group_membership_id: str) -> Response:
    with ctx.store.write() as conn:
        membership = enterprise_membership(conn, ctx, group_membership_id)
        conn.execute("DELETE FROM memberships WHERE id = ?", (membership["id"],))
        service.record_event(
            conn,
            ctx.enterprise_id,
            "GROUP_REMOVE_USER",
            ctx.actor(conn),
            service.group_source(membership["group_id"], membership["group_name"]),
            {
                "user": {
                    "type": "user",
                    "id": str(membership["user_id"]),
                    "name": membership["user_name"],
                    "login": membership["user_login"],
                },
                "group_membership_id": str(membership["id"]),
            },
        )
    return Response(status=204)


# --- events -----------------------------------------------------------------------------------


def event_json(row: sqlite3.Row) -> dict:
    event = {
        "type": "event",
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "created_at": iso(row["created_at"]),
        "recorded_at": iso(row["created_at"]),
        "created_by": json.loads(row["created_by"]),
    }
    if row["source"] is not None:
        event["source"] = json.loads(row["source"])
    if row["additional_details"] is not None:
        event["additional_details"] = json.loads(row["additional_details"])
    return event


def parse_time(request: Request, name: str) -> float | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return service.parse_iso(raw)
    except ValueError:
        raise bad_parameter(
            name, f"'{name}' must be a date-time such as 2024-01-31T09:00:00Z."
        ) from None


def get_events(ctx: Context) -> Response:
    args = ctx.request.args
    stream_type = args.get("stream_type") or "all"
    if stream_type not in STREAM_TYPES:
        raise bad_parameter("stream_type", f"Invalid value '{stream_type}' for 'stream_type'.")
    raw_limit = args.get("limit", "")
    try:
        limit = int(raw_limit) if raw_limit else 100
    except ValueError:
        raise ApiError(400, "invalid_limit", "Limit is not a valid number") from None
    if limit < 1:
        raise ApiError(400, "invalid_limit", "Limit must be a positive number")
    limit = min(limit, 500)
    position = args.get("stream_position") or "0"
    if position != "now" and not position.isdigit():
        raise bad_parameter("stream_position", f"Invalid value '{position}' for 'stream_position'.")
    created_after = parse_time(ctx.request, "created_after")
    created_before = parse_time(ctx.request, "created_before")
    event_types = [t.strip() for t in (args.get("event_type") or "").split(",") if t.strip()]

    if stream_type not in ("admin_logs", "admin_logs_streaming"):
        # The simulator holds no files, so a user's own streams are always empty.
        next_position = "0" if position == "now" else position
        return json_response(
            {"chunk_size": 0, "next_stream_position": next_position, "entries": []}
        )

    with ctx.store.read() as conn:
        latest = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE enterprise_id = ?",
            (ctx.enterprise_id,),
        ).fetchone()[0]
        if position == "now":
            return json_response(
                {"chunk_size": 0, "next_stream_position": str(latest), "entries": []}
            )
        where, params = "enterprise_id = ? AND seq > ?", [ctx.enterprise_id, int(position)]
        if event_types:
            where += f" AND event_type IN ({', '.join('?' for _ in event_types)})"
            params += event_types
        if created_after is not None:
            where += " AND created_at >= ?"
            params.append(created_after)
        if created_before is not None:
            where += " AND created_at <= ?"
            params.append(created_before)
        rows = conn.execute(
            f"SELECT * FROM events WHERE {where} ORDER BY seq LIMIT ?",  # noqa: S608
            (*params, limit),
        ).fetchall()
    next_position = str(rows[-1]["seq"]) if rows else position
    return json_response(
        {
            "chunk_size": len(rows),
            "next_stream_position": next_position,
            "entries": [event_json(r) for r in rows],
        }
    )


HANDLERS = {
    "get_users": get_users,
    "post_users": post_users,
    "get_users_me": get_users_me,
    "get_users_id": get_users_id,
    "put_users_id": put_users_id,
    "delete_users_id": delete_users_id,
    "get_users_id_memberships": get_users_id_memberships,
    "get_groups": get_groups,
    "post_groups": post_groups,
    "get_groups_id": get_groups_id,
    "put_groups_id": put_groups_id,
    "delete_groups_id": delete_groups_id,
    "get_groups_id_memberships": get_groups_id_memberships,
    "post_group_memberships": post_group_memberships,
    "get_group_memberships_id": get_group_memberships_id,
    "put_group_memberships_id": put_group_memberships_id,
    "delete_group_memberships_id": delete_group_memberships_id,
    "get_events": get_events,
}

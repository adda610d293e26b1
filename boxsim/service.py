"""The simulator's domain: enterprises, users, groups, apps, tokens, events and mail.

Every function takes an open connection from `Store.read()` or `Store.write()`; those that
change state expect a write transaction. Rule violations raise `ApiError` in Box's terms, which
the API answers as they are and the web pages turn into a message.
"""

import datetime
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import string
import uuid

from boxsim.errors import ApiError, bad_parameter
from boxsim.plans import PLANS, UNLIMITED_SPACE, get_plan
from boxsim.store import now

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

NAME_MAX = 50
FIELD_MAX = {"job_title": 100, "phone": 100, "address": 255}
GROUP_FIELD_MAX = {"provenance": 255, "description": 255}

# Users that take a seat: managed users whose status is not `inactive`.
SEAT_TAKING = "kind = 'managed' AND status != 'inactive'"


def random_string(length: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(int(ts), datetime.UTC).isoformat()


def parse_iso(value: str) -> float:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20_000).hex()
    return f"{salt}${digest}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or "$" not in stored:
        return False
    salt = stored.split("$", 1)[0]
    return hmac.compare_digest(hash_password(password, salt), stored)


# --- enterprises -------------------------------------------------------------------------------


def enterprise_by_id(conn: sqlite3.Connection, enterprise_id) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM enterprises WHERE id = ?", (enterprise_id,)).fetchone()


def seats_used(conn: sqlite3.Connection, enterprise_id: int) -> int:
    return conn.execute(
        f"SELECT COUNT(*) FROM users WHERE enterprise_id = ? AND {SEAT_TAKING}",  # noqa: S608
        (enterprise_id,),
    ).fetchone()[0]


def storage_used(conn: sqlite3.Connection, enterprise_id: int) -> int:
    return conn.execute(
        "SELECT COALESCE(SUM(space_used), 0) FROM users WHERE enterprise_id = ?", (enterprise_id,)
    ).fetchone()[0]


def default_space_amount(plan_code: str) -> int:
    storage = get_plan(plan_code).storage
    return -1 if storage is None else storage


def check_plan_and_seats(plan_code: str, seats) -> int:
    if plan_code not in PLANS:
        raise bad_parameter("plan", f"Unknown plan '{plan_code}'.")
    try:
        seats = int(seats)
    except (TypeError, ValueError):
        raise bad_parameter("seats", "The number of seats must be a whole number.") from None
    plan = get_plan(plan_code)
    if not plan.seats_ok(seats):
        raise bad_parameter(
            "seats", f"The {plan.name} plan takes {plan.seat_range()} seats, not {seats}."
        )
    return seats


def create_enterprise(
    conn: sqlite3.Connection,
    *,
    name: str,
    plan: str,
    seats,
    admin_name: str,
    admin_login: str,
    password: str,
    verified: bool,
) -> tuple[sqlite3.Row, sqlite3.Row]:
    seats = check_plan_and_seats(plan, seats)
    name = (name or "").strip()
    if not name:
        raise bad_parameter("name", "The account needs a name.", "missing_parameter")
    ts = now()
    cur = conn.execute(
        "INSERT INTO enterprises (name, plan, seats, status, created_at, modified_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (name, plan, seats, "active" if verified else "pending", ts, ts),
    )
    enterprise_id = cur.lastrowid
    admin = insert_user(
        conn,
        enterprise_id=enterprise_id,
        kind="managed",
        login=admin_login,
        name=admin_name,
        role="admin",
        space_amount=default_space_amount(plan),
        password_hash=hash_password(password),
        email_verified=1 if verified else 0,
    )
    conn.execute(
        "UPDATE enterprises SET admin_user_id = ? WHERE id = ?", (admin["id"], enterprise_id)
    )
    return enterprise_by_id(conn, enterprise_id), admin


def change_plan(conn: sqlite3.Connection, enterprise: sqlite3.Row, plan_code: str, seats) -> None:
    seats = check_plan_and_seats(plan_code, seats)
    plan = get_plan(plan_code)
    used = seats_used(conn, enterprise["id"])
    if seats < used:
        raise bad_parameter(
            "seats",
            f"{used} users hold a seat; deactivate or delete users before going down to {seats}.",
        )
    if plan.storage is not None and storage_used(conn, enterprise["id"]) > plan.storage:
        raise bad_parameter("plan", f"The account stores more than the {plan.name} plan holds.")
    old_default = default_space_amount(enterprise["plan"])
    new_default = default_space_amount(plan_code)
    ts = now()
    conn.execute(
        "UPDATE users SET space_amount = ?, modified_at = ? "
        "WHERE enterprise_id = ? AND space_amount = ?",
        (new_default, ts, enterprise["id"], old_default),
    )
    if plan.storage is not None:
        conn.execute(
            "UPDATE users SET space_amount = ?, modified_at = ? "
            "WHERE enterprise_id = ? AND (space_amount = -1 OR space_amount > ?)",
            (plan.storage, ts, enterprise["id"], plan.storage),
        )
    conn.execute(
        "UPDATE enterprises SET plan = ?, seats = ?, modified_at = ? WHERE id = ?",
        (plan_code, seats, ts, enterprise["id"]),
    )


def cancel_enterprise(conn: sqlite3.Connection, enterprise: sqlite3.Row) -> None:
    ts = now()
    conn.execute(
        "UPDATE enterprises SET status = 'cancelled', cancelled_at = ?, modified_at = ? "
        "WHERE id = ?",
        (ts, ts, enterprise["id"]),
    )
    conn.execute("DELETE FROM authorizations WHERE enterprise_id = ?", (enterprise["id"],))
    conn.execute("UPDATE tokens SET revoked = 1 WHERE enterprise_id = ?", (enterprise["id"],))
    conn.execute(
        "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE enterprise_id = ?)",
        (enterprise["id"],),
    )


# --- users ----------------------------------------------------------------------------------


def user_by_id(conn: sqlite3.Connection, user_id) -> sqlite3.Row | None:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    return conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()


def user_by_login(conn: sqlite3.Connection, login: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM users WHERE login_lc = ?", ((login or "").strip().lower(),)
    ).fetchone()


def user_mini(user: sqlite3.Row) -> dict:
    return {"type": "user", "id": str(user["id"]), "name": user["name"], "login": user["login"]}


def check_login(conn: sqlite3.Connection, login, exclude_user_id: int | None = None) -> str:
    if not isinstance(login, str) or not login.strip():
        raise bad_parameter("login", "'login' is required.", "missing_parameter")
    login = login.strip()
    if not EMAIL_RE.match(login) or len(login) > 255:
        raise bad_parameter("login", f"Invalid value '{login}'. 'login' must be an email address.")
    existing = user_by_login(conn, login)
    if existing is not None and existing["id"] != exclude_user_id:
        raise ApiError(
            409, "user_login_already_used", "User with the specified login already exists"
        )
    return login


def check_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_parameter("name", "'name' is required.", "missing_parameter")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise bad_parameter("name", f"'name' is longer than {NAME_MAX} characters.")
    return name


def insert_user(
    conn: sqlite3.Connection,
    *,
    enterprise_id: int | None,
    kind: str,
    login: str,
    name: str,
    role: str = "user",
    status: str = "active",
    space_amount: int = -1,
    **values,
) -> sqlite3.Row:
    ts = now()
    columns = {
        "enterprise_id": enterprise_id,
        "kind": kind,
        "login": login,
        "login_lc": login.lower(),
        "name": name,
        "role": role,
        "status": status,
        "language": values.pop("language", "en"),
        "timezone": values.pop("timezone", "America/Los_Angeles"),
        "space_amount": space_amount,
        "created_at": ts,
        "modified_at": ts,
        **values,
    }
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    try:
        cur = conn.execute(
            f"INSERT INTO users ({names}) VALUES ({marks})",  # noqa: S608 - known columns
            tuple(columns.values()),
        )
    except sqlite3.IntegrityError:
        raise ApiError(
            409, "user_login_already_used", "User with the specified login already exists"
        ) from None
    return user_by_id(conn, cur.lastrowid)


def require_seat(conn: sqlite3.Connection, enterprise: sqlite3.Row) -> None:
    used = seats_used(conn, enterprise["id"])
    if used >= enterprise["seats"]:
        raise ApiError(
            403,
            "seat_limit_exceeded",
            f"All {enterprise['seats']} seats of the enterprise are in use.",
            context_info={"seats": enterprise["seats"], "seats_used": used},
        )


def check_space_amount(enterprise: sqlite3.Row, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_parameter("space_amount", "'space_amount' must be an integer number of bytes.")
    if value == -1 or value >= UNLIMITED_SPACE:
        value = -1
    elif value < 0:
        raise bad_parameter("space_amount", "'space_amount' must be -1 or a number of bytes.")
    plan = get_plan(enterprise["plan"])
    if plan.storage is not None and (value == -1 or value > plan.storage):
        raise bad_parameter(
            "space_amount", f"The {plan.name} plan gives a user at most {plan.storage} bytes."
        )
    return value


def app_user_login(enterprise_id: int) -> str:
    return f"AppUser_{enterprise_id}_{random_string(10, LOWER_ALNUM)}@boxdevedition.com"


def service_account_login(enterprise_id: int) -> str:
    return f"AutomationUser_{enterprise_id}_{random_string(10, LOWER_ALNUM)}@boxdevedition.com"


def record_event(
    conn: sqlite3.Connection,
    enterprise_id: int,
    event_type: str,
    actor: sqlite3.Row | dict,
    source: dict | None = None,
    details: dict | None = None,
) -> None:
    created_by = actor if isinstance(actor, dict) else user_mini(actor)
    conn.execute(
        "INSERT INTO events (event_id, enterprise_id, event_type, created_at, created_by, "
        "source, additional_details) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            str(uuid.uuid4()),
            enterprise_id,
            event_type,
            now(),
            json.dumps(created_by),
            json.dumps(source) if source is not None else None,
            json.dumps(details) if details is not None else None,
        ),
    )


def delete_user(conn: sqlite3.Connection, user: sqlite3.Row, actor, force: bool) -> None:
    if user["kind"] == "service" or user["role"] == "admin":
        raise ApiError(
            403,
            "access_denied_insufficient_permissions",
            "Access denied - insufficient permission",
        )
    if user["space_used"] > 0 and not force:
        raise ApiError(
            403,
            "forbidden",
            "User still owns content. Transfer the content first or delete with force=true.",
            context_info={"space_used": user["space_used"]},
        )
    memberships = conn.execute(
        "SELECT m.id, g.id AS group_id, g.name FROM memberships m "
        "JOIN groups g ON g.id = m.group_id WHERE m.user_id = ?",
        (user["id"],),
    ).fetchall()
    conn.execute("DELETE FROM memberships WHERE user_id = ?", (user["id"],))
    conn.execute("UPDATE tokens SET revoked = 1 WHERE user_id = ?", (user["id"],))
    conn.execute("DELETE FROM web_sessions WHERE user_id = ?", (user["id"],))
    conn.execute("DELETE FROM users WHERE id = ?", (user["id"],))
    for membership in memberships:
        record_event(
            conn,
            user["enterprise_id"],
            "GROUP_REMOVE_USER",
            actor,
            group_source(membership["group_id"], membership["name"]),
            {"user": user_mini(user), "group_membership_id": str(membership["id"])},
        )
    record_event(conn, user["enterprise_id"], "DELETE_USER", actor, user_mini(user))


# --- groups ---------------------------------------------------------------------------------


def group_source(group_id, name: str) -> dict:
    return {"type": "group", "id": str(group_id), "name": name, "group_type": "managed_group"}


def group_by_id(conn: sqlite3.Connection, group_id) -> sqlite3.Row | None:
    try:
        group_id = int(group_id)
    except (TypeError, ValueError):
        return None
    return conn.execute("SELECT * FROM groups WHERE id = ?", (group_id,)).fetchone()


def membership_by_id(conn: sqlite3.Connection, membership_id) -> sqlite3.Row | None:
    try:
        membership_id = int(membership_id)
    except (TypeError, ValueError):
        return None
    return conn.execute(
        "SELECT m.*, g.enterprise_id AS enterprise_id, g.name AS group_name, "
        "u.name AS user_name, u.login AS user_login "
        "FROM memberships m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id "
        "WHERE m.id = ?",
        (membership_id,),
    ).fetchone()


# --- apps and tokens -----------------------------------------------------------------------


def app_by_client_id(conn: sqlite3.Connection, client_id) -> sqlite3.Row | None:
    if not isinstance(client_id, str):
        return None
    return conn.execute("SELECT * FROM apps WHERE client_id = ?", (client_id,)).fetchone()


def create_app(
    conn: sqlite3.Connection,
    name: str,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    owner_user_id: int | None = None,
) -> sqlite3.Row:
    client_id = client_id or random_string(32, LOWER_ALNUM)
    client_secret = client_secret or random_string(32)
    if app_by_client_id(conn, client_id) is not None:
        raise ApiError(409, "conflict", f"An app with client ID {client_id} already exists.")
    conn.execute(
        "INSERT INTO apps (client_id, client_secret, name, owner_user_id, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (client_id, client_secret, name, owner_user_id, now()),
    )
    return app_by_client_id(conn, client_id)


def add_public_key(conn: sqlite3.Connection, client_id: str, public_key_pem: str) -> str:
    key_id = random_string(8, LOWER_ALNUM)
    conn.execute(
        "INSERT INTO app_keys (key_id, client_id, public_key_pem, created_at) VALUES (?, ?, ?, ?)",
        (key_id, client_id, public_key_pem, now()),
    )
    return key_id


def authorization(conn: sqlite3.Connection, client_id: str, enterprise_id) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM authorizations WHERE client_id = ? AND enterprise_id = ?",
        (client_id, enterprise_id),
    ).fetchone()


def authorize_app(
    conn: sqlite3.Connection, app: sqlite3.Row, enterprise: sqlite3.Row, actor
) -> sqlite3.Row:
    """Authorise a platform app in an enterprise; returns the app's service account there."""
    existing = authorization(conn, app["client_id"], enterprise["id"])
    if existing is not None:
        return user_by_id(conn, existing["service_account_id"])
    service = conn.execute(
        "SELECT * FROM users WHERE kind = 'service' AND client_id = ? AND enterprise_id = ?",
        (app["client_id"], enterprise["id"]),
    ).fetchone()
    if service is None:
        service = insert_user(
            conn,
            enterprise_id=enterprise["id"],
            kind="service",
            login=service_account_login(enterprise["id"]),
            name=app["name"][:NAME_MAX],
            role="coadmin",
            space_amount=default_space_amount(enterprise["plan"]),
            client_id=app["client_id"],
        )
    conn.execute(
        "INSERT INTO authorizations (client_id, enterprise_id, service_account_id, authorized_at) "
        "VALUES (?, ?, ?, ?)",
        (app["client_id"], enterprise["id"], service["id"], now()),
    )
    record_event(
        conn,
        enterprise["id"],
        "ENTERPRISE_APP_AUTHORIZATION_UPDATE",
        actor,
        {"type": "app", "client_id": app["client_id"], "name": app["name"]},
        {"authorized": True},
    )
    return service


def deauthorize_app(conn: sqlite3.Connection, client_id: str, enterprise: sqlite3.Row, actor):
    conn.execute(
        "DELETE FROM authorizations WHERE client_id = ? AND enterprise_id = ?",
        (client_id, enterprise["id"]),
    )
    conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE client_id = ? AND enterprise_id = ?",
        (client_id, enterprise["id"]),
    )
    app = app_by_client_id(conn, client_id)
    record_event(
        conn,
        enterprise["id"],
        "ENTERPRISE_APP_AUTHORIZATION_UPDATE",
        actor,
        {"type": "app", "client_id": client_id, "name": app["name"] if app else ""},
        {"authorized": False},
    )


def issue_token(
    conn: sqlite3.Connection, client_id: str, enterprise_id: int, user_id: int, ttl: float
) -> tuple[str, int]:
    token = random_string(32)
    ts = now()
    conn.execute(
        "INSERT INTO tokens (token, client_id, enterprise_id, user_id, issued_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (token, client_id, enterprise_id, user_id, ts, ts + ttl),
    )
    return token, int(ttl)


def token_row(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM tokens WHERE token = ?", (token,)).fetchone()


# --- mail -------------------------------------------------------------------------------------


def send_mail(conn: sqlite3.Connection, to: str, subject: str, body: str, links: list[str]) -> None:
    conn.execute(
        "INSERT INTO mail (to_addr, subject, body, links, sent_at) VALUES (?, ?, ?, ?, ?)",
        (to, subject, body, json.dumps(links), now()),
    )

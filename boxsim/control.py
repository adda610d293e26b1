"""Test controls under /_sim/: never on Box's own paths. Requests and answers are JSON."""

import json
import secrets
import sqlite3

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from boxsim import service
from boxsim.errors import ApiError, json_response
from boxsim.faults import FaultRule
from boxsim.plans import get_plan
from boxsim.store import now


def _rule(path: str, methods: list[str], name: str) -> Rule:
    return Rule(path, methods=methods, endpoint=("sim", name))


RULES = [
    _rule("/_sim/health", ["GET"], "health"),
    _rule("/_sim/reset", ["POST"], "reset"),
    _rule("/_sim/enterprises", ["POST"], "create_enterprise"),
    _rule("/_sim/enterprises/<enterprise_id>", ["GET"], "get_enterprise"),
    _rule("/_sim/apps", ["POST"], "create_app"),
    _rule("/_sim/apps/<client_id>/keys", ["POST"], "add_key"),
    _rule("/_sim/users/bulk", ["POST"], "bulk_users"),
    _rule("/_sim/users/<user_id>/space_used", ["POST", "PUT"], "space_used"),
    _rule("/_sim/mail", ["GET"], "mail"),
    _rule("/_sim/faults", ["GET", "POST", "DELETE"], "faults"),
    _rule("/_sim/settings", ["GET", "POST"], "settings"),
    _rule("/_sim/tokens/expire", ["POST"], "expire_tokens"),
]

FAULT_FIELDS = {
    "error_500": float,
    "error_429": float,
    "timeout": float,
    "latency_ms": int,
    "retry_after": int,
    "timeout_seconds": float,
    "when": str,
    "max_faults": int,
    "seed": int,
}


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _body(request: Request) -> dict:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ControlError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def handle(sim, request: Request, name: str, args: dict) -> Response:
    try:
        return HANDLERS[name](sim, request, **args)
    except ControlError as error:
        return json_response({"error": str(error)}, error.status)
    except ApiError as error:
        body = {"error": error.message, "code": error.code}
        if error.context_info:
            body["detail"] = error.context_info
        return json_response(body, error.status)


def health(sim, request):
    return json_response({"ok": True})


def reset(sim, request):
    sim.reset()
    return json_response({"ok": True})


def _rsa_key_pair(passphrase: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def create_enterprise(sim, request):
    body = _body(request)
    name = str(body.get("name") or "Simulated Enterprise")
    plan = body.get("plan", "business")
    seats = body.get("seats", max(10, get_plan(plan).min_seats) if plan in service.PLANS else 10)
    suffix = service.random_string(8, service.LOWER_ALNUM)
    admin_login = body.get("admin_login") or f"admin-{suffix}@customer-{suffix}.example.com"
    admin_name = str(body.get("admin_name") or f"{name} Admin")[: service.NAME_MAX]
    password = str(body.get("admin_password") or "Password-1234")
    with sim.store.write() as conn:
        service.check_login(conn, admin_login)
        enterprise, admin = service.create_enterprise(
            conn,
            name=name,
            plan=plan,
            seats=seats,
            admin_name=admin_name,
            admin_login=admin_login,
            password=password,
            verified=True,
        )
        if body.get("client_id"):
            app = service.app_by_client_id(conn, body["client_id"])
            if app is None:
                raise ControlError(f"no app has client ID {body['client_id']}", 404)
        else:
            app = service.create_app(conn, str(body.get("app_name") or f"{name} connector"))
        service_account = service.authorize_app(conn, app, enterprise, admin)
        result = {
            "enterprise_id": str(enterprise["id"]),
            "name": enterprise["name"],
            "plan": enterprise["plan"],
            "seats": enterprise["seats"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "admin_login": admin["login"],
            "admin_password": password,
            "admin_user_id": str(admin["id"]),
            "service_account_id": str(service_account["id"]),
            "service_account_login": service_account["login"],
        }
        if body.get("jwt"):
            passphrase = secrets.token_hex(16)
            private_pem, public_pem = _rsa_key_pair(passphrase)
            key_id = service.add_public_key(conn, app["client_id"], public_pem)
            result["jwt_config"] = {
                "boxAppSettings": {
                    "clientID": app["client_id"],
                    "clientSecret": app["client_secret"],
                    "appAuth": {
                        "publicKeyID": key_id,
                        "privateKey": private_pem,
                        "passphrase": passphrase,
                    },
                },
                "enterpriseID": str(enterprise["id"]),
            }
    return json_response(result, 201)


def get_enterprise(sim, request, enterprise_id):
    with sim.store.read() as conn:
        enterprise = service.enterprise_by_id(conn, enterprise_id)
        if enterprise is None:
            raise ControlError(f"no enterprise {enterprise_id}", 404)
        admin = service.user_by_id(conn, enterprise["admin_user_id"])
        plan = get_plan(enterprise["plan"])
        apps = conn.execute(
            "SELECT client_id FROM authorizations WHERE enterprise_id = ? ORDER BY authorized_at",
            (enterprise["id"],),
        ).fetchall()
        return json_response(
            {
                "enterprise_id": str(enterprise["id"]),
                "name": enterprise["name"],
                "status": enterprise["status"],
                "plan": enterprise["plan"],
                "seats": enterprise["seats"],
                "seats_used": service.seats_used(conn, enterprise["id"]),
                "storage": plan.storage,
                "storage_used": service.storage_used(conn, enterprise["id"]),
                "max_upload_size": plan.max_upload_size,
                "admin_login": admin["login"] if admin else None,
                "authorized_apps": [row["client_id"] for row in apps],
            }
        )


def create_app(sim, request):
    body = _body(request)
    with sim.store.write() as conn:
        app = service.create_app(
            conn,
            str(body.get("name") or "Platform app"),
            client_id=body.get("client_id"),
            client_secret=body.get("client_secret"),
        )
        result = {
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "name": app["name"],
        }
    return json_response(result, 201)


def add_key(sim, request, client_id):
    body = _body(request)
    pem = body.get("public_key")
    if not isinstance(pem, str):
        raise ControlError("'public_key' (PEM) is required")
    try:
        serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise ControlError("'public_key' is not a PEM public key") from None
    with sim.store.write() as conn:
        if service.app_by_client_id(conn, client_id) is None:
            raise ControlError(f"no app has client ID {client_id}", 404)
        key_id = service.add_public_key(conn, client_id, pem)
    return json_response({"public_key_id": key_id}, 201)


def bulk_users(sim, request):
    """Create many managed users at once, as if each had been created through the API."""
    body = _body(request)
    count = body.get("count")
    if not isinstance(count, int) or not 1 <= count <= 100_000:
        raise ControlError("'count' must be a whole number from 1 to 100000")
    prefix = str(body.get("name_prefix") or "User")
    with sim.store.write() as conn:
        enterprise = service.enterprise_by_id(conn, body.get("enterprise_id"))
        if enterprise is None:
            raise ControlError("'enterprise_id' names no enterprise", 404)
        domain = str(body.get("login_domain") or f"bulk-{enterprise['id']}.example.com")
        free = enterprise["seats"] - service.seats_used(conn, enterprise["id"])
        if count > free:
            raise ControlError(f"only {free} seats are free", 403)
        service_account = conn.execute(
            "SELECT * FROM users WHERE enterprise_id = ? AND kind = 'service' ORDER BY id LIMIT 1",
            (enterprise["id"],),
        ).fetchone()
        actor = service_account or service.user_by_id(conn, enterprise["admin_user_id"])
        start = conn.execute(
            "SELECT COUNT(*) FROM users WHERE login_lc LIKE ?", (f"%@{domain.lower()}",)
        ).fetchone()[0]
        ts = now()
        space = service.default_space_amount(enterprise["plan"])
        rows = []
        for number in range(start + 1, start + count + 1):
            login = f"user{number:05d}@{domain}"
            rows.append(
                (
                    enterprise["id"],
                    "managed",
                    login,
                    login.lower(),
                    f"{prefix} {number:05d}",
                    "user",
                    "active",
                    "en",
                    "America/Los_Angeles",
                    space,
                    1,
                    ts,
                    ts,
                )
            )
        first = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'users'").fetchone()[0]
        try:
            conn.executemany(
                "INSERT INTO users (enterprise_id, kind, login, login_lc, name, role, status, "
                "language, timezone, space_amount, email_verified, created_at, modified_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        except sqlite3.IntegrityError:
            raise ControlError("a login of the batch is already used", 409) from None
        created = conn.execute(
            "SELECT * FROM users WHERE id > ? AND enterprise_id = ? ORDER BY id",
            (first, enterprise["id"]),
        ).fetchall()
        for user in created:
            service.record_event(conn, enterprise["id"], "NEW_USER", actor, service.user_mini(user))
    return json_response(
        {
            "created": len(created),
            "first_id": str(created[0]["id"]),
            "last_id": str(created[-1]["id"]),
            "logins": [created[0]["login"], created[-1]["login"]],
        },
        201,
    )


def space_used(sim, request, user_id):
    body = _body(request)
    value = body.get("space_used")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ControlError("'space_used' must be a whole number of bytes")
    with sim.store.write() as conn:
        user = service.user_by_id(conn, user_id)
        if user is None:
            raise ControlError(f"no user {user_id}", 404)
        conn.execute("UPDATE users SET space_used = ? WHERE id = ?", (value, user["id"]))
    return json_response({"user_id": str(user["id"]), "space_used": value})


def mail(sim, request):
    to = request.args.get("to")
    with sim.store.read() as conn:
        if to:
            rows = conn.execute(
                "SELECT * FROM mail WHERE lower(to_addr) = ? ORDER BY id", (to.lower(),)
            ).fetchall()
        else:
            rows = conn.execute("SELECT * FROM mail ORDER BY id").fetchall()
    return json_response(
        {
            "entries": [
                {
                    "id": str(row["id"]),
                    "to": row["to_addr"],
                    "subject": row["subject"],
                    "body": row["body"],
                    "links": json.loads(row["links"]),
                    "sent_at": service.iso(row["sent_at"]),
                }
                for row in rows
            ]
        }
    )


def faults(sim, request):
    if request.method == "DELETE":
        sim.faults.clear(request.args.get("operation"))
    elif request.method == "POST":
        body = _body(request)
        operation = body.pop("operation", None)
        if not isinstance(operation, str) or not operation:
            raise ControlError("'operation' (an operationId, or '*') is required")
        unknown = set(body) - set(FAULT_FIELDS)
        if unknown:
            raise ControlError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        values = {"seed": sim.settings.seed}
        for key, value in body.items():
            if value is None and key == "max_faults":
                continue
            try:
                values[key] = FAULT_FIELDS[key](value)
            except (TypeError, ValueError):
                raise ControlError(f"'{key}' has a wrong type") from None
        try:
            sim.faults.set(operation, FaultRule(**values))
        except ValueError as error:
            raise ControlError(str(error)) from None
    return json_response({"faults": sim.faults.as_dict()})


def settings(sim, request):
    if request.method == "POST":
        body = _body(request)
        current = sim.settings
        try:
            rate_limit = int(body.get("rate_limit", current.rate_limit))
            rate_window = float(body.get("rate_window", current.rate_window))
            token_ttl = float(body.get("token_ttl", current.token_ttl))
        except (TypeError, ValueError):
            raise ControlError("settings must be numbers") from None
        if rate_limit < 0 or rate_window <= 0 or token_ttl <= 0:
            raise ControlError("rate_limit >= 0, rate_window > 0 and token_ttl > 0")
        current.rate_limit, current.rate_window, current.token_ttl = (
            rate_limit,
            rate_window,
            token_ttl,
        )
        sim.limiter.configure(rate_limit, rate_window)
    s = sim.settings
    return json_response(
        {
            "rate_limit": s.rate_limit,
            "rate_window": s.rate_window,
            "token_ttl": s.token_ttl,
            "seed": s.seed,
        }
    )


def expire_tokens(sim, request):
    body = _body(request)
    where, params = ["revoked = 0", "expires_at > ?"], [now()]
    if body.get("enterprise_id"):
        where.append("enterprise_id = ?")
        params.append(int(body["enterprise_id"]))
    if body.get("client_id"):
        where.append("client_id = ?")
        params.append(body["client_id"])
    with sim.store.write() as conn:
        cur = conn.execute(
            f"UPDATE tokens SET expires_at = ? WHERE {' AND '.join(where)}",  # noqa: S608
            (now() - 1, *params),
        )
    return json_response({"expired": cur.rowcount})


HANDLERS = {
    "health": health,
    "reset": reset,
    "create_enterprise": create_enterprise,
    "get_enterprise": get_enterprise,
    "create_app": create_app,
    "add_key": add_key,
    "bulk_users": bulk_users,
    "space_used": space_used,
    "mail": mail,
    "faults": faults,
    "settings": settings,
    "expire_tokens": expire_tokens,
}

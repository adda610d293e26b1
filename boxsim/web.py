"""Box's web pages, as far as a reseller's browser driver needs them.

Sign-up with e-mail verification, login, the Admin Console (account details, platform app
authorisation, billing and cancellation) and a minimal Developer Console to create a platform
app. Plain server-rendered HTML with forms; every input has a <label>.
"""

import re
import secrets
from html import escape
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from boxsim import service
from boxsim.errors import ApiError
from boxsim.plans import PLANS, get_plan

SESSION_COOKIE = "boxsim_session"


def _rule(path: str, name: str, methods=("GET",)) -> Rule:
    return Rule(path, methods=list(methods), endpoint=("web", name))


RULES = [
    _rule("/", "home"),
    _rule("/signup", "signup", ("GET", "POST")),
    _rule("/signup/check-email", "check_email"),
    _rule("/signup/verify", "verify"),
    _rule("/login", "login", ("GET", "POST")),
    _rule("/logout", "logout", ("POST",)),
    _rule("/master", "console"),
    _rule("/master/platform-apps", "platform_apps"),
    _rule("/master/platform-apps/review", "review_app"),
    _rule("/master/platform-apps/authorize", "authorize_app", ("POST",)),
    _rule("/master/platform-apps/remove", "remove_app", ("POST",)),
    _rule("/master/billing", "billing", ("GET", "POST")),
    _rule("/master/billing/cancel", "cancel", ("GET", "POST")),
    _rule("/developers/console", "developer_console", ("GET", "POST")),
]

STYLE = """
body{font-family:sans-serif;margin:0;color:#222;background:#f7f8fa}
header{background:#0061d5;color:#fff;padding:12px 24px;display:flex;gap:18px;align-items:center}
header a,header button{color:#fff;background:none;border:0;font-size:15px;cursor:pointer}
.logo{font-weight:bold;font-size:22px;margin-right:24px}
main{max-width:760px;margin:24px auto;background:#fff;padding:24px 32px;border-radius:6px}
label{display:block;margin-top:14px;font-weight:bold}
input,select{padding:7px;width:100%;max-width:420px;box-sizing:border-box}
input[type=checkbox]{width:auto}
button.primary{margin-top:18px;background:#0061d5;color:#fff;border:0;padding:9px 18px;
border-radius:4px;font-size:15px;cursor:pointer}
.error{color:#b00020;font-weight:bold}.notice{color:#0a7a2f;font-weight:bold}
dl{display:grid;grid-template-columns:200px 1fr;gap:6px}dt{font-weight:bold}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:6px;text-align:left}
code{background:#eef;padding:2px 4px}
"""


def handle(sim, request: Request, name: str, args: dict) -> Response:
    return PAGES[name](sim, request, **args)


# --- helpers ----------------------------------------------------------------------------------


def page(title: str, content: str, *, admin=None, status: int = 200, error=None, notice=None):
    nav = ""
    if admin is not None:
        nav = (
            '<nav style="display:flex;gap:18px;align-items:center">'
            '<a href="/master">Admin Console</a>'
            '<a href="/master/platform-apps">Platform Apps</a>'
            '<a href="/master/billing">Billing</a>'
            '<a href="/developers/console">Developer Console</a>'
            '<form method="post" action="/logout" style="margin:0">'
            '<button type="submit">Log out</button></form></nav>'
        )
    messages = ""
    if error:
        messages += f'<p class="error" role="alert">{escape(error)}</p>'
    if notice:
        messages += f'<p class="notice" role="status">{escape(notice)}</p>'
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} | Box</title><style>{STYLE}</style></head><body>"
        f'<header><span class="logo">box</span>{nav}</header>'
        f"<main><h1>{escape(title)}</h1>{messages}{content}</main></body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


def field(label: str, name: str, *, type_="text", value="", extra="") -> str:
    return (
        f'<label for="{name}">{escape(label)}</label>'
        f'<input id="{name}" name="{name}" type="{type_}" value="{escape(str(value))}" {extra}>'
    )


def plan_select(selected: str, label: str = "Plan") -> str:
    options = "".join(
        f'<option value="{p.code}"{" selected" if p.code == selected else ""}>'
        f"{escape(p.name)} ({p.seat_range()} users, {p.storage_label()} storage)</option>"
        for p in PLANS.values()
    )
    return f'<label for="plan">{label}</label><select id="plan" name="plan">{options}</select>'


def current_admin(sim, request: Request):
    """The logged-in account admin and the enterprise, or (None, None)."""
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None, None
    with sim.store.read() as conn:
        row = conn.execute("SELECT user_id FROM web_sessions WHERE sid = ?", (sid,)).fetchone()
        if row is None:
            return None, None
        user = service.user_by_id(conn, row["user_id"])
        enterprise = service.enterprise_by_id(conn, user["enterprise_id"]) if user else None
    if user is None or enterprise is None or enterprise["status"] != "active":
        return None, None
    return user, enterprise


def login_required(view):
    def wrapper(sim, request: Request, **kwargs):
        admin, enterprise = current_admin(sim, request)
        if admin is None:
            target = request.full_path.rstrip("?")
            return redirect("/login?" + urlencode({"next": target}))
        return view(sim, request, admin, enterprise, **kwargs)

    return wrapper


def human_bytes(value: int | None) -> str:
    if value is None:
        return "Unlimited"
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value} B"


# --- sign-up, verification, login -----------------------------------------------------------


def home(sim, request):
    admin, _ = current_admin(sim, request)
    return redirect("/master" if admin else "/login")


def signup_form(values: dict) -> str:
    plan = values.get("plan") or "business"
    seats = values.get("seats") or str(get_plan(plan).min_seats if plan in PLANS else 3)
    return (
        '<form method="post" action="/signup">'
        + field("Full name", "name", value=values.get("name", ""), extra='maxlength="50" required')
        + field(
            "Email address", "email", type_="email", value=values.get("email", ""), extra="required"
        )
        + field("Password", "password", type_="password", extra="required")
        + field("Company name", "company", value=values.get("company", ""))
        + plan_select(plan)
        + field("Number of users", "seats", type_="number", value=seats, extra='min="1"')
        + '<button class="primary" type="submit">Sign up</button></form>'
        + '<p>Already have an account? <a href="/login">Log in</a></p>'
    )


def password_problem(password: str) -> str | None:
    if len(password) < 8:
        return "Your password must be at least 8 characters long."
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        return "Your password must contain at least one letter and one number."
    return None


def signup(sim, request: Request):
    if request.method == "GET":
        return page("Sign up for Box", signup_form({"plan": request.args.get("plan", "")}))
    form = request.form
    values = {k: form.get(k, "").strip() for k in ("name", "email", "company", "plan", "seats")}
    password = form.get("password", "")
    error = None
    if not values["name"]:
        error = "Enter your full name."
    elif len(values["name"]) > service.NAME_MAX:
        error = f"Your name can be at most {service.NAME_MAX} characters long."
    elif not service.EMAIL_RE.match(values["email"]):
        error = "Enter a valid email address."
    else:
        error = password_problem(password)
    if error is None:
        try:
            with sim.store.write() as conn:
                if service.user_by_login(conn, values["email"]) is not None:
                    raise ApiError(
                        409,
                        "user_login_already_used",
                        "An account already exists for this email address.",
                    )
                _, admin = service.create_enterprise(
                    conn,
                    name=values["company"] or values["name"],
                    plan=values["plan"],
                    seats=values["seats"],
                    admin_name=values["name"],
                    admin_login=values["email"],
                    password=password,
                    verified=False,
                )
                token = secrets.token_urlsafe(24)
                conn.execute(
                    "INSERT INTO email_verifications (token, user_id, created_at) VALUES (?, ?, ?)",
                    (token, admin["id"], service.now()),
                )
                link = f"{request.host_url.rstrip('/')}/signup/verify?token={token}"
                service.send_mail(
                    conn,
                    admin["login"],
                    "Verify your email address for Box",
                    f"Hi {admin['name']},\n\nThanks for signing up for Box. Confirm your email "
                    f"address to finish setting up your account:\n\n{link}\n\nIf you did not "
                    "sign up, you can ignore this message.\n",
                    [link],
                )
        except ApiError as problem:
            error = _form_error(problem)
    if error is not None:
        return page("Sign up for Box", signup_form(values), error=error, status=400)
    return redirect("/signup/check-email?" + urlencode({"email": values["email"]}), code=303)


def _form_error(problem: ApiError) -> str:
    errors = (problem.context_info or {}).get("errors") or []
    return errors[0]["message"] if errors else problem.message


def check_email(sim, request: Request):
    email = request.args.get("email", "")
    return page(
        "Check your email",
        f'<p>We sent a verification link to <strong id="signup-email">{escape(email)}</strong>. '
        "Open it to activate your account.</p>",
    )


def verify(sim, request: Request):
    token = request.args.get("token", "")
    with sim.store.write() as conn:
        row = conn.execute(
            "SELECT * FROM email_verifications WHERE token = ? AND used_at IS NULL", (token,)
        ).fetchone()
        user = service.user_by_id(conn, row["user_id"]) if row else None
        if user is None:
            return page(
                "Link not valid",
                "<p>This verification link is not valid or was already used.</p>"
                '<p><a href="/login">Log in</a></p>',
                status=400,
            )
        conn.execute(
            "UPDATE email_verifications SET used_at = ? WHERE token = ?", (service.now(), token)
        )
        conn.execute("UPDATE users SET email_verified = 1 WHERE id = ?", (user["id"],))
        conn.execute(
            "UPDATE enterprises SET status = 'active' WHERE id = ? AND status = 'pending'",
            (user["enterprise_id"],),
        )
    return page(
        "Email verified",
        f"<p>Your email address <strong>{escape(user['login'])}</strong> is verified. "
        'You can now log in.</p><p><a href="/login">Log in</a></p>',
    )


def login_form(login: str, next_url: str) -> str:
    return (
        f'<form method="post" action="/login?{urlencode({"next": next_url})}">'
        + field("Email address", "login", type_="email", value=login, extra="required")
        + field("Password", "password", type_="password", extra="required")
        + '<button class="primary" type="submit">Log In</button></form>'
        + '<p>New to Box? <a href="/signup">Sign up</a></p>'
    )


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else "/master"


def login(sim, request: Request):
    next_url = _safe_next(request.args.get("next", "/master"))
    if request.method == "GET":
        return page("Log in to Box", login_form("", next_url))
    login_value = request.form.get("login", "").strip()
    password = request.form.get("password", "")
    error = None
    with sim.store.write() as conn:
        user = service.user_by_login(conn, login_value)
        enterprise = service.enterprise_by_id(conn, user["enterprise_id"]) if user else None
        if user is None or not service.check_password(password, user["password_hash"]):
            error = "Invalid login credentials."
        elif not user["email_verified"]:
            error = "Verify your email address before logging in: we sent you a link."
        elif enterprise is None or enterprise["status"] == "cancelled":
            error = "This account has been cancelled."
        else:
            sid = secrets.token_urlsafe(24)
            conn.execute(
                "INSERT INTO web_sessions (sid, user_id, created_at) VALUES (?, ?, ?)",
                (sid, user["id"], service.now()),
            )
    if error is not None:
        return page("Log in to Box", login_form(login_value, next_url), error=error, status=400)
    response = redirect(next_url, code=303)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", path="/")
    return response


def logout(sim, request: Request):
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        with sim.store.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE sid = ?", (sid,))
    response = redirect("/login", code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- Admin Console -----------------------------------------------------------------------------


def account_summary(conn, enterprise) -> str:
    plan = get_plan(enterprise["plan"])
    used = service.seats_used(conn, enterprise["id"])
    storage = service.storage_used(conn, enterprise["id"])
    return (
        "<dl>"
        f'<dt>Enterprise name</dt><dd id="enterprise-name">{escape(enterprise["name"])}</dd>'
        f'<dt>Enterprise ID</dt><dd id="enterprise-id">{enterprise["id"]}</dd>'
        f'<dt>Plan</dt><dd id="account-plan" data-plan="{plan.code}">{escape(plan.name)}</dd>'
        f'<dt>Seats</dt><dd id="account-seats" data-seats="{enterprise["seats"]}" '
        f'data-seats-used="{used}">{used} of {enterprise["seats"]} in use</dd>'
        f'<dt>Storage</dt><dd id="storage">{human_bytes(storage)} of '
        f"{human_bytes(plan.storage)} used</dd>"
        f'<dt>Maximum upload size</dt><dd id="max-upload">{human_bytes(plan.max_upload_size)}</dd>'
        f'<dt>Status</dt><dd id="account-status">{escape(enterprise["status"])}</dd>'
        "</dl>"
    )


@login_required
def console(sim, request, admin, enterprise):
    with sim.store.read() as conn:
        summary = account_summary(conn, enterprise)
    return page("Admin Console", summary, admin=admin)


def _apps_page(sim, admin, enterprise, *, error=None, notice=None, authorized=None, status=200):
    with sim.store.read() as conn:
        rows = conn.execute(
            "SELECT a.client_id, a.name, z.authorized_at, u.login AS service_login "
            "FROM authorizations z JOIN apps a ON a.client_id = z.client_id "
            "JOIN users u ON u.id = z.service_account_id "
            "WHERE z.enterprise_id = ? ORDER BY z.authorized_at",
            (enterprise["id"],),
        ).fetchall()
    body = ""
    if authorized is not None:
        body += (
            '<section id="authorization-result"><h2>App authorized</h2><dl>'
            f"<dt>App name</dt><dd>{escape(authorized['name'])}</dd>"
            f'<dt>Client ID</dt><dd id="authorized-client-id">{authorized["client_id"]}</dd>'
            f'<dt>Enterprise ID</dt><dd id="authorized-enterprise-id">{enterprise["id"]}</dd>'
            "</dl></section>"
        )
    if rows:
        body += "<h2>Authorized apps</h2><table><tr><th>App</th><th>Client ID</th>"
        body += "<th>Service account</th><th>Authorized</th><th></th></tr>"
        for row in rows:
            body += (
                f'<tr data-client-id="{row["client_id"]}"><td>{escape(row["name"])}</td>'
                f"<td><code>{row['client_id']}</code></td><td>{escape(row['service_login'])}</td>"
                f"<td>{service.iso(row['authorized_at'])}</td><td>"
                '<form method="post" action="/master/platform-apps/remove">'
                f'<input type="hidden" name="client_id" value="{row["client_id"]}">'
                '<button type="submit">Remove</button></form></td></tr>'
            )
        body += "</table>"
    else:
        body += "<p>No platform apps are authorized for this enterprise.</p>"
    body += (
        '<h2>Add Platform App</h2><form method="get" action="/master/platform-apps/review">'
        + field("Client ID", "client_id", extra="required")
        + '<button class="primary" type="submit">Next</button></form>'
    )
    return page(
        "Platform Apps Manager", body, admin=admin, error=error, notice=notice, status=status
    )


@login_required
def platform_apps(sim, request, admin, enterprise):
    authorized = None
    client_id = request.args.get("authorized")
    notice = None
    if client_id:
        with sim.store.read() as conn:
            app = service.app_by_client_id(conn, client_id)
            if app is not None and service.authorization(conn, client_id, enterprise["id"]):
                authorized = app
                notice = f"{app['name']} has been authorized for this enterprise."
    if request.args.get("removed"):
        notice = "The app has been removed. Its access tokens no longer work."
    return _apps_page(sim, admin, enterprise, notice=notice, authorized=authorized)


@login_required
def review_app(sim, request, admin, enterprise):
    client_id = request.args.get("client_id", "").strip()
    with sim.store.read() as conn:
        app = service.app_by_client_id(conn, client_id)
    if app is None:
        return _apps_page(
            sim,
            admin,
            enterprise,
            status=404,
            error="No platform app was found with this client ID.",
        )
    body = (
        "<p>Review the app before you authorize it to access this enterprise.</p><dl>"
        f'<dt>App name</dt><dd id="review-app-name">{escape(app["name"])}</dd>'
        f"<dt>Client ID</dt><dd><code>{app['client_id']}</code></dd>"
        "<dt>Authentication</dt><dd>Server Authentication (Client Credentials Grant, JWT)</dd>"
        "<dt>Access</dt><dd>Manage users, Manage groups, Manage enterprise properties</dd></dl>"
        '<form method="post" action="/master/platform-apps/authorize">'
        f'<input type="hidden" name="client_id" value="{escape(app["client_id"])}">'
        '<button class="primary" type="submit">Authorize</button></form>'
        '<p><a href="/master/platform-apps">Cancel</a></p>'
    )
    return page("Authorize App", body, admin=admin)


@login_required
def authorize_app(sim, request, admin, enterprise):
    client_id = request.form.get("client_id", "").strip()
    with sim.store.write() as conn:
        app = service.app_by_client_id(conn, client_id)
        if app is not None:
            service.authorize_app(conn, app, enterprise, admin)
    if app is None:
        return _apps_page(
            sim,
            admin,
            enterprise,
            status=404,
            error="No platform app was found with this client ID.",
        )
    return redirect("/master/platform-apps?" + urlencode({"authorized": client_id}), code=303)


@login_required
def remove_app(sim, request, admin, enterprise):
    client_id = request.form.get("client_id", "")
    with sim.store.write() as conn:
        if service.authorization(conn, client_id, enterprise["id"]) is not None:
            service.deauthorize_app(conn, client_id, enterprise, admin)
    return redirect("/master/platform-apps?removed=1", code=303)


def billing_form(enterprise, plan_code: str, seats) -> str:
    return (
        '<h2>Change plan</h2><form method="post" action="/master/billing">'
        + plan_select(plan_code)
        + field("Number of seats", "seats", type_="number", value=seats, extra='min="1"')
        + '<button class="primary" type="submit">Update subscription</button></form>'
        + '<h2>Cancel account</h2><p><a id="cancel-account-link" href="/master/billing/cancel">'
        + "Cancel your Box account</a></p>"
    )


def _billing_page(sim, admin, enterprise, plan_code, seats, *, error=None, notice=None, status=200):
    with sim.store.read() as conn:
        enterprise = service.enterprise_by_id(conn, enterprise["id"])
        summary = account_summary(conn, enterprise)
    current = get_plan(enterprise["plan"])
    body = (
        f'<p>You are on the <strong id="current-plan" data-plan="{current.code}">'
        f"{escape(current.name)}</strong> plan with "
        f'<strong id="current-seats">{enterprise["seats"]}</strong> seats.</p>'
        + summary
        + billing_form(enterprise, plan_code or enterprise["plan"], seats or enterprise["seats"])
    )
    return page("Account & Billing", body, admin=admin, error=error, notice=notice, status=status)


@login_required
def billing(sim, request, admin, enterprise):
    if request.method == "GET":
        notice = "Your subscription has been updated." if request.args.get("updated") else None
        return _billing_page(sim, admin, enterprise, None, None, notice=notice)
    plan_code = request.form.get("plan", "")
    seats = request.form.get("seats", "").strip()
    try:
        with sim.store.write() as conn:
            service.change_plan(conn, enterprise, plan_code, seats)
    except ApiError as problem:
        return _billing_page(
            sim, admin, enterprise, plan_code, seats, error=_form_error(problem), status=400
        )
    return redirect("/master/billing?updated=1", code=303)


@login_required
def cancel(sim, request, admin, enterprise):
    intro = (
        "<p>Cancelling closes this Box account at once: nobody can log in any more, authorized "
        "apps lose their access and their tokens stop working.</p>"
    )
    form = (
        '<form method="post" action="/master/billing/cancel">'
        '<label for="confirm"><input id="confirm" name="confirm" type="checkbox" value="yes"> '
        "I understand that cancelling closes this account</label>"
        '<button class="primary" type="submit">Cancel account</button></form>'
        '<p><a href="/master/billing">Keep my account</a></p>'
    )
    if request.method == "GET":
        return page("Cancel account", intro + form, admin=admin)
    if request.form.get("confirm") != "yes":
        return page(
            "Cancel account",
            intro + form,
            admin=admin,
            status=400,
            error="Tick the box to confirm that you want to cancel the account.",
        )
    with sim.store.write() as conn:
        service.cancel_enterprise(conn, enterprise)
    response = page(
        "Account cancelled",
        f'<p id="cancelled">Your Box account {escape(enterprise["name"])} has been cancelled.</p>',
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@login_required
def developer_console(sim, request, admin, enterprise):
    created = None
    error = None
    if request.method == "POST":
        name = request.form.get("app_name", "").strip()
        if not name:
            error = "Give the app a name."
        else:
            with sim.store.write() as conn:
                created = service.create_app(conn, name[:100], owner_user_id=admin["id"])
    with sim.store.read() as conn:
        apps = conn.execute(
            "SELECT * FROM apps WHERE owner_user_id = ? ORDER BY created_at", (admin["id"],)
        ).fetchall()
    body = ""
    if created is not None:
        body += (
            '<section id="new-app"><h2>App created</h2><dl>'
            f"<dt>App name</dt><dd>{escape(created['name'])}</dd>"
            f'<dt>Client ID</dt><dd><code id="client-id">{created["client_id"]}</code></dd>'
            f'<dt>Client Secret</dt><dd><code id="client-secret">{created["client_secret"]}'
            "</code></dd></dl></section>"
        )
    if apps:
        body += "<h2>My Platform Apps</h2><table><tr><th>App</th><th>Client ID</th></tr>"
        body += "".join(
            f"<tr><td>{escape(a['name'])}</td><td><code>{a['client_id']}</code></td></tr>"
            for a in apps
        )
        body += "</table>"
    body += (
        '<h2>Create Platform App</h2><form method="post" action="/developers/console">'
        + field("App name", "app_name", extra="required")
        + '<button class="primary" type="submit">Create Platform App</button></form>'
        + "<p>Platform apps use Server Authentication (Client Credentials Grant). "
        + 'Authorize them in the <a href="/master/platform-apps">Admin Console</a>.</p>'
    )
    return page(
        "Developer Console",
        body,
        admin=admin,
        error=error,
        notice="Your app has been created." if created else None,
    )


PAGES = {
    "home": home,
    "signup": signup,
    "check_email": check_email,
    "verify": verify,
    "login": login,
    "logout": logout,
    "console": console,
    "platform_apps": platform_apps,
    "review_app": review_app,
    "authorize_app": authorize_app,
    "remove_app": remove_app,
    "billing": billing,
    "cancel": cancel,
    "developer_console": developer_console,
}

"""The simulator's state: one SQLite file in WAL mode, shared by every request thread.

Connections come from a small pool, so any thread may use any connection. Writes run in
`BEGIN IMMEDIATE` transactions, which take SQLite's write lock up front: checks such as "is this
login free" or "is there a seat left" and the insert that follows see the same state, whatever
the number of threads or client processes.
"""

import contextlib
import queue
import sqlite3
import threading
import time

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enterprises (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    seats INTEGER NOT NULL,
    status TEXT NOT NULL,
    admin_user_id INTEGER,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    cancelled_at REAL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER,
    kind TEXT NOT NULL,
    login TEXT NOT NULL,
    login_lc TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    status TEXT NOT NULL,
    language TEXT NOT NULL,
    timezone TEXT NOT NULL,
    space_amount INTEGER NOT NULL,
    space_used INTEGER NOT NULL DEFAULT 0,
    job_title TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    is_sync_enabled INTEGER NOT NULL DEFAULT 1,
    is_external_collab_restricted INTEGER NOT NULL DEFAULT 0,
    is_exempt_from_device_limits INTEGER NOT NULL DEFAULT 0,
    is_exempt_from_login_verification INTEGER NOT NULL DEFAULT 0,
    is_password_reset_required INTEGER NOT NULL DEFAULT 0,
    can_see_managed_users INTEGER NOT NULL DEFAULT 1,
    external_app_user_id TEXT,
    client_id TEXT,
    tracking_codes TEXT NOT NULL DEFAULT '[]',
    notification_email TEXT,
    password_hash TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS users_by_enterprise ON users (enterprise_id, id);
CREATE INDEX IF NOT EXISTS users_by_seat ON users (enterprise_id, kind, status);
CREATE INDEX IF NOT EXISTS users_by_external_id ON users (enterprise_id, external_app_user_id);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    name_lc TEXT NOT NULL,
    provenance TEXT,
    external_sync_identifier TEXT,
    description TEXT,
    invitability_level TEXT NOT NULL,
    member_viewability_level TEXT NOT NULL,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    UNIQUE (enterprise_id, name_lc)
);
CREATE TABLE IF NOT EXISTS memberships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    configurable_permissions TEXT,
    created_at REAL NOT NULL,
    modified_at REAL NOT NULL,
    UNIQUE (group_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_by_user ON memberships (user_id, id);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT NOT NULL,
    name TEXT NOT NULL,
    owner_user_id INTEGER,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS app_keys (
    key_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    public_key_pem TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS authorizations (
    client_id TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    enterprise_id INTEGER NOT NULL,
    service_account_id INTEGER NOT NULL,
    authorized_at REAL NOT NULL,
    PRIMARY KEY (client_id, enterprise_id)
);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    enterprise_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tokens_by_grant ON tokens (client_id, enterprise_id);
CREATE TABLE IF NOT EXISTS jwt_ids (
    jti TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    enterprise_id INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    source TEXT,
    additional_details TEXT
);
CREATE INDEX IF NOT EXISTS events_by_enterprise ON events (enterprise_id, seq);
CREATE TABLE IF NOT EXISTS mail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    links TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS web_sessions (
    sid TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS email_verifications (
    token TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    used_at REAL
);
"""

# Where each kind of id starts, so ids look like Box's (strings of 8 to 11 digits).
ID_STARTS = {
    "enterprises": 60_000_000,
    "users": 30_000_000_000,
    "groups": 9_000_000_000,
    "memberships": 50_000_000,
    "mail": 0,
    "events": 1_700_000_000_000,
}

STATE_TABLES = (
    "memberships",
    "groups",
    "tokens",
    "jwt_ids",
    "authorizations",
    "app_keys",
    "apps",
    "events",
    "mail",
    "web_sessions",
    "email_verifications",
    "users",
    "enterprises",
)


class Store:
    def __init__(self, path: str, pool_size: int = 16):
        self.path = path
        self._pool: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool_size = pool_size
        conn = self._acquire()
        try:
            conn.executescript(SCHEMA)
        finally:
            self._release(conn)
        with self.write() as conn:
            for table, start in ID_STARTS.items():
                conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                    (table, start, table),
                )
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    def _acquire(self) -> sqlite3.Connection:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            conn = self._connect()
            with self._lock:
                self._all.append(conn)
            return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        if self._pool.qsize() < self._pool_size:
            self._pool.put(conn)
        else:
            with self._lock:
                self._all.remove(conn)
            conn.close()

    @contextlib.contextmanager
    def read(self):
        """A consistent snapshot for reads."""
        conn = self._acquire()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            self._release(conn)

    @contextlib.contextmanager
    def write(self):
        """A write transaction holding SQLite's write lock from its start."""
        conn = self._acquire()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            self._release(conn)

    def reset(self) -> None:
        with self.write() as conn:
            for table in STATE_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def now() -> float:
    return time.time()

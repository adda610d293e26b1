"""A throwaway IMAP server for tests: Debian's dovecot with a configuration of its own in a
temporary folder, on free ports of 127.0.0.1, one passwd-file user, TLS on both listeners
(``imaps``, and ``imap`` with STARTTLS) with a self-signed certificate made for the run.

``start_dovecot()`` returns a handle with ``imaps_url()``, ``imap_url()``, ``deliver(message)``
(IMAP APPEND) and ``stop()``; it raises ``DovecotUnavailable`` saying why when dovecot is not
installed (and cannot be: ``scripts/ensure-dovecot``) or does not start. Nothing of the
system's dovecot is used or touched: no /etc/dovecot, no system service, no fixed port.
"""

from __future__ import annotations

import datetime
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

DOVECOT = "/usr/sbin/dovecot"
ROOT = Path(__file__).resolve().parents[2]
USER = "box-admins@provider.test"
PASSWORD = "mailbox-pass-1234"


class DovecotUnavailable(RuntimeError):
    pass


def ensure_installed() -> None:
    if not Path(DOVECOT).exists():
        subprocess.run([str(ROOT / "scripts" / "ensure-dovecot")], check=False, capture_output=True)
    if not Path(DOVECOT).exists():
        raise DovecotUnavailable(
            f"{DOVECOT} is not installed and could not be installed here (needs root and "
            "apt-get; run scripts/ensure-dovecot or apt-get install dovecot-imapd)"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _users() -> tuple[str, str, int, int]:
    """Who dovecot's processes run as. As root: the package's unprivileged users (dovecot
    refuses root for logins and mail); otherwise everything runs as the current user."""
    if os.getuid() == 0:
        try:
            mail = pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError:
            raise DovecotUnavailable("the dovecot and dovenull users do not exist") from None
        return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.getuid()).pw_name
    return me, me, os.getuid(), os.getgid()


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = boxbroker-test-{imap_port}
log_path = {folder}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
# Plain authentication, allowed here for connections from this machine (TLS is used anyway).
auth_mechanisms = plain login
disable_plaintext_auth = no
login_trusted_networks = 127.0.0.1/32
default_internal_user = {internal_user}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%n
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
{unprivileged}
"""

# Without root there is no chroot: every service runs as the current user.
UNPRIVILEGED = """\
service imap-login {
  chroot =
}
service anvil {
  chroot =
}
"""


@dataclass
class DovecotServer:
    process: subprocess.Popen
    folder: Path
    imap_port: int
    imaps_port: int
    cafile: Path

    def _url(self, scheme: str, port: int, password: str = PASSWORD) -> str:
        return (
            f"{scheme}://{quote(USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"
            f"/INBOX?cafile={self.cafile}"
        )

    def imaps_url(self, password: str = PASSWORD) -> str:
        return self._url("imaps", self.imaps_port, password)

    def imap_url(self, password: str = PASSWORD) -> str:
        return self._url("imap", self.imap_port, password)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def deliver(self, message: EmailMessage, *, folder: str = "INBOX") -> None:
        """Put a message into the mailbox (IMAP APPEND), as a delivery would."""
        context = ssl.create_default_context(cafile=str(self.cafile))
        with imaplib.IMAP4_SSL(
            "127.0.0.1", self.imaps_port, ssl_context=context, timeout=10
        ) as conn:
            conn.login(USER, PASSWORD)
            status, _ = conn.append(
                f'"{folder}"', None, imaplib.Time2Internaldate(time.time()), message.as_bytes()
            )
            if status != "OK":
                raise RuntimeError(f"APPEND failed: {status}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
        shutil.rmtree(self.folder, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def start_dovecot(timeout: float = 20.0) -> DovecotServer:
    ensure_installed()
    internal_user, login_user, uid, gid = _users()
    # Not under pytest's temporary folders: those are private to the user running the tests,
    # and dovecot's mail processes run as the unprivileged `dovecot` user when that is root.
    folder = Path(tempfile.mkdtemp(prefix="boxbroker-dovecot-"))
    folder.chmod(0o755)
    (folder / "mail").mkdir()
    os.chown(folder / "mail", uid, gid)
    cert, key = _certificate(folder)
    passwd = folder / "passwd"
    passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    passwd.chmod(0o600)
    os.chown(passwd, uid, gid)  # read by dovecot's auth process, which runs as that user
    imap_port, imaps_port = _free_port(), _free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            folder=folder,
            cert=cert,
            key=key,
            imap_port=imap_port,
            imaps_port=imaps_port,
            internal_user=internal_user,
            login_user=login_user,
            uid=uid,
            gid=gid,
            unprivileged="" if os.getuid() == 0 else UNPRIVILEGED,
        )
    )
    output = folder / "dovecot.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DovecotServer(process, folder, imap_port, imaps_port, cert)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _answers(imap_port):
            return server
        time.sleep(0.1)
    why = (output.read_text(errors="replace") + server.log())[-2000:]
    server.stop()
    raise DovecotUnavailable(f"dovecot did not start: {why.strip() or 'no output'}")

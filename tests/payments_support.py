"""Payments test support: a real localstripe (a stateful fake Stripe, spoken to by the official
library over HTTP) for the whole session; sellers with Stripe accounts in it; buyers without
invoice terms; cards saved the way Stripe.js saves them (a confirmed SetupIntent)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from payments.models import BuyerAccount, StripeAccount
from payments.services import accounts, cards, stripe_api
from tests.factories import SYSTEM

GOOD = "4242424242424242"
DECLINED_ON_SAVE = "4000000000000002"  # refused when the card is saved
DECLINED_ON_CHARGE = "4000000000000341"  # saved fine, every charge declined
NEEDS_3DS = "4000002500003155"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_localstripe(log: Path) -> tuple[str, subprocess.Popen]:
    """A fresh localstripe on a free port (its store in memory): its address and process."""
    port = _free_port()
    # Its state in memory only: nothing shared with another run on the machine.
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.localstripe", "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/v1/balance", timeout=1, auth=("sk_test_x", ""))
            return url, process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()  # pragma: no cover - the environment is broken
    raise RuntimeError(f"localstripe did not start; see {log}")


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    url, process = start_localstripe(tmp_path_factory.mktemp("localstripe") / "localstripe.log")
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def stripe_sim(settings, localstripe_url):
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.STRIPE_CONFIRM_OFF_SESSION = False
    settings.STRIPE_WEBHOOK_BASE_URL = ""
    return localstripe_url


def seller_account(seller, *, key: str | None = None) -> StripeAccount:
    """The seller's Stripe keys, entered as its admin would (through the service)."""
    suffix = key or f"s{seller.pk}"
    return accounts.stripe_account_save(
        actor=SYSTEM,
        seller=seller,
        publishable_key=f"pk_test_{suffix}",
        secret_key=f"sk_test_{suffix}",
        webhook_secret=f"whsec_{suffix}",
    )


@pytest.fixture
def paying(tree, stripe_sim):
    """Stripe accounts for the provider and both resellers; C11, C21 and PC1 without terms."""
    for seller in ("P", "R1", "R2", "S1"):
        seller_account(tree[seller])
    for buyer in ("C11", "C21", "PC1"):
        BuyerAccount.objects.filter(buyer=tree[buyer]).update(invoice_terms_days=None)
    return tree


def saved_card(buyer, number: str = GOOD, *, default: bool = True):
    """A card saved as Stripe.js saves it: a SetupIntent for the buyer, confirmed with the
    card, then kept by the portal."""
    account = StripeAccount.objects.get(seller=buyer.parent)
    setup = cards.card_setup_start(actor=SYSTEM, buyer=buyer)
    client = stripe_api.client_for(account)
    client.v1.setup_intents.confirm(
        setup["setup_intent"],
        {
            "client_secret": setup["client_secret"],
            "payment_method_data": {
                "type": "card",
                "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"},
            },
        },
    )
    return cards.card_save(
        actor=SYSTEM, buyer=buyer, setup_intent=setup["setup_intent"], make_default=default
    )


def signed(payload: dict, secret: str, *, at: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, signed as Stripe signs."""
    body = json.dumps(payload).encode()
    timestamp = at or int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, f"t={timestamp},v1={digest.hexdigest()}"

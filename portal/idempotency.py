"""Idempotency keys: one small mechanism for every write that accepts one (checkout, order
create, subscription change and cancel, payments).

A service calls ``idempotency_claim`` inside its transaction, *after* it has checked the
actor's right to act on the organization, and before it writes anything:

    claim = idempotency_claim(organization=sub.customer, operation="subscription.change",
                              key=idempotency_key, request={...}, actor=actor)
    if claim and claim.replay:
        return claim.result(Order)
    ... the write ...
    if claim:
        claim.complete(order)

- Keys are scoped to the organization and the operation: the same key in another tenant is
  another key, so it neither returns nor reveals anything of that tenant.
- The request's fingerprint is stored with the key: the same key with the same request returns
  the first result without side effects; with another request it is refused (422).
- Two requests with the same key at the same moment: the second waits on the first's row (the
  unique constraint) and then replays its result; a failed first request leaves no row.

Form tokens (``form_token_issue``/``form_token_valid``) tie a page's one-time token to the
visitor's session, so a token copied from someone else's page is worthless.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from portal.actors import person
from portal.errors import Unprocessable, ValidationError
from portal.models import IdempotencyRecord, Organization

MAX_KEY_LENGTH = 255
SESSION_TOKENS = "_form_tokens"
TOKENS_KEPT = 20


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def clean_key(key) -> str:
    """The key as sent, or "" for none; a malformed key is refused with a clear message."""
    if key is None:
        return ""
    key = str(key).strip()
    if not key:
        return ""
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            f"An idempotency key is 1 to {MAX_KEY_LENGTH} printable characters.",
            fields={"idempotency_key": ["Use 1 to 255 printable characters."]},
        )
    return key


def fingerprint(request: dict) -> str:
    """A stable digest of what was asked: the same values in any order give the same one."""
    return _hash(json.dumps(request, sort_keys=True, default=str, separators=(",", ":")))


@dataclass
class Claim:
    record: IdempotencyRecord
    replay: bool

    def result(self, model):
        """The object the first request produced (a row of ``model``)."""
        label = model._meta.label_lower
        if self.record.result_type != label:
            raise Unprocessable(  # pragma: no cover - a programming error
                "This idempotency key was used for another kind of request."
            )
        return model._default_manager.get(pk=self.record.result_id)

    def complete(self, obj) -> None:
        """Record what this (first) request produced, in the caller's transaction."""
        self.record.result_type = obj._meta.label_lower
        self.record.result_id = str(obj.pk)
        self.record.save(update_fields=["result_type", "result_id"])


def idempotency_claim(
    *, organization: Organization, operation: str, key, request: dict, actor
) -> Claim | None:
    """Claim ``key`` for ``operation`` in ``organization``'s scope; None when no key was sent.
    Call it inside the service's transaction, after the access check."""
    key = clean_key(key)
    if not key:
        return None
    digest = fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                organization=organization,
                operation=operation,
                key_hash=_hash(key),
                fingerprint=digest,
                actor=person(actor),
            )
        return Claim(record, replay=False)
    except IntegrityError:
        record = IdempotencyRecord.objects.get(
            organization=organization, operation=operation, key_hash=_hash(key)
        )
    if record.fingerprint != digest:
        raise Unprocessable(
            "This idempotency key was already used for a different request. Send a new key "
            "for a new request, or the same request to get its first answer again.",
            code="idempotency_key_reused",
        )
    return Claim(record, replay=True)


def idempotency_seen(*, organization: Organization, operation: str, key) -> bool:
    """Whether ``key`` was already claimed for ``operation`` in ``organization``'s scope: a
    confirmation that was carried out answers its first result instead of being compared with
    a preview again."""
    key = clean_key(key)
    if not key:
        return False
    return IdempotencyRecord.objects.filter(
        organization=organization, operation=operation, key_hash=_hash(key)
    ).exists()


# --- form tokens --------------------------------------------------------------------------


def form_token_issue(request, purpose: str) -> str:
    """A fresh, unguessable one-time token for a form, remembered in the visitor's session."""
    token = secrets.token_urlsafe(24)
    tokens = request.session.get(SESSION_TOKENS, {})
    issued = [t for t in tokens.get(purpose, []) if t != token][-(TOKENS_KEPT - 1) :]
    tokens[purpose] = [*issued, token]
    request.session[SESSION_TOKENS] = tokens
    return token


def form_token_valid(request, purpose: str, token: str) -> bool:
    """Whether ``token`` was issued to this session for ``purpose``. It stays valid after use:
    a second submission of the same form replays the first one's result."""
    if not token:
        return False
    tokens = request.session.get(SESSION_TOKENS, {}).get(purpose, [])
    return any(secrets.compare_digest(token, issued) for issued in tokens)

"""The webhook endpoint. (The payment pages live with the pages of billing and orders.)"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.services.webhooks import event_receive
from portal.errors import NotFound, ValidationError

MAX_BODY = 512 * 1024


@csrf_exempt
@require_POST
def stripe_webhook(request, token: str):
    """One seller account's Stripe events: verified on the raw body with that account's
    secret, stored once, answered at once; processed by a task."""
    if len(request.body) > MAX_BODY:
        return HttpResponseBadRequest("too large")
    try:
        stored = event_receive(
            token=token,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except NotFound:
        return HttpResponseNotFound("unknown endpoint")
    except ValidationError:
        return HttpResponseBadRequest("bad signature")
    return HttpResponse("stored" if stored is not None else "duplicate", content_type="text/plain")

"""Moving running subscriptions to a seller's newer retail price: the preview (how many, the
monthly change, from when after the notice) and the confirmation; withdrawing a scheduled
move. Reached from the catalog's prices page."""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from billing.models import PriceMove
from billing.services.prices import NOTICE_DAYS, price_move_preview, price_move_schedule
from billing.services.prices import price_move_withdraw as withdraw
from catalog.models import Audience, Price
from portal import access
from portal.errors import ApplicationError, NotFound, PermissionDenied
from portal.params import parse_id
from portal.views import render_console, seller_console


def _own_price(org, price_id) -> Price:
    price = Price.objects.filter(pk=parse_id(price_id), seller=org).select_related("plan").first()
    if price is None:
        raise NotFound("No such price.")
    return price


def _key(preview) -> str:
    ids = ",".join(str(line.subscription.pk) for line in preview.lines)
    return hashlib.sha256(f"{preview.price.pk}|{ids}".encode()).hexdigest()[:20]


@seller_console
@require_http_methods(["GET", "POST"])
def console_price_move(request, org):
    source = request.POST if request.method == "POST" else request.GET
    price = _own_price(org, source.get("price"))
    access.require(request.user, "catalog.manage", org)
    back = redirect("catalog_prices", org_id=org.pk, plan_id=price.plan_id)
    if price.audience != Audience.RETAIL:
        messages.error(request, "Only retail prices are moved this way.")
        return back
    preview = price_move_preview(actor=request.user, price=price)
    if request.method == "POST":
        if request.POST.get("preview_key") != _key(preview):
            messages.warning(
                request, "The subscriptions to move changed since the preview; check it again."
            )
        else:
            try:
                moves = price_move_schedule(actor=request.user, price=price)
            except PermissionDenied:
                raise
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                n = len(moves)
                messages.success(
                    request,
                    f"{n} subscription{'s' if n != 1 else ''} move to "
                    f"{price.recurring.normalize():f} {price.currency} per seat at their first "
                    f"renewal on or after {preview.effective_from:%d %b %Y}; their customers "
                    "were told by e-mail.",
                )
                return back
    return render_console(
        request,
        "billing/price_move_preview.html",
        {
            "price": price,
            "preview": preview,
            "preview_key": _key(preview),
            "notice_days": NOTICE_DAYS,
        },
    )


@seller_console
@require_POST
def console_price_move_withdraw(request, org, move_id):
    move = (
        PriceMove.objects.filter(
            pk=parse_id(move_id),
            to_price__seller=org,
            subscription__customer__in=access.visible_organizations(request.user),
        )
        .select_related("subscription__customer", "to_price")
        .first()
    )
    if move is None:
        raise NotFound("No such price change.")
    try:
        withdraw(actor=request.user, move=move)
    except PermissionDenied:
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{move.subscription.customer.name}'s {move.subscription.number} keeps its price.",
        )
    return redirect("catalog_prices", org_id=org.pk, plan_id=move.to_price.plan_id)

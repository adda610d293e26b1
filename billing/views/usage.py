"""Pages of usage (docs/usage.md): a subscription's usage page in the customer portal and in
the seller consoles (the subscription page itself shows the last 60 days, see
``orders.views``), and the provider's page of the day's usage collections with a retry action.

Lookups go through ``orders.selectors.access_subscription`` and ``billing.selectors``: another
tenant's subscription or collection answers 404, like a missing one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from billing import selectors
from billing.models import CollectionState, UsageCollection
from billing.services import usage
from orders import selectors as orders_selectors
from portal import access, clock
from portal.errors import ApplicationError
from portal.views import customer_console, render_console, seller_console

CHART_DAYS = 60  # on the subscription page
RANGES = [(30, "30 days"), (90, "90 days"), (180, "6 months"), (365, "1 year"), (730, "2 years")]
DEFAULT_RANGE = 365


def subscription_usage_context(request, sub) -> dict:
    """What ``templates/orders/subscription.html`` needs for its usage charts (two queries)."""
    name = "billing_console_usage" if request.console_kind == "seller" else "billing_customer_usage"
    return {
        "usage": selectors.usage_chart(sub, end=clock.today(), days=CHART_DAYS),
        "usage_url": reverse(name, kwargs={"org_id": request.console_org.pk, "sub_id": sub.pk}),
    }


def _usage_page(request, sub, sub_url: str):
    try:
        days = int(request.GET.get("days", DEFAULT_RANGE))
    except ValueError:
        days = DEFAULT_RANGE
    if days not in dict(RANGES):
        days = DEFAULT_RANGE
    chart = selectors.usage_chart(sub, end=clock.today(), days=days)
    rows = [
        {
            "day": day,
            "storage_gb": chart["storage_gb"][i],
            "included_gb": chart["included_gb"][i],
            "active_users": chart["active_users"][i],
            "seats": chart["seats"][i],
            "seats_held": chart["seats_held"][i],
        }
        for i, day in enumerate(chart["days"])
        if chart["storage_bytes"][i] is not None
    ]
    rows.reverse()
    return render_console(
        request,
        "billing/usage.html",
        {
            "sub": sub,
            "sub_url": sub_url,
            "usage": chart,
            "rows": rows,
            "days": days,
            "ranges": RANGES,
        },
    )


@customer_console
def customer_usage(request, org, sub_id):
    sub = orders_selectors.access_subscription(request.user, sub_id)
    if sub.customer_id != org.pk:
        raise Http404("No such subscription.")
    url = reverse("orders_customer_subscription", kwargs={"org_id": org.pk, "sub_id": sub.pk})
    return _usage_page(request, sub, url)


@seller_console
def console_usage(request, org, sub_id):
    sub = orders_selectors.access_subscription(request.user, sub_id)
    if not sub.customer.path.startswith(org.path):
        raise Http404("No such subscription.")
    url = reverse("orders_console_subscription", kwargs={"org_id": org.pk, "sub_id": sub.pk})
    return _usage_page(request, sub, url)


# --- provider staff: the day's collections ----------------------------------------------------


@seller_console
@require_http_methods(["GET", "POST"])
def console_collections(request, org):
    if not org.is_provider:
        raise Http404("Usage collections are the provider's.")
    base = selectors.visible_collections(request.user).filter(
        account__customer__path__startswith=org.path
    )
    if request.method == "POST":
        return _collection_action(request, org)
    day = selectors.parse_day(request.GET.get("day"))
    recent = list(base.order_by("-day").values_list("day", flat=True).distinct()[:14])
    if day is None:
        day = recent[0] if recent else clock.today()
    if day not in recent:
        recent = sorted([*recent, day], reverse=True)
    of_day = base.filter(day=day)
    qs = selectors.failures_first(
        selectors.collections_filtered(of_day, {"state": request.GET.get("state", "")})
    ).select_related("account__customer")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    for collection in page.object_list:
        collection.can_retry = collection.state != CollectionState.RUNNING and access.can(
            request.user, "usage.retry", collection.account.customer
        )
    counts = selectors.collection_counts(of_day)
    return render_console(
        request,
        "billing/collections.html",
        {
            "page": page,
            "day": day,
            "recent_days": recent,
            "states": CollectionState.choices,
            "state_counts": [(key, label, counts[key]) for key, label in CollectionState.choices],
            "filters": {"state": request.GET.get("state", "")},
            "max_attempts": settings.USAGE_COLLECTION_MAX_ATTEMPTS,
        },
    )


def _collection_action(request, org):
    if request.POST.get("action") != "retry":
        messages.error(request, "Unknown action.")
        return redirect("billing_usage_collections", org_id=org.pk)
    collection: UsageCollection = selectors.access_collection(
        request.user, request.POST.get("collection"), action="usage.retry"
    )
    if not collection.account.customer.path.startswith(org.path):
        raise Http404("No such usage collection.")
    try:
        usage.usage_collection_retry(collection=collection, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The usage of {collection.account.customer.name} on {collection.day:%d %b %Y} is "
            "being collected again.",
        )
    url = reverse("billing_usage_collections", kwargs={"org_id": org.pk})
    return redirect(f"{url}?day={collection.day.isoformat()}")

"""Pages of ordering: storefront checkout, orders and subscriptions in the customer portal and
in the seller consoles (including ordering on a customer's behalf)."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.account.utils import complete_signup
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from billing.views.usage import subscription_usage_context
from catalog import selectors as catalog_selectors
from catalog.models import Offer, Plan, PlanTransition
from catalog.quotes import quote_build
from orders import selectors, services
from orders.forms import (
    ChangeForm,
    CheckoutForm,
    ConsoleOrderForm,
    PolicyForm,
    QuantityTermForm,
    SeatForm,
    SeatImportForm,
    SeatUpdateForm,
    SuspendForm,
)
from orders.models import Order, OrderState, SeatStatus, SubscriptionStatus
from orders.services.previews import clean_import_text
from payments.models import Payment, PaymentState
from payments.pages import on_behalf
from portal import access, clock, live
from portal.errors import ApplicationError, NotFound
from portal.idempotency import form_token_issue, form_token_valid
from portal.models import Organization, OrgStatus
from portal.money import format_money
from portal.params import clean_text
from portal.views import apply_error, customer_console, render_console, seller_console

# A payment the person has done their part of, which Stripe is still confirming.
CONFIRMING = (PaymentState.PENDING, PaymentState.PROCESSING)
# Seats whose Box user is being created, changed or removed.
SEATS_AT_WORK = (SeatStatus.PENDING, SeatStatus.UPDATING, SeatStatus.REMOVING)
FIELD_MAP = {"quantity": "seats", "promotion_code": "code"}


def _remap(exc: ApplicationError) -> ApplicationError:
    exc.fields = {FIELD_MAP.get(k, k): v for k, v in exc.fields.items()}
    return exc


def _live_quote(form, *, seller, customer, offer):
    """The quote for the form's current values, or None with the errors put on the form."""
    if not form.is_valid():
        return None
    try:
        return quote_build(
            seller=seller,
            customer=customer,
            offer=offer,
            quantity=form.cleaned_data["seats"],
            term=form.cleaned_data["term"],
            start_date=clock.today(),
            promotion_code=form.cleaned_data.get("code") or None,
        )
    except ApplicationError as exc:
        apply_error(None, _remap(exc), form)
        return None


def _form_token(request, purpose: str) -> tuple[str, bool]:
    """The form's one-time token and whether it is the one posted: a posted token counts only
    if this session was issued it; otherwise a fresh one is issued."""
    posted = request.POST.get("token", "")
    if posted and form_token_valid(request, purpose, posted):
        return posted, True
    return form_token_issue(request, purpose), False


def _with_token(data, token: str):
    data = data.copy()
    data["token"] = token
    return data


EXPIRED = gettext_lazy("This form has expired; check the details and send it again.")


# --- storefront checkout ----------------------------------------------------------------------


def _customer_of(user, seller: Organization) -> Organization | None:
    """The customer (under ``seller``) the signed-in person orders for, if any."""
    for membership in access.active_memberships(user):
        org = membership.organization
        if org.is_customer and org.parent_id == seller.pk and membership.role == "admin":
            return org
    return None


@require_http_methods(["GET", "POST"])
def checkout(request, offer_id):
    seller = getattr(request, "storefront", None)
    try:
        offer = catalog_selectors.storefront_offer(seller, offer_id)
    except (NotFound, AttributeError):
        raise Http404("No such offer.") from None
    customer = _customer_of(request.user, seller) if request.user.is_authenticated else None
    if request.user.is_authenticated and customer is None:
        messages.warning(
            request,
            "You are signed in without a company that buys here; sign out "
            "to order as a new customer.",
        )
    anonymous = not request.user.is_authenticated
    token, token_ok = _form_token(request, "checkout")
    initial = {
        "seats": request.GET.get("seats") or max(offer.plan.seat_min, 1),
        "term": request.GET.get("term") or "monthly",
        "code": request.GET.get("code", ""),
        "token": token,
    }
    ordering = request.method == "POST" and request.POST.get("action") == "order"
    # Bound from the start so the estimate shows at once; the sign-up fields are required
    # only when the visitor orders.
    data = _with_token(request.POST, token) if request.POST else initial
    form = CheckoutForm(data, anonymous=anonymous, require_signup=ordering)
    if ordering and not token_ok:
        form.add_error(None, EXPIRED)
    # The estimate needs only the order's fields, so it shows whatever else is wrong.
    order_fields = QuantityTermForm(request.POST or initial)
    quote = _live_quote(order_fields, seller=seller, customer=customer, offer=offer)
    form.is_valid()
    for field, errors in order_fields.errors.items():
        for error in errors:
            if error not in form.errors.get(field, []):
                form.add_error(field if field != "__all__" else None, error)
    if ordering and quote and form.is_valid():
        data = form.cleaned_data
        try:
            if anonymous:
                order = services.checkout(
                    seller=seller,
                    offer=offer,
                    quantity=data["seats"],
                    term=data["term"],
                    promotion_code=data.get("code", ""),
                    company_name=data["company_name"],
                    full_name=data["full_name"],
                    email=data["email"],
                    password=data["password"],
                    idempotency_key=data["token"],
                )
                if not EmailAddress.objects.filter(user=order.placed_by, verified=True).exists():
                    # allauth's sign-up ending: the verification e-mail, and the person signed
                    # in when they follow its link in this browser, landing on their order.
                    complete_signup(
                        request,
                        order.placed_by,
                        email_verification="mandatory",
                        success_url=reverse(
                            "orders_customer_order",
                            kwargs={"org_id": order.customer_id, "order_id": order.pk},
                        ),
                    )
                request.session["checkout_order"] = order.pk
                return redirect("orders_checkout_sent")
            if customer is None:
                raise NotFound("You are not an admin of a customer of this storefront.")
            order = services.order_create(
                actor=request.user,
                customer=customer,
                offer=offer,
                quantity=data["seats"],
                term=data["term"],
                promotion_code=data.get("code", ""),
                submit=True,
                idempotency_key=data["token"],
            )
            return redirect("orders_customer_order", org_id=customer.pk, order_id=order.pk)
        except ApplicationError as exc:
            apply_error(request, _remap(exc), form)
    return render(
        request,
        "orders/storefront/checkout.html",
        {"offer": offer, "form": form, "quote": quote, "customer": customer},
    )


def checkout_sent(request):
    order = (
        Order.objects.filter(pk=request.session.get("checkout_order"))
        .select_related("placed_by", "customer")
        .first()
    )
    if order is None:
        return redirect("storefront_offers")
    return render(request, "orders/storefront/checkout_sent.html", {"order": order})


# --- shared pieces ----------------------------------------------------------------------------


def _order_context(request, order: Order) -> dict:
    from provisioning.models import ProvisioningJob

    jobs = []
    if order.subscription_id and order.subscription.box_account_id:
        jobs = list(
            ProvisioningJob.objects.filter(
                subject_type="orders.order", subject_id=str(order.pk)
            ).order_by("sequence")
        )
    payment_in_flight = (
        order.state == OrderState.AWAITING_PAYMENT
        and Payment.objects.filter(invoice__order=order, state__in=CONFIRMING).exists()
    )
    return {
        "order": order,
        "lines": list(order.lines.all()),
        "jobs": jobs,
        "steps_done": sum(1 for job in jobs if job.state in ("succeeded", "cancelled")),
        "payment_in_flight": payment_in_flight,
        # Work the person waits for without doing anything: the page follows it by itself.
        "live": order.state == OrderState.PROVISIONING or payment_in_flight,
        "can_place": access.can(request.user, "orders.place", order.customer),
        "can_approve": access.can(request.user, "orders.approve", order.seller),
        "staff_view": request.console_kind == "seller",
    }


def _order_page(request, order: Order):
    """The order's page, or only its status block when the page polls it (portal.live)."""
    if request.method == "POST":
        return _order_action(request, order)
    context = _order_context(request, order)
    if live.wants_status(request):
        return live.render_status(request, "orders/_order_status.html", context)
    return render_console(request, "orders/order_detail.html", context)


def _order_action(request, order: Order):
    action = request.POST.get("action")
    try:
        if action == "submit":
            services.order_submit(actor=request.user, order=order)
            messages.success(
                request, _("Order %(number)s was submitted.") % {"number": order.number}
            )
        elif action == "approve":
            services.order_approve(actor=request.user, order=order)
            messages.success(request, f"Order {order.number} was approved.")
        elif action in ("cancel", "reject"):
            services.order_cancel(
                actor=request.user, order=order, reason=request.POST.get("reason", "")
            )
            messages.success(
                request, _("Order %(number)s was cancelled.") % {"number": order.number}
            )
        else:
            messages.error(request, "Unknown action.")
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(request.get_full_path())


def _plans_for_change(sub) -> list[tuple[Plan, str]]:
    options = [(sub.plan, _("%(plan)s (current)") % {"plan": sub.plan.name})]
    for transition in PlanTransition.objects.filter(from_plan=sub.plan).select_related("to_plan"):
        if Offer.objects.filter(
            seller=sub.seller, plan=transition.to_plan, is_active=True
        ).exists():
            if transition.timing == "immediate":
                label = _("%(plan)s (now, prorated)")
            else:
                label = _("%(plan)s (at the end of the term)")
            options.append((transition.to_plan, label % {"plan": transition.to_plan.name}))
    return options


def _seats_context(request, sub) -> dict:
    """The seats block of a subscription's page; it follows seats being set up at Box by
    itself (portal.live) until none is left."""
    seats = selectors.subscription_seats(sub)
    return {
        "sub": sub,
        "seats": seats,
        "held": sub.seats_held,  # annotated by visible_subscriptions
        "can_seats": access.can(request.user, "seats.manage", sub.customer),
        "live": sub.status == SubscriptionStatus.PENDING
        or any(seat.status in SEATS_AT_WORK for seat in seats),
    }


def _subscription_context(request, sub, **forms) -> dict:
    plans = _plans_for_change(sub)
    return {
        **subscription_usage_context(request, sub),
        **_seats_context(request, sub),
        "scheduled": selectors.scheduled_changes(sub),
        "orders": list(sub.orders.order_by("-created_at")[:10]),
        "charges": list(sub.charges.order_by("-created_at")[:20]),
        "used_gb": round(services.used_storage_bytes(sub) / services.GB, 1),
        "can_manage": access.can(request.user, "subscriptions.manage", sub.customer),
        "can_suspend": access.can(request.user, "subscriptions.suspend", sub.customer),
        "seat_form": forms.get("seat_form") or SeatForm(),
        "import_form": forms.get("import_form") or SeatImportForm(),
        "change_form": forms.get("change_form")
        or ChangeForm(
            plans=plans, initial={"plan": sub.plan.pk, "quantity": sub.quantity, "term": sub.term}
        ),
        "suspend_form": forms.get("suspend_form") or SuspendForm(),
        "import_report": forms.get("import_report"),
        "staff_view": request.console_kind == "seller",
    }


def _subscription_post(request, sub):
    """Every action of a subscription page. Returns a response, or a dict of bound forms to
    show again with their errors."""
    action = request.POST.get("action")
    actor = request.user
    try:
        if action == "assign":
            form = SeatForm(request.POST)
            if not form.is_valid():
                return {"seat_form": form}
            try:
                seat = services.seat_assign(actor=actor, subscription=sub, **form.cleaned_data)
            except ApplicationError as exc:
                apply_error(request, exc, form)
                return {"seat_form": form}
            messages.success(
                request,
                _("%(email)s gets a seat; their Box user is being created.")
                % {"email": seat.email},
            )
        elif action in ("import", "confirm_import"):
            return _seats_import(request, sub, action)
        elif action in ("update_seat", "unassign"):
            seat = selectors.access_seat(actor, request.POST.get("seat"))
            if seat.subscription_id != sub.pk:
                raise NotFound("No such seat.")
            if action == "unassign":
                services.seat_unassign(actor=actor, seat=seat)
                messages.success(
                    request,
                    _("%(email)s's seat is free; their Box user is being removed.")
                    % {"email": seat.email},
                )
            else:
                form = SeatUpdateForm(request.POST)
                if not form.is_valid():
                    messages.error(request, _("Check the name and quota of the seat."))
                else:
                    services.seat_update(actor=actor, seat=seat, **form.cleaned_data)
                    messages.success(
                        request, _("%(email)s's seat was updated.") % {"email": seat.email}
                    )
        elif action in ("change", "confirm_change"):
            return _change(request, sub, action)
        elif action == "withdraw_change":
            change = selectors.access_change(actor, request.POST.get("change"))
            if change.subscription_id != sub.pk:
                raise NotFound("No such change.")
            services.subscription_change_withdraw(actor=actor, change=change)
            messages.success(request, _("The scheduled change was withdrawn."))
        elif action in ("cancel", "confirm_cancel"):
            return _cancel(request, sub, action)
        elif action == "withdraw_cancel":
            services.subscription_cancel_withdraw(actor=actor, subscription=sub)
            messages.success(request, _("The subscription goes on."))
        elif action == "suspend":
            form = SuspendForm(request.POST)
            if not form.is_valid():
                return {"suspend_form": form}
            services.subscription_suspend(
                actor=actor, subscription=sub, reason=form.cleaned_data["reason"]
            )
            messages.success(request, "The subscription is suspended.")
        elif action == "resume":
            services.subscription_resume(actor=actor, subscription=sub)
            messages.success(request, "The subscription is running again.")
        else:
            messages.error(request, "Unknown action.")
    except NotFound as exc:
        raise Http404(exc.message) from None
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(request.get_full_path())


# --- preview, then confirm (orders.services.previews) ----------------------------------------

CONFIRM = "subscription-confirm"
STALE = gettext_lazy(
    "The prices or the seats changed since your preview: here are the new figures."
)
PREVIEW_WORDS = {
    "change": (
        gettext_lazy("Check the change before you confirm"),
        gettext_lazy("Confirm the change"),
    ),
    "cancel": (
        gettext_lazy("Check the cancellation before you confirm"),
        gettext_lazy("Confirm the cancellation"),
    ),
    "import": (
        gettext_lazy("Check the import before you confirm"),
        gettext_lazy("Assign the seats"),
    ),
}


def _import_report_key(sub) -> str:
    return f"import_report:{sub.pk}"


def _preview_page(request, sub, preview, *, carried, csv_text=None, stale=False):
    """The preview with its confirmation form (a fresh one-time token each time it is shown);
    ``stale``: shown again because the figures changed (409)."""
    heading, label = PREVIEW_WORDS[preview.action]
    if preview.action == "import":
        label = ngettext("Assign %(n)s seat", "Assign %(n)s seats", preview.assigned) % {
            "n": preview.assigned
        }
    return render_console(
        request,
        "orders/subscription_preview.html",
        {
            "sub": sub,
            "preview": preview,
            "heading": heading,
            "confirm_label": label,
            "carried": carried,
            "csv_text": csv_text,
            "token": form_token_issue(request, CONFIRM),
            "stale": STALE if stale else "",
            "back_url": request.get_full_path(),
        },
        status=409 if stale else 200,
    )


def _confirm_token(request) -> str | None:
    """The confirmation's token when this session was issued it, else None (with a message)."""
    token = request.POST.get("token", "")
    if form_token_valid(request, CONFIRM, token):
        return token
    messages.error(request, EXPIRED)
    return None


def _change(request, sub, action):
    form = ChangeForm(request.POST, plans=_plans_for_change(sub))
    if not form.is_valid():
        return {"change_form": form}
    data = form.cleaned_data
    plan = Plan.objects.get(pk=data["plan"])
    values = {
        "actor": request.user,
        "subscription": sub,
        "plan": plan if plan.pk != sub.plan_id else None,
        "quantity": data["quantity"],
        "term": data["term"],
    }
    carried = [("plan", plan.pk), ("quantity", data["quantity"]), ("term", data["term"])]
    try:
        if action == "change":
            preview = services.subscription_change_preview(**values)
            return _preview_page(request, sub, preview, carried=carried)
        token = _confirm_token(request)
        if token is None:
            return HttpResponseRedirect(request.get_full_path())
        order = services.subscription_change_confirm(
            **values, fingerprint=request.POST.get("fingerprint", ""), idempotency_key=token
        )
    except services.PreviewChanged as exc:
        return _preview_page(request, sub, exc.preview, carried=carried, stale=True)
    except NotFound:
        raise
    except ApplicationError as exc:
        apply_error(request, exc, form)
        return {"change_form": form}
    if order.timing == "end_of_term":
        messages.success(
            request,
            _("Scheduled for %(day)s: %(change)s.")
            % {"day": date_format(order.effective_on, "d M Y"), "change": order.note},
        )
    else:
        total = sum((c.amount for c in order.charges.all()), Decimal(0))
        billed = (
            " "
            + _("%(amount)s before tax is on your next invoice.")
            % {"amount": format_money(total, order.currency)}
            if total
            else ""
        )
        messages.success(request, _("Changed now: %(change)s.") % {"change": order.note} + billed)
    return HttpResponseRedirect(request.get_full_path())


def _cancel(request, sub, action):
    now = request.POST.get("immediately") == "1"
    values = {"actor": request.user, "subscription": sub, "immediately": True if now else None}
    carried = [("immediately", "1")] if now else []
    try:
        if action == "cancel":
            preview = services.subscription_cancel_preview(**values)
            return _preview_page(request, sub, preview, carried=carried)
        token = _confirm_token(request)
        if token is None:
            return HttpResponseRedirect(request.get_full_path())
        order = services.subscription_cancel_confirm(
            **values, fingerprint=request.POST.get("fingerprint", ""), idempotency_key=token
        )
    except services.PreviewChanged as exc:
        return _preview_page(request, sub, exc.preview, carried=carried, stale=True)
    if order.timing == "end_of_term":
        messages.success(
            request,
            _("The subscription ends on %(day)s.")
            % {"day": date_format(order.effective_on, "d M Y")},
        )
    else:
        messages.success(request, _("The subscription is cancelled."))
    return HttpResponseRedirect(request.get_full_path())


def _seats_import(request, sub, action):
    """The file is previewed from the upload and confirmed from the text the preview page
    carries back; the report is shown after the redirect."""
    if action == "import":
        form = SeatImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return {"import_form": form}
        text = clean_import_text(form.cleaned_data["file"])
        try:
            preview = services.seats_import_preview(actor=request.user, subscription=sub, text=text)
        except NotFound:
            raise
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return {"import_form": form}
        return _preview_page(request, sub, preview, carried=[], csv_text=text)
    text = request.POST.get("csv", "")
    if len(text) > 1_000_000:
        messages.error(request, _("The file is too large; import at most 1 MB at a time."))
        return HttpResponseRedirect(request.get_full_path())
    token = _confirm_token(request)
    if token is None:
        return HttpResponseRedirect(request.get_full_path())
    try:
        report = services.seats_import_confirm(
            actor=request.user,
            subscription=sub,
            text=text,
            fingerprint=request.POST.get("fingerprint", ""),
            idempotency_key=token,
        )
    except services.PreviewChanged as exc:
        return _preview_page(request, sub, exc.preview, carried=[], csv_text=text, stale=True)
    if report is None:
        messages.info(request, _("This file was already imported."))
    else:
        ok = sum(1 for row in report if row.ok)
        messages.info(
            request, _("%(ok)s of %(total)s rows assigned.") % {"ok": ok, "total": len(report)}
        )
        request.session[_import_report_key(sub)] = [asdict(row) for row in report]
    return HttpResponseRedirect(request.get_full_path())


def _subscription_page(request, sub, template):
    if live.wants_status(request):
        return live.render_status(request, "orders/_seats.html", _seats_context(request, sub))
    forms = {}
    if request.method == "GET":
        forms["import_report"] = request.session.pop(_import_report_key(sub), None)
    if request.method == "POST":
        result = _subscription_post(request, sub)
        if not isinstance(result, dict):
            return result
        forms = result
        sub = selectors.access_subscription(request.user, sub.pk)
    return render_console(request, template, _subscription_context(request, sub, **forms))


# --- customer portal --------------------------------------------------------------------------


@customer_console
def customer_subscriptions(request, org):
    subs = list(selectors.visible_subscriptions(request.user).filter(customer=org))
    return render_console(request, "orders/customer/subscriptions.html", {"subs": subs})


@customer_console
@require_http_methods(["GET", "POST"])
def customer_subscription(request, org, sub_id):
    sub = selectors.access_subscription(request.user, sub_id)
    if sub.customer_id != org.pk:
        raise Http404("No such subscription.")
    return _subscription_page(request, sub, "orders/subscription.html")


@customer_console
def customer_orders(request, org):
    orders = selectors.visible_orders(request.user).filter(customer=org)
    page = Paginator(orders, 25).get_page(request.GET.get("page"))
    return render_console(request, "orders/order_list.html", {"page": page})


@customer_console
@require_http_methods(["GET", "POST"])
def customer_order(request, org, order_id):
    order = selectors.access_order(request.user, order_id)
    if order.customer_id != org.pk:
        raise Http404("No such order.")
    return _order_page(request, order)


@customer_console
@require_http_methods(["GET", "POST"])
def customer_order_new(request, org):
    access.require(request.user, "orders.place", org)
    source = request.POST or request.GET
    try:
        offer = catalog_selectors.storefront_offer(org.parent, source.get("offer"))
    except NotFound:
        messages.info(request, _("Choose an offer to order."))
        return redirect("customer_offers", org_id=org.pk)
    initial = {
        "seats": request.GET.get("seats") or max(offer.plan.seat_min, 1),
        "term": request.GET.get("term") or "monthly",
        "code": request.GET.get("code", ""),
    }
    form = QuantityTermForm(request.POST or initial)
    quote = _live_quote(form, seller=org.parent, customer=org, offer=offer)
    token, token_ok = _form_token(request, "customer-order")
    ordering = request.method == "POST" and request.POST.get("action") in ("order", "draft")
    if ordering and quote and not token_ok:
        messages.error(request, EXPIRED)
    elif ordering and quote:
        try:
            order = services.order_create(
                actor=request.user,
                customer=org,
                offer=offer,
                quantity=form.cleaned_data["seats"],
                term=form.cleaned_data["term"],
                promotion_code=form.cleaned_data.get("code", ""),
                submit=request.POST["action"] == "order",
                idempotency_key=token,
            )
        except ApplicationError as exc:
            apply_error(request, _remap(exc), form)
        else:
            return redirect("orders_customer_order", org_id=org.pk, order_id=order.pk)
    return render_console(
        request,
        "orders/order_form.html",
        {
            "offer": offer,
            "form": form,
            "quote": quote,
            "token": token,
            "customer": org,
            "can_draft": True,
        },
    )


# --- seller console ---------------------------------------------------------------------------


@seller_console
def console_orders(request, org):
    orders = selectors.visible_orders(request.user).filter(customer__path__startswith=org.path)
    state = request.GET.get("state", "")
    if state == "open":
        orders = orders.exclude(state__in=[OrderState.COMPLETED, OrderState.CANCELLED])
    elif state in OrderState.values:
        orders = orders.filter(state=state)
    query = clean_text(request.GET.get("q", ""))
    if query:
        orders = orders.filter(customer__name__icontains=query)
    page = Paginator(orders, 25).get_page(request.GET.get("page"))
    pending_customers = []
    if access.can(request.user, "orders.approve", org):
        pending_customers = list(
            access.visible_organizations(request.user).filter(
                kind="customer", status=OrgStatus.PENDING, parent=org
            )
        )
    return render_console(
        request,
        "orders/order_list.html",
        {
            "page": page,
            "state": state,
            "query": query,
            "states": OrderState.choices,
            "pending_customers": pending_customers,
            "can_order": access.can(request.user, "customer.create", org) or org.children.exists(),
        },
    )


@seller_console
@require_http_methods(["POST"])
def console_customer_approve(request, org, customer_id):
    customer = access.access_organization(request.user, customer_id)
    try:
        services.customer_approve(actor=request.user, customer=customer)
        messages.success(request, f"{customer.name} is approved.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("orders_console_list", org_id=org.pk)


@seller_console
@require_http_methods(["GET", "POST"])
def console_order(request, org, order_id):
    order = selectors.access_order(request.user, order_id)
    if not order.customer.path.startswith(org.path):
        raise Http404("No such order.")
    return _order_page(request, order)


@seller_console
@require_http_methods(["GET", "POST"])
def console_order_new(request, org):
    """Order on behalf of a customer: choose the customer and one of its seller's offers."""
    customers = [
        c
        for c in selectors.orderable_customers(request.user, org)
        if access.can(request.user, "orders.place", c)
    ]
    source = request.POST or request.GET
    chosen = next((c for c in customers if str(c.pk) == source.get("customer", "")), None)
    offers = catalog_selectors.sellable_offers(chosen.parent) if chosen else []
    token, token_ok = _form_token(request, "console-order")
    initial = {
        "customer": chosen.pk if chosen else "",
        "seats": 1,
        "term": "monthly",
        "token": token,
    }
    bound = request.method == "POST" or "offer" in request.GET
    form = ConsoleOrderForm(
        _with_token(source, token) if bound else None,
        initial=initial,
        customers=customers,
        offers=offers,
        payments=on_behalf.payment_choices(request.user, chosen),
    )
    quote = None
    if bound and chosen and form.is_valid():
        offer = next((o for o in offers if o.pk == form.cleaned_data["offer"]), None)
        if offer is None:
            form.add_error("offer", "Choose one of the offers sold to this customer.")
        else:
            quote = _live_quote(form, seller=chosen.parent, customer=chosen, offer=offer)
            action = request.POST.get("action")
            if request.method == "POST" and action in ("order", "draft") and quote and not token_ok:
                form.add_error(None, EXPIRED)
            elif request.method == "POST" and action in ("order", "draft") and quote:
                try:
                    order = services.order_create(
                        actor=request.user,
                        customer=chosen,
                        offer=offer,
                        quantity=form.cleaned_data["seats"],
                        term=form.cleaned_data["term"],
                        promotion_code=form.cleaned_data.get("code", ""),
                        submit=action == "order",
                        idempotency_key=form.cleaned_data["token"],
                        note=form.cleaned_data.get("note", ""),
                        payment_terms=form.cleaned_data.get("payment") == on_behalf.TERMS,
                    )
                except ApplicationError as exc:
                    apply_error(request, _remap(exc), form)
                else:
                    paid = ""
                    if form.cleaned_data.get("payment") == on_behalf.CARD:
                        paid = " " + on_behalf.charge_first_invoice(request.user, order)
                        order.refresh_from_db()
                    messages.success(
                        request,
                        f"Order {order.number} for {chosen.name}: "
                        f"{order.get_state_display().lower()}.{paid.rstrip()}",
                    )
                    return redirect("orders_console_order", org_id=org.pk, order_id=order.pk)
    return render_console(
        request,
        "orders/console/order_new.html",
        {"form": form, "quote": quote, "chosen": chosen, "no_customers": not customers},
    )


@seller_console
def console_subscriptions(request, org):
    subs = selectors.visible_subscriptions(request.user).filter(customer__path__startswith=org.path)
    status = request.GET.get("status", "")
    if status in SubscriptionStatus.values:
        subs = subs.filter(status=status)
    query = clean_text(request.GET.get("q", ""))
    if query:
        subs = subs.filter(customer__name__icontains=query)
    page = Paginator(subs, 25).get_page(request.GET.get("page"))
    return render_console(
        request,
        "orders/console/subscriptions.html",
        {"page": page, "status": status, "query": query, "statuses": SubscriptionStatus.choices},
    )


@seller_console
@require_http_methods(["GET", "POST"])
def console_subscription(request, org, sub_id):
    sub = selectors.access_subscription(request.user, sub_id)
    if not sub.customer.path.startswith(org.path):
        raise Http404("No such subscription.")
    return _subscription_page(request, sub, "orders/subscription.html")


@seller_console
@require_http_methods(["GET", "POST"])
def console_policy(request, org):
    policy = selectors.seller_policy(org)
    form = PolicyForm(
        request.POST or None,
        initial={
            "approve_orders": policy.approve_orders,
            "approve_new_customers": org.approve_new_customers,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.seller_policy_update(actor=request.user, seller=org, **form.cleaned_data)
        except ApplicationError as exc:
            apply_error(request, exc, form)
        else:
            messages.success(request, "Saved.")
            return redirect("orders_console_policy", org_id=org.pk)
    return render_console(
        request,
        "orders/console/policy.html",
        {"form": form, "can_edit": access.can(request.user, "orders.policy", org)},
    )

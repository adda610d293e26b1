"""A seller's payment set-up in its console: its Stripe keys (checked against Stripe when
saved, never shown again), the webhook address to give Stripe, its payment policy (dunning
schedule, unpaid orders, self-service limits), and the invoice terms it grants a customer."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from payments.forms import PolicyForm, StripeKeysForm
from payments.models import StripeAccount
from payments.services import accounts
from payments.services.ordering import policy_of
from portal import access
from portal.errors import ApplicationError, NotFound, PermissionDenied
from portal.views import apply_error, render_console, seller_console

POLICY_FIELDS = tuple(PolicyForm.base_fields)


def _hint(secret: str) -> str:
    return f"…{secret[-4:]}" if secret else ""


def _policy_form(org, data=None) -> PolicyForm:
    form = PolicyForm(data, initial=None if data is not None else _policy_initial(org))
    form.fields["max_amount_per_order"].label += f" ({org.currency})"
    return form


def _policy_initial(org) -> dict:
    policy = policy_of(org)
    return {
        name: "" if getattr(policy, name) is None else getattr(policy, name)
        for name in POLICY_FIELDS
    }


@seller_console
@require_http_methods(["GET", "POST"])
def console_payment_settings(request, org):
    """Both forms on one page; each posts its own ``action``. The page is for the seller's own
    admins and billing staff; only its admins change the keys."""
    access.require(request.user, "payments.manage", org)
    can_keys = access.can(request.user, "payments.account", org)
    account = StripeAccount.objects.filter(seller=org).first()
    keys_form = StripeKeysForm(
        initial={"publishable_key": account.publishable_key} if account else None
    )
    policy_form = _policy_form(org)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "keys":
            access.require(request.user, "payments.account", org)
            keys_form = StripeKeysForm(request.POST)
            if keys_form.is_valid():
                try:
                    account = accounts.stripe_account_save(
                        actor=request.user, seller=org, **keys_form.cleaned_data
                    )
                except PermissionDenied:
                    raise
                except ApplicationError as exc:
                    apply_error(request, exc, keys_form)
                else:
                    mode = "live" if account.livemode else "test"
                    messages.success(
                        request,
                        f"Stripe accepted the keys ({mode} mode). Give Stripe the webhook "
                        "address below if you have not yet.",
                    )
                    return redirect("payments_console_settings", org_id=org.pk)
        elif action == "policy":
            policy_form = _policy_form(org, request.POST)
            if policy_form.is_valid():
                try:
                    accounts.payment_policy_update(
                        actor=request.user, seller=org, **policy_form.cleaned_data
                    )
                except PermissionDenied:
                    raise
                except ApplicationError as exc:
                    apply_error(request, exc, policy_form)
                else:
                    messages.success(request, "The payment policy is saved.")
                    return redirect("payments_console_settings", org_id=org.pk)
        else:
            messages.error(request, "Unknown action.")
        status = 400
    return render_console(
        request,
        "payments/console/settings.html",
        {
            "account": account,
            "secret_hint": _hint(account.secret_key) if account else "",
            "webhook_hint": _hint(account.webhook_secret) if account else "",
            "webhook_url": (
                accounts.webhook_url(account, base=request.build_absolute_uri("/"))
                if account
                else ""
            ),
            "can_keys": can_keys,
            "keys_form": keys_form,
            "policy_form": policy_form,
            "policy": policy_of(org),
            "brand": getattr(request, "console_brand", None),
            "can_brand": access.can(request.user, "brand.manage", org),
        },
        status=status,
    )


def console_customer_of(request, org, customer_id):
    """A customer below the console's organization that the person may see; anything else
    (another seller's customer, a reseller, a missing id) is the same 404."""
    customer = access.access_organization(request.user, customer_id)
    if not customer.is_customer or not customer.path.startswith(org.path):
        raise NotFound("No such organization.")
    return customer


@seller_console
@require_POST
def console_customer_terms(request, org, customer_id):
    """Grant (``days``) or withdraw (``action=withdraw``) a customer's invoice terms, from its
    page in the console; back to that page either way."""
    customer = console_customer_of(request, org, customer_id)
    access.require(request.user, "payments.manage", customer.parent)
    withdraw = request.POST.get("action") == "withdraw"
    days = None if withdraw else (request.POST.get("days") or "").strip()
    if not withdraw and not days:
        messages.error(request, "Give the number of days to pay within, e.g. 30.")
    else:
        try:
            accounts.invoice_terms_set(actor=request.user, buyer=customer, days=days)
        except PermissionDenied:
            raise
        except ApplicationError as exc:
            messages.error(request, f"Invoice terms: {exc.message}")
        else:
            messages.success(
                request,
                f"{customer.name} now pays by card before anything is provisioned."
                if withdraw
                else f"{customer.name} may pay its invoices within {int(days)} days.",
            )
    return redirect("console_org", org_id=org.pk, target_id=customer.pk)

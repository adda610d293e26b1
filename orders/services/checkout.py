"""Storefront checkout: a visitor orders and registers in one step."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from catalog.models import Offer
from orders.models import Order
from orders.services.orders import order_create
from portal import access
from portal.actors import system
from portal.errors import Conflict, ValidationError
from portal.idempotency import idempotency_claim
from portal.models import Organization, User
from portal.services import customer_signup, user_create

CHECKOUT = system("storefront-checkout")


@transaction.atomic
def checkout(
    *,
    seller: Organization,
    offer: Offer,
    quantity,
    term: str,
    promotion_code: str = "",
    company_name: str,
    full_name: str,
    email: str,
    password: str,
    idempotency_key: str,
) -> Order:
    """A visitor orders on a storefront and registers in the same step: a person (e-mail not
    yet verified), a customer of the storefront's seller and a submitted order, all in one
    transaction. The order waits for the e-mail address to be verified.

    ``idempotency_key`` is the form's one-time token, which the page ties to the visitor's
    session (``portal.idempotency.form_token_valid``); it is scoped to the seller. Sending the
    same form again returns the first order; the same token with other details is refused."""
    if not (idempotency_key or "").strip():
        raise ValidationError("The checkout form is missing its one-time token; reload the page.")
    if offer.seller_id != seller.pk:
        raise ValidationError.for_field("offer", "No such offer is sold here.")
    claim = idempotency_claim(
        organization=seller,
        operation="storefront.checkout",
        key=idempotency_key,
        request={
            "offer": offer.pk,
            "quantity": str(quantity),
            "term": term,
            "promotion_code": (promotion_code or "").strip(),
            "company_name": (company_name or "").strip(),
            "full_name": (full_name or "").strip(),
            "email": (email or "").strip().lower(),
        },
        actor=CHECKOUT,
    )
    if claim.replay:
        return claim.result(Order)
    # Everything below is one transaction: bad order details undo the new person too.
    try:
        with transaction.atomic():
            user = user_create(email=email, password=password, full_name=full_name, verified=False)
            customer = customer_signup(
                user=user, seller=seller, company_name=company_name, full_name=full_name
            )
            access.forget(user)
            order = order_create(
                actor=user,
                customer=customer,
                offer=offer,
                quantity=quantity,
                term=term,
                promotion_code=promotion_code,
                submit=True,
            )
    except (IntegrityError, Conflict):
        if User.objects.filter(email__iexact=(email or "").strip()).exists():
            raise Conflict.for_field(
                "email", "A user is already registered with this email address; sign in to order."
            ) from None
        raise
    claim.complete(order)
    return order

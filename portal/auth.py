"""django-allauth integration: sign-up places the new customer under the storefront's seller,
and allauth's e-mails go out branded, through the same task as every other e-mail.

The verification e-mail of a person who ordered names the seller's brand and the order, and
following its link lands them on that order: the landing page is computed from the address the
key confirms (never from the link), and the order page asks that person to sign in when the
link is opened in another browser, so the link leads nowhere for anyone else."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from portal.mail import sender_for


def _first_address(email_address) -> bool:
    """Whether this is the address the person signed up with (no other is verified): an
    address added later is about the account, not about an order."""
    from allauth.account.models import EmailAddress

    return (
        not EmailAddress.objects.filter(user_id=email_address.user_id, verified=True)
        .exclude(pk=email_address.pk)
        .exists()
    )


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        storefront = getattr(request, "storefront", None)
        return storefront is not None and storefront.status == "active"

    def send_confirmation_mail(self, request, emailconfirmation, signup):
        # The order is looked up here and handed to send_mail, which draws the e-mail in its
        # seller's brand.
        from orders.selectors import order_of_new_person

        address = emailconfirmation.email_address
        self._order = order_of_new_person(address.user) if _first_address(address) else None
        try:
            super().send_confirmation_mail(request, emailconfirmation, signup)
        finally:
            self._order = None

    def get_email_verification_redirect_url(self, email_address):
        """The person's order when they have one (signed in or not: the order page asks
        them to sign in first), else allauth's default."""
        from orders.selectors import order_of_new_person

        order = order_of_new_person(email_address.user) if _first_address(email_address) else None
        if order is None:
            return super().get_email_verification_redirect_url(email_address)
        return reverse(
            "orders_customer_order", kwargs={"org_id": order.customer_id, "order_id": order.pk}
        )

    def send_mail(self, template_prefix, email, context):
        from portal.tasks import email_send

        request = context.get("request") or getattr(self, "request", None)
        order = getattr(self, "_order", None)
        brand = getattr(request, "brand", None)
        if order is not None:
            brand = getattr(order.seller, "brand", None) or brand
            context = {**context, "order": order}
        self._mail_brand = brand
        context = {
            **context,
            "brand": brand,
            "brand_name": brand.name if brand else "Box broker",
            "expiry_days": settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS,
        }
        message = self.render_mail(template_prefix, email, context)
        from_email, reply_to = sender_for(brand)
        subject, body, to = message.subject, message.body, list(message.to)
        transaction.on_commit(
            lambda: email_send.delay(
                subject=subject, body=body, to=to, from_email=from_email, reply_to=reply_to
            )
        )

    def format_email_subject(self, subject):
        brand = getattr(self, "_mail_brand", None) or getattr(
            getattr(self, "request", None), "brand", None
        )
        return f"[{brand.name}] {subject}" if brand else subject

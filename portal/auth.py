"""django-allauth integration: sign-up places the new customer under the storefront's seller,
and allauth's e-mails go out branded, through the same task as every other e-mail."""

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction

from portal.mail import sender_for


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        storefront = getattr(request, "storefront", None)
        return storefront is not None and storefront.status == "active"

    def send_mail(self, template_prefix, email, context):
        from portal.tasks import email_send

        request = context.get("request") or getattr(self, "request", None)
        brand = getattr(request, "brand", None)
        context = {**context, "brand": brand, "brand_name": brand.name if brand else "Box broker"}
        message = self.render_mail(template_prefix, email, context)
        from_email, reply_to = sender_for(brand)
        subject, body, to = message.subject, message.body, list(message.to)
        transaction.on_commit(
            lambda: email_send.delay(
                subject=subject, body=body, to=to, from_email=from_email, reply_to=reply_to
            )
        )

    def format_email_subject(self, subject):
        brand = getattr(getattr(self, "request", None), "brand", None)
        return f"[{brand.name}] {subject}" if brand else subject

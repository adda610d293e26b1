"""``{% pay_box invoice as box %}`` and ``{% order_pay_box order as box %}``: the customer's pay
box for an invoice (or for an order's first invoice), built by ``payments.pages.pay_box``.
Only in the customer portal: staff pages never show it."""

from __future__ import annotations

from django import template

from payments.pages import pay_box as boxes

register = template.Library()


def _customer(context):
    request = context.get("request")
    if context.get("console_kind") != "customer" or request is None:
        return None, None
    return request.user, context.get("console_org")


@register.simple_tag(takes_context=True)
def pay_box(context, invoice) -> dict | None:
    user, org = _customer(context)
    if org is None:
        return None
    return boxes.pay_box(user, org, invoice)


@register.simple_tag(takes_context=True)
def order_pay_box(context, order) -> dict | None:
    user, org = _customer(context)
    if org is None or order is None:
        return None
    from billing.models import Invoice

    invoice = Invoice.objects.filter(order=order, buyer=org).first()
    return boxes.pay_box(user, org, invoice)

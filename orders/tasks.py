"""Thin tasks: re-read state, call a service."""

from celery import shared_task
from django.db.models import Q

from orders import services
from orders.models import Subscription, SubscriptionStatus
from portal import clock


@shared_task
def subscriptions_renew_due() -> int:
    """Roll every subscription whose period has ended (trial ends, scheduled changes,
    cancellations at the period end). Each one in its own transaction; idempotent."""
    today = clock.today()
    due = Subscription.objects.filter(
        Q(
            status__in=[
                SubscriptionStatus.TRIAL,
                SubscriptionStatus.ACTIVE,
                SubscriptionStatus.SUSPENDED,
            ]
        ),
        current_period_end__lte=today,
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due)[:5000]:
        subscription_renew.delay(pk)
        count += 1
    return count


@shared_task
def subscription_renew(subscription_id: int) -> None:
    sub = Subscription.objects.filter(pk=subscription_id).first()
    if sub is not None:
        services.subscription_renew(subscription=sub)

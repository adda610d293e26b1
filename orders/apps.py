from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders and subscriptions"

    def ready(self) -> None:
        from allauth.account.signals import email_confirmed

        from orders import navigation, services
        from provisioning import hooks

        hooks.register(
            "orders.order",
            on_succeeded=services.on_order_job_succeeded,
            on_failed=services.on_order_job_failed,
        )
        hooks.register(
            "orders.seatassignment",
            on_succeeded=services.on_seat_job_succeeded,
            on_failed=services.on_seat_job_failed,
        )
        email_confirmed.connect(_resume_orders, dispatch_uid="orders.resume_after_verification")
        navigation.register_items()


def _resume_orders(request, email_address, **kwargs):
    from orders.services import orders_resume_after_verification

    orders_resume_after_verification(user=email_address.user)

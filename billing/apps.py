from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from portal import navigation

        def provider(user, org, membership) -> bool:
            return org.is_provider

        navigation.register(
            "seller",
            navigation.NavItem("Usage collections", "billing_usage_collections", 45, provider),
        )

        from billing.navigation import register_billing_items

        register_billing_items()

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Box provisioning"

    def ready(self) -> None:
        from portal import navigation

        def seller(user, org, membership) -> bool:
            return org.is_seller

        navigation.register(
            "seller",
            navigation.NavItem("Provisioning", "provisioning_queue", 40, seller, icon="cog"),
        )
        navigation.register(
            "seller",
            navigation.NavItem("Box accounts", "provisioning_accounts", 41, seller, icon="box"),
        )

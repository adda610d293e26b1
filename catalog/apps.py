from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog and pricing"

    def ready(self) -> None:
        from catalog import navigation, storefront_signals

        navigation.register_catalog_items()
        storefront_signals.connect()

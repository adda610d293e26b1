from django.apps import AppConfig


class ConsolesConfig(AppConfig):
    name = "consoles"
    verbose_name = "Seller consoles: dashboards and staff alerts"

    def ready(self) -> None:
        from consoles import signals

        signals.connect()

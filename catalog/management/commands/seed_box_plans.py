"""``manage.py seed_box_plans``: create the standard Box plans (Individual, Starter, Business,
Business Plus, Enterprise) and their allowed changes when they are missing."""

from django.core.management.base import BaseCommand

from catalog.services import plan_seed_defaults


class Command(BaseCommand):
    help = "Create the standard Box plans when missing (idempotent)."

    def handle(self, *args, **options):
        plans = plan_seed_defaults()
        self.stdout.write(", ".join(f"{p.name} ({p.code})" for p in plans))

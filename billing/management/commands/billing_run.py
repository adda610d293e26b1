"""``manage.py billing_run``: run billing now (what the nightly task runs), for today or a
given day. Safe to run again, and beside a run already going: nothing is billed twice."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing.services.run import BATCH, RUN, billing_run


class Command(BaseCommand):
    help = (
        "Renew and bill every subscription whose period has ended by the given day (default: "
        "today), then issue the invoices that are complete. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD; default today")
        parser.add_argument("--batch", type=int, default=BATCH, help="subscriptions per batch")

    def handle(self, *args, day=None, batch=BATCH, **options):
        try:
            when = date.fromisoformat(day) if day else None
        except ValueError:
            raise CommandError(f"--day {day!r} is not a date like 2027-02-01.") from None
        if batch < 1:
            raise CommandError("--batch is at least 1.")
        run = billing_run(actor=RUN, day=when, batch=batch)
        self.stdout.write(
            f"Billing run of {run.day}: {run.subscriptions_billed} boundaries billed, "
            f"{run.lines_written} lines, {run.invoices_issued} invoices issued, "
            f"{run.issues_opened} subscriptions flagged, {run.errors} errors, "
            f"{run.duration_seconds:.1f} s."
        )
        if run.errors:
            raise CommandError("The run finished with errors; see the billing runs page.")

"""``manage.py usage_collect``: collect or re-collect usage for a range of days."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from billing import selectors
from billing.models import CollectionState
from billing.services import usage
from portal import clock
from portal.actors import system
from portal.errors import ApplicationError
from provisioning.models import BoxAccount

ACTOR = system("usage_collect")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "Collect or re-collect the usage of a range of days (default: today). Box has no "
        "history API: days before today are re-aggregated from the per-user usage stored when "
        "they were collected (and the subscriptions' seats); today is collected from Box, one "
        "listing of each live account's users. Running it again updates the same days and "
        "duplicates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: today)")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: --from)")
        parser.add_argument(
            "--account",
            dest="accounts",
            action="append",
            type=int,
            help="only this Box account (its id; may be given more than once)",
        )

    def handle(self, *args, **options):
        today = clock.today()
        start = _day(options["start"]) if options["start"] else today
        end = _day(options["end"]) if options["end"] else start
        if end < start:
            raise CommandError("--to is before --from.")
        if end > today:
            raise CommandError(
                f"{end} is in the future; the last day that can be collected is today, {today}."
            )
        ids = options["accounts"]
        if ids:
            found = set(BoxAccount.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = sorted(set(ids) - found)
            if missing:
                raise CommandError(f"No Box account {', '.join(map(str, missing))}.")
        console = Console(file=self.stdout._out, highlight=False)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            if start < today:
                self._reaggregate(progress, start, min(end, today - timedelta(days=1)), ids)
            if end == today:
                self._collect_today(progress, today, ids)

    def _reaggregate(self, progress, start: date, end: date, ids) -> None:
        bar = progress.add_task(f"Re-aggregating {start} to {end}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        report = usage.usage_reaggregate(
            start=start, end=end, account_ids=ids, actor=ACTOR, progress=advance
        )
        progress.console.print(
            f"{start} to {end}: {report.records} records of {report.subscriptions} subscription(s) "
            f"re-aggregated from stored usage ({report.account_days} account-days)."
        )
        for account_id, missing in sorted(report.skipped_days.items()):
            progress.console.print(
                f"  account {account_id}: {missing} day(s) without stored usage, left alone "
                "(Box cannot be asked about a past day)."
            )

    def _collect_today(self, progress, today: date, ids) -> None:
        accounts = selectors.live_accounts().exclude(customer__sandbox=True)
        if ids:
            accounts = BoxAccount.objects.filter(pk__in=ids).order_by("pk")
        accounts = list(accounts)
        bar = progress.add_task(f"Collecting {today} from Box", total=len(accounts))
        counts = dict.fromkeys(CollectionState.values, 0)
        for account in accounts:
            try:
                collection = usage.usage_collection_request(account=account, day=today, actor=ACTOR)
                collection = usage.usage_collection_collect(collection=collection, actor=ACTOR)
            except ApplicationError as exc:
                progress.console.print(f"  account {account.pk}: {exc.message}")
                counts[CollectionState.FAILED] += 1
            else:
                counts[collection.state] += 1
                if collection.state != CollectionState.SUCCEEDED or collection.last_error:
                    progress.console.print(
                        f"  account {account.pk}: {collection.get_state_display().lower()}"
                        + (f" ({collection.last_error})" if collection.last_error else "")
                    )
            progress.update(bar, advance=1)
        progress.console.print(
            f"{today}: {counts[CollectionState.SUCCEEDED]} of {len(accounts)} accounts collected "
            f"from Box, {counts[CollectionState.FAILED]} failed, "
            f"{counts[CollectionState.PENDING]} waiting for a retry."
        )

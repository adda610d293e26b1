"""Thin Celery tasks on the ``provisioning`` queue (routed by module in settings). Each passes
ids, re-reads state and calls the engine; none holds business rules."""

from __future__ import annotations

from celery import shared_task

from portal.actors import system
from provisioning import engine, reconcile
from provisioning.models import BoxAccount

RECONCILER = system("reconcile")


@shared_task(name="provisioning.tasks.account_run", ignore_result=True)
def account_run(account_id: int) -> int:
    """Run one account's due jobs in order, for a bounded time."""
    return engine.account_run(account_id)


@shared_task(name="provisioning.tasks.jobs_sweep", ignore_result=True)
def jobs_sweep() -> dict:
    """Re-queue jobs whose worker's lease ran out; hand due accounts to workers (beat)."""
    return engine.jobs_sweep()


@shared_task(name="provisioning.tasks.account_reconcile", ignore_result=True)
def account_reconcile(account_id: int) -> dict:
    account = BoxAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {}
    report = reconcile.account_reconcile(account, actor=RECONCILER)
    return {"opened": report.opened, "resolved": report.resolved}


@shared_task(name="provisioning.tasks.reconcile_all", ignore_result=True)
def reconcile_all() -> int:
    """Nightly (beat): reconcile every active or suspended account, one task each, but those
    the usage collection reconciled within ``BOX_RECONCILE_FRESH_HOURS``."""
    ids = list(reconcile.accounts_due_for_reconcile().values_list("pk", flat=True))
    for account_id in ids:
        account_reconcile.delay(account_id)
    return len(ids)


@shared_task(name="provisioning.tasks.reconcile_settled", ignore_result=True)
def reconcile_settled() -> int:
    """Beat (every few minutes): reconcile each account whose jobs have all ended since its
    last reconciliation, so drift shows soon after work at Box settles, never during it."""
    ids = list(reconcile.accounts_settled_since_reconcile().values_list("pk", flat=True))
    for account_id in ids:
        account_reconcile.delay(account_id)
    return len(ids)

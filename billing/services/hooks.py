"""Hooks between parts of billing, so usage collection need not know about invoices."""

from __future__ import annotations

from datetime import date


def on_usage_recorded(*, subscription, days: list[date]) -> None:
    """Usage of ``subscription`` on ``days`` was written or rewritten. A day inside a period
    already billed in arrears becomes an adjustment on the next invoice (billing.services.run);
    called in the transaction that wrote the usage."""
    from billing.services.run import usage_adjust_billed

    usage_adjust_billed(subscription=subscription, days=days)

"""Every write of ordering, one module per concern. Each function checks the actor's right,
writes one transaction with audit rows, and leaves remote work to provisioning jobs that start
after commit.

- ``orders``: orders and their state machine (create, edit, submit, approve, cancel);
- ``fulfilment``: a new subscription from an order, and what provisioning outcomes do to orders;
- ``changes``: plan, seat and term changes;
- ``subscriptions``: cancellation, suspension, resumption, renewal;
- ``seats``: people holding seats, and CSV import;
- ``adoption``: a Box user found by reconciliation adopted as a seat, and its cost;
- ``checkout``: the storefront's order-and-register step;
- ``approvals``: the seller's order policy and approval of new customers;
- ``previews``: what a change, a cancellation or a seat import will do, before it is confirmed.

Callers import from here: ``from orders import services; services.order_create(...)``.
"""

from orders.services._base import (
    GB,
    box_admin_login,
    holding_seats,
    placed_as_for,
    used_storage_bytes,
)
from orders.services.adoption import AdoptionCost, adoption_preview, seat_adopt
from orders.services.approvals import customer_approve, seller_policy_update
from orders.services.changes import (
    ChangePlan,
    change_preview,
    subscription_change,
    subscription_change_withdraw,
)
from orders.services.checkout import checkout
from orders.services.fulfilment import (
    on_order_job_failed,
    on_order_job_succeeded,
    order_payment_expired,
    order_payment_received,
)
from orders.services.orders import (
    order_approve,
    order_cancel,
    order_create,
    order_submit,
    order_update,
    orders_resume_after_verification,
)
from orders.services.previews import (
    Preview,
    PreviewChanged,
    seats_import_confirm,
    seats_import_preview,
    subscription_cancel_confirm,
    subscription_cancel_preview,
    subscription_change_confirm,
    subscription_change_preview,
)
from orders.services.seats import (
    CSV_COLUMNS,
    ImportRow,
    on_seat_job_failed,
    on_seat_job_succeeded,
    seat_assign,
    seat_reassign,
    seat_unassign,
    seat_update,
    seats_import,
)
from orders.services.subscriptions import (
    subscription_cancel,
    subscription_cancel_withdraw,
    subscription_renew,
    subscription_resume,
    subscription_roll,
    subscription_suspend,
)

__all__ = [
    "CSV_COLUMNS",
    "GB",
    "AdoptionCost",
    "ChangePlan",
    "ImportRow",
    "Preview",
    "PreviewChanged",
    "adoption_preview",
    "box_admin_login",
    "change_preview",
    "checkout",
    "customer_approve",
    "holding_seats",
    "on_order_job_failed",
    "on_order_job_succeeded",
    "on_seat_job_failed",
    "on_seat_job_succeeded",
    "order_approve",
    "order_cancel",
    "order_create",
    "order_payment_expired",
    "order_payment_received",
    "order_submit",
    "order_update",
    "orders_resume_after_verification",
    "placed_as_for",
    "seat_adopt",
    "seat_assign",
    "seat_reassign",
    "seat_unassign",
    "seat_update",
    "seats_import",
    "seats_import_confirm",
    "seats_import_preview",
    "seller_policy_update",
    "subscription_cancel",
    "subscription_cancel_confirm",
    "subscription_cancel_preview",
    "subscription_cancel_withdraw",
    "subscription_change",
    "subscription_change_confirm",
    "subscription_change_preview",
    "subscription_change_withdraw",
    "subscription_renew",
    "subscription_resume",
    "subscription_roll",
    "subscription_suspend",
    "used_storage_bytes",
]

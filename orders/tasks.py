"""Thin tasks: re-read state, call a service. (Renewals are part of the billing run:
billing.tasks.billing_run_nightly.)"""

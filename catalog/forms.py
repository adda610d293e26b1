"""Forms of the catalog's pages. They only shape input; the rules (and their messages) are the
services', so a page and the API refuse the same things with the same words."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import (
    Audience,
    BoxPlan,
    DiscountType,
    Metric,
    Plan,
    PromotionDuration,
    StorageMode,
    Term,
    TierMode,
    TransitionTiming,
)
from portal.money import CURRENCY_CHOICES

TIERS_HELP = (
    "One tier per line: the quantity it goes up to, then the unit price (50 0.10). The last "
    "line is only the price of everything above (0.08). A flat price is one line: 0.10."
)


def _amount(label: str, required: bool = True, help_text: str = "") -> forms.CharField:
    # A text field: the service says what is wrong with a number, in the same words as the API.
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _date(label: str, required: bool = False, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def parse_tiers(text: str) -> list[dict]:
    """``"50 0.10\\n0.08"`` -> ``[{"up_to": "50", "unit_price": "0.10"}, {"up_to": None,
    "unit_price": "0.08"}]``. Separators may be spaces, ':', '=' or '@'."""
    tiers = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = [
            p for p in re.split(r"[\s:=@]+", line) if p and p.lower() not in ("at", "up", "to")
        ]
        if len(parts) == 1:
            tiers.append({"up_to": None, "unit_price": parts[0]})
        elif len(parts) == 2:
            up_to = None if parts[0].lower() in ("*", "-", "above", "rest") else parts[0]
            tiers.append({"up_to": up_to, "unit_price": parts[1]})
        else:
            raise forms.ValidationError(f"Line {number} is not 'quantity price' or 'price'.")
    return tiers


def tiers_text(tiers) -> str:
    def plain(value: Decimal) -> str:
        text = f"{value.normalize():f}"
        return text

    lines = []
    for tier in tiers:
        price = plain(tier.unit_price)
        lines.append(price if tier.up_to is None else f"{plain(tier.up_to)} {price}")
    return "\n".join(lines)


class PlanForm(forms.Form):
    code = forms.SlugField(
        max_length=40, help_text="The catalog's identifier, e.g. business-nonprofit."
    )
    name = forms.CharField(max_length=100)
    box_plan_code = forms.ChoiceField(
        label="Box plan", choices=BoxPlan.choices, help_text="The Box edition provisioned."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    seat_min = forms.IntegerField(label="Minimum seats", min_value=1)
    seat_max = forms.IntegerField(
        label="Maximum seats", min_value=1, required=False, help_text="Empty: no maximum."
    )
    storage_mode = forms.ChoiceField(label="Storage", choices=StorageMode.choices)
    storage_gb = forms.IntegerField(
        label="Storage (GB)",
        min_value=1,
        required=False,
        help_text="Per seat or for the pool; empty when unlimited.",
    )
    max_upload_mb = forms.IntegerField(label="Largest upload (MB)", min_value=1)
    changes_during_trial = forms.BooleanField(
        label="May change plan during a trial", required=False
    )
    cancellation_timing = forms.ChoiceField(
        label="A cancelled subscription ends",
        choices=[("end_of_term", "At the end of the term"), ("immediate", "Immediately")],
        initial="end_of_term",
        required=False,
    )

    def clean_cancellation_timing(self):
        return self.cleaned_data.get("cancellation_timing") or "end_of_term"

    is_active = forms.BooleanField(label="On sale", required=False, initial=True)
    sort_order = forms.IntegerField(min_value=0, max_value=32000, initial=100)

    def __init__(self, *args, plan: Plan | None = None, others=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.others = list(others)
        if plan is not None:
            del self.fields["code"]
        choices = [("", "Not allowed"), *TransitionTiming.choices]
        for other in self.others:
            self.fields[f"to_{other.pk}"] = forms.ChoiceField(
                label=f"Change to {other.name}", choices=choices, required=False
            )

    @property
    def transition_fields(self):
        return [self[f"to_{other.pk}"] for other in self.others]

    @property
    def limit_fields(self):
        return [self[name] for name in self.fields if not name.startswith("to_")]

    def transitions(self) -> list[tuple[Plan, str]]:
        return [
            (other, self.cleaned_data[f"to_{other.pk}"])
            for other in self.others
            if self.cleaned_data.get(f"to_{other.pk}")
        ]

    def plan_values(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if not k.startswith("to_")}


class OfferForm(forms.Form):
    name = forms.CharField(
        label="Name in the storefront",
        max_length=100,
        required=False,
        help_text="Empty: the plan's name.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    trial_days = forms.IntegerField(
        label="Trial (days)", initial=0, help_text="0: no trial; at most 90."
    )
    in_storefront = forms.BooleanField(label="Show in my storefront", required=False, initial=True)
    available_to_all_resellers = forms.BooleanField(
        label="Available to all my resellers", required=False
    )
    available_to = forms.ModelMultipleChoiceField(
        label="Or only to these resellers",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, resellers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if resellers is None or not resellers.exists():
            del self.fields["available_to_all_resellers"]
            del self.fields["available_to"]
        else:
            self.fields["available_to"].queryset = resellers


class PriceForm(forms.Form):
    audience = forms.ChoiceField(choices=Audience.choices)
    buyer = forms.ChoiceField(
        label="For", required=False, help_text="Everyone, or one customer or reseller."
    )
    currency = forms.ChoiceField()
    term = forms.ChoiceField(label="Billing term", choices=Term.choices)
    recurring = _amount("Price per seat", help_text="Per seat for the whole term.")
    setup_fee = _amount("Setup fee", required=False, help_text="Once, on the first invoice.")
    valid_from = _date("In force from", help_text="Today when empty; never in the past.")
    storage_mode = forms.ChoiceField(
        label="Storage over the quota, per GB-month",
        choices=[("", "Not charged"), *TierMode.choices],
        required=False,
    )
    storage_tiers = forms.CharField(
        label="Storage tiers",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "50 0.10\n0.08"}),
        required=False,
    )
    users_mode = forms.ChoiceField(
        label="Active users above the seats, per user",
        choices=[("", "Not charged"), *TierMode.choices],
        required=False,
    )
    users_tiers = forms.CharField(
        label="Extra user tiers",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "15.00"}),
        required=False,
    )

    COMPONENTS = (("storage", Metric.STORAGE), ("users", Metric.EXTRA_USERS))
    # Where a service's error about a component belongs on this form.
    ERROR_FIELDS = {
        f"components.{Metric.STORAGE}": "storage_tiers",
        f"components.{Metric.EXTRA_USERS}": "users_tiers",
        "components": "storage_tiers",
    }

    def __init__(self, *args, currencies=(), audiences=(), buyers=(), storage=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]
        self.fields["audience"].choices = [
            (value, label) for value, label in Audience.choices if value in audiences
        ]
        self.fields["buyer"].choices = [("", "Everyone (the default price)"), *buyers]
        if not storage:
            del self.fields["storage_mode"]
            del self.fields["storage_tiers"]

    USAGE = ("storage_mode", "storage_tiers", "users_mode", "users_tiers")

    @property
    def main_fields(self):
        return [self[name] for name in self.fields if name not in self.USAGE]

    @property
    def usage_fields(self):
        return [
            (self[f"{prefix}_mode"], self[f"{prefix}_tiers"])
            for prefix, _ in self.COMPONENTS
            if f"{prefix}_mode" in self.fields
        ]

    def clean(self):
        data = super().clean()
        components = []
        for prefix, metric in self.COMPONENTS:
            if f"{prefix}_mode" not in self.fields:
                continue
            mode = data.get(f"{prefix}_mode")
            text = data.get(f"{prefix}_tiers", "")
            if not mode:
                if text.strip():
                    self.add_error(f"{prefix}_mode", "Choose how these tiers are charged.")
                continue
            try:
                tiers = parse_tiers(text)
            except forms.ValidationError as exc:
                self.add_error(f"{prefix}_tiers", exc)
                continue
            if not tiers:
                self.add_error(f"{prefix}_tiers", "Give at least one price.")
                continue
            components.append({"metric": metric, "mode": mode, "tiers": tiers})
        data["components"] = components
        return data


class PromotionForm(forms.Form):
    name = forms.CharField(max_length=100)
    code = forms.CharField(
        max_length=40, required=False, help_text="Empty: applied automatically to every order."
    )
    discount_type = forms.ChoiceField(label="Discount", choices=DiscountType.choices)
    percent = _amount("Percent off", required=False)
    amount = _amount("Amount off", required=False)
    currency = forms.ChoiceField(required=False, help_text="For an amount off.")
    duration = forms.ChoiceField(choices=PromotionDuration.choices)
    duration_periods = forms.IntegerField(
        label="Number of periods", required=False, min_value=1, max_value=120
    )
    plans = forms.ModelMultipleChoiceField(
        queryset=Plan.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every plan.",
    )
    valid_from = _date("First day")
    valid_until = _date("Last day")
    max_redemptions = forms.IntegerField(
        label="Uses in all", required=False, min_value=1, help_text="Empty: no limit."
    )
    max_per_customer = forms.IntegerField(label="Uses per customer", min_value=1, initial=1)

    def __init__(self, *args, currencies=(), plans=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]
        self.fields["plans"].queryset = plans if plans is not None else Plan.objects.none()


class PromotionEditForm(forms.Form):
    name = forms.CharField(max_length=100)
    valid_until = _date("Last day")
    max_redemptions = forms.IntegerField(
        label="Uses in all", required=False, min_value=1, help_text="Empty: no limit."
    )
    max_per_customer = forms.IntegerField(label="Uses per customer", min_value=1)
    is_active = forms.BooleanField(label="Active", required=False)


class TaxRateForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="As printed on invoices: VAT, Sales tax.")
    country = forms.CharField(
        max_length=2, required=False, help_text="Two-letter code; empty for any country."
    )
    rate = _amount("Rate (%)", help_text="For example 20.00.")
    valid_from = _date("In force from", help_text="Today when empty.")


class CurrencyForm(forms.Form):
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)


class EstimateForm(forms.Form):
    """The estimate on an offer page (GET, so an estimate can be shared as a link)."""

    seats = forms.IntegerField(label=_("Seats"), min_value=1, max_value=100000)
    term = forms.ChoiceField(
        label=_("Billing"), choices=[(Term.MONTHLY, _("Monthly")), (Term.ANNUAL, _("Annual"))]
    )
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    code = forms.CharField(label=_("Promotion code"), max_length=40, required=False)

    ERROR_FIELDS = {"quantity": "seats", "promotion_code": "code"}

    def __init__(self, *args, currencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]
        if len(currencies) < 2:
            self.fields["currency"].widget = forms.HiddenInput()

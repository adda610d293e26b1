"""The catalog: what can be sold (products and plans with their limits), who sells it at what
price (offers and the price chain), and what lowers a price (trials and promotions), plus the
tax rates and currencies each seller uses.

The price chain (docs/catalog.md): the provider's retail price to its direct customers; its
wholesale price to resellers (a default and optional per-reseller overrides); each reseller's
retail price to its customers and its wholesale price to its own sub-resellers; optional
per-customer prices. All of them are ``Price`` rows, versioned by ``valid_from``.

Writes go through ``catalog.services``; reads through ``catalog.selectors``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from portal.models import Organization, User


class Term(models.TextChoices):
    MONTHLY = "monthly", gettext_noop("Monthly")
    ANNUAL = "annual", gettext_noop("Annual")


class Audience(models.TextChoices):
    RETAIL = "retail", "Retail (to customers)"
    WHOLESALE = "wholesale", "Wholesale (to resellers)"


class Product(models.Model):
    """A kind of service the portal sells and provisions. Today there is one: Box."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    service_type = models.CharField(max_length=20, default="box")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BoxPlan(models.TextChoices):
    """Box's own plan codes, which provisioning passes to Box."""

    INDIVIDUAL = "individual", "Individual"
    STARTER = "starter", "Business Starter"
    BUSINESS = "business", "Business"
    BUSINESS_PLUS = "business_plus", "Business Plus"
    ENTERPRISE = "enterprise", "Enterprise"


class StorageMode(models.TextChoices):
    PER_SEAT = "per_seat", "Per seat"
    POOLED = "pooled", "Pooled"
    UNLIMITED = "unlimited", "Unlimited"


# The most seats one subscription may have on a plan without a maximum of its own: far above
# any real order, far below what would overflow an invoice amount (12 digits).
SEAT_CEILING = 100_000


class Plan(models.Model):
    """A Box plan the provider sells, with its limits as data."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    # The catalog's own identifier; the seeded plans use Box's codes, other plans (a bundle,
    # a nonprofit edition) map onto one of Box's plans through ``box_plan_code``.
    code = models.SlugField(max_length=40, unique=True)
    box_plan_code = models.CharField(max_length=20, choices=BoxPlan.choices)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    seat_min = models.PositiveIntegerField(default=1)
    seat_max = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no maximum.")
    storage_mode = models.CharField(max_length=12, choices=StorageMode.choices)
    storage_gb = models.PositiveIntegerField(
        null=True, blank=True, help_text="GB per seat or for the pool; empty when unlimited."
    )
    max_upload_mb = models.PositiveIntegerField(help_text="Largest single file, in MB.")
    cancellation_timing = models.CharField(
        max_length=12,
        choices=[("end_of_term", "At the end of the term"), ("immediate", "Immediately")],
        default="end_of_term",
        help_text="When a cancelled subscription ends.",
    )
    changes_during_trial = models.BooleanField(
        default=True, help_text="Whether a subscription in its trial may change plan."
    )
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(seat_min__gte=1), name="plan_seat_min_positive"),
            models.CheckConstraint(
                condition=Q(seat_max__isnull=True) | Q(seat_max__gte=F("seat_min")),
                name="plan_seat_max_not_below_min",
            ),
            models.CheckConstraint(
                condition=(Q(storage_mode="unlimited") & Q(storage_gb__isnull=True))
                | (~Q(storage_mode="unlimited") & Q(storage_gb__gt=0)),
                name="plan_storage_gb_matches_mode",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def storage_label(self) -> str:
        if self.storage_mode == StorageMode.UNLIMITED:
            return gettext("Unlimited storage")
        if self.storage_mode == StorageMode.POOLED:
            return gettext("%(gb)s GB shared by all users") % {"gb": self.storage_gb}
        return gettext("%(gb)s GB per user") % {"gb": self.storage_gb}

    @property
    def seat_ceiling(self) -> int:
        """The most seats one subscription may have: the plan's maximum, or else the portal's
        (``SEAT_CEILING``), so a quantity never overflows an amount column."""
        return self.seat_max if self.seat_max is not None else SEAT_CEILING

    @property
    def seats_label(self) -> str:
        if self.seat_max is None:
            return gettext("%(min)s+ users") % {"min": self.seat_min}
        if self.seat_max == self.seat_min:
            return ngettext("%(n)s user", "%(n)s users", self.seat_min) % {"n": self.seat_min}
        return gettext("%(min)s to %(max)s users") % {"min": self.seat_min, "max": self.seat_max}

    @property
    def upload_label(self) -> str:
        if self.max_upload_mb >= 1024 and self.max_upload_mb % 1024 == 0:
            return f"{self.max_upload_mb // 1024} GB"
        return f"{self.max_upload_mb} MB"

    def included_storage_gb(self, seats: int) -> int | None:
        """The storage a subscription of ``seats`` includes; None when unlimited."""
        if self.storage_mode == StorageMode.UNLIMITED:
            return None
        if self.storage_mode == StorageMode.PER_SEAT:
            return self.storage_gb * seats
        return self.storage_gb


class TransitionTiming(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately (prorated)"
    END_OF_TERM = "end_of_term", "At the end of the term"


class PlanTransition(models.Model):
    """A subscription on ``from_plan`` may change to ``to_plan``, at this timing."""

    from_plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="transitions")
    to_plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    timing = models.CharField(max_length=12, choices=TransitionTiming.choices)

    class Meta:
        ordering = ["from_plan_id", "to_plan__sort_order", "to_plan_id"]
        constraints = [
            models.UniqueConstraint(fields=["from_plan", "to_plan"], name="plan_transition_unique"),
            models.CheckConstraint(
                condition=~Q(from_plan=F("to_plan")), name="plan_transition_not_to_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_plan} -> {self.to_plan} ({self.timing})"


class SellerCurrency(models.Model):
    """A currency a seller sells in besides its organization's own currency (which it always
    sells in)."""

    seller = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="catalog_currencies"
    )
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["seller_id", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["seller", "currency"], name="seller_currency_unique")
        ]

    def __str__(self) -> str:
        return f"{self.seller} sells in {self.currency}"


class Offer(models.Model):
    """A plan a seller puts on sale. The provider publishes offers (to its own storefront, the
    marketplace, and to resellers); a reseller picks one of its parent's offers made available
    to it (``parent_offer``) and sells it under its own prices."""

    seller = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="catalog_offers"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="offers")
    parent_offer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resold_as"
    )
    name = models.CharField(max_length=100, blank=True, help_text="Empty: the plan's name.")
    description = models.TextField(blank=True)
    trial_days = models.PositiveSmallIntegerField(default=0, help_text="0: no trial.")
    # Listed in the seller's own storefront (the provider's is the marketplace).
    in_storefront = models.BooleanField(default=True)
    # Which resellers directly below the seller may pick it.
    available_to_all_resellers = models.BooleanField(default=False)
    available_to = models.ManyToManyField(
        Organization, blank=True, related_name="catalog_offers_available"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plan__sort_order", "plan__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["seller", "plan"], name="offer_one_per_seller_plan")
        ]

    def __str__(self) -> str:
        return f"{self.display_name} by {self.seller}"

    @property
    def display_name(self) -> str:
        return self.name or self.plan.name


class Price(models.Model):
    """One version of a price line. A line is (seller, plan, audience, buyer, currency, term);
    its version in force on a day is the one with the latest ``valid_from`` on or before that
    day (the latest created among equals). Rows are never changed: a new price is a new row,
    so invoices and orders can point at the exact version they used."""

    seller = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="catalog_prices"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    # Empty: the seller's default for the audience; else a per-customer (retail) or
    # per-reseller (wholesale) price for that direct child of the seller.
    buyer = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="catalog_prices_as_buyer",
    )
    currency = models.CharField(max_length=3)
    term = models.CharField(max_length=8, choices=Term.choices)
    # Per seat per term (a month or a year), in the currency.
    recurring = models.DecimalField(max_digits=12, decimal_places=4)
    setup_fee = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    valid_from = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["plan__sort_order", "audience", "buyer_id", "currency", "term", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(recurring__gte=0), name="price_recurring_not_negative"
            ),
            models.CheckConstraint(condition=Q(setup_fee__gte=0), name="price_setup_not_negative"),
        ]
        indexes = [
            models.Index(fields=["seller", "audience", "plan", "valid_from"]),
            models.Index(fields=["buyer", "audience"]),
        ]

    def __str__(self) -> str:
        who = f" for {self.buyer}" if self.buyer_id else ""
        return (
            f"{self.plan} {self.audience} {self.currency} {self.term}{who} "
            f"from {self.valid_from:%Y-%m-%d}"
        )

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("Prices are never changed; create a new version.")
        super().save(*args, **kwargs)


class Metric(models.TextChoices):
    STORAGE = "storage_gb_month", "Storage over the included quota (per GB-month)"
    EXTRA_USERS = "extra_active_user", "Active users above the purchased seats (per user)"


class TierMode(models.TextChoices):
    FLAT = "flat", "Flat"
    GRADUATED = "graduated", "Graduated"
    VOLUME = "volume", "Volume"


class PriceComponent(models.Model):
    """A pay-per-use part of a price version, with its tiers. Immutable like its price."""

    price = models.ForeignKey(Price, on_delete=models.CASCADE, related_name="components")
    metric = models.CharField(max_length=24, choices=Metric.choices)
    mode = models.CharField(max_length=10, choices=TierMode.choices)

    class Meta:
        ordering = ["price_id", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["price", "metric"], name="price_component_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} ({self.mode})"


class PriceTier(models.Model):
    component = models.ForeignKey(PriceComponent, on_delete=models.CASCADE, related_name="tiers")
    position = models.PositiveSmallIntegerField()
    # Inclusive upper limit of the tier in units (GB-months, users); empty on the last tier.
    up_to = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        ordering = ["component_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["component", "position"], name="price_tier_unique"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_tier_not_negative"),
        ]

    def __str__(self) -> str:
        return f"up to {self.up_to or 'any'} at {self.unit_price}"


class TrialUse(models.Model):
    """A customer's one trial of a product. Written when an order starts a trial."""

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="trial_uses")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="trial_uses")
    started_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "product"], name="trial_once_per_product")
        ]

    def __str__(self) -> str:
        return f"{self.customer} trial of {self.product} from {self.started_on}"


class PromotionKind(models.TextChoices):
    CODE = "code", "Code"
    AUTOMATIC = "automatic", "Automatic"


class DiscountType(models.TextChoices):
    PERCENT = "percent", "Percentage"
    FIXED = "fixed", "Fixed amount"


class PromotionDuration(models.TextChoices):
    ONCE = "once", "Once"
    REPEATING = "repeating", "For a number of periods"
    FOREVER = "forever", "Forever"


class Promotion(models.Model):
    """A discount on recurring charges, offered by one seller to its own customers."""

    seller = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="catalog_promotions"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=PromotionKind.choices)
    # Upper case, unique per seller; empty for automatic promotions.
    code = models.CharField(max_length=40, blank=True)
    discount_type = models.CharField(max_length=8, choices=DiscountType.choices)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="For fixed amounts.")
    duration = models.CharField(max_length=10, choices=PromotionDuration.choices)
    duration_periods = models.PositiveSmallIntegerField(null=True, blank=True)
    # Empty: every plan.
    plans = models.ManyToManyField(Plan, blank=True, related_name="promotions")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Last day it can be used.")
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: no limit."
    )
    max_per_customer = models.PositiveSmallIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_active", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "code"], condition=~Q(code=""), name="promotion_code_unique"
            ),
            models.CheckConstraint(
                condition=(Q(kind="code") & ~Q(code="")) | (Q(kind="automatic") & Q(code="")),
                name="promotion_code_matches_kind",
            ),
            models.CheckConstraint(
                condition=(
                    Q(discount_type="percent", percent__gt=0, percent__lte=100)
                    | Q(discount_type="fixed", amount__gt=0)
                ),
                name="promotion_discount_valid",
            ),
            models.CheckConstraint(
                condition=~Q(duration="repeating") | Q(duration_periods__gte=1),
                name="promotion_periods_when_repeating",
            ),
            models.CheckConstraint(
                condition=Q(max_per_customer__gte=1), name="promotion_per_customer_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.code or self.name

    @property
    def discount_label(self) -> str:
        from portal.money import format_money

        if self.discount_type == DiscountType.PERCENT:
            value = gettext("%(percent)s%% off") % {"percent": f"{self.percent.normalize():f}"}
        else:
            value = gettext("%(amount)s off") % {"amount": format_money(self.amount, self.currency)}
        if self.duration == PromotionDuration.ONCE:
            return gettext("%(discount)s the first period") % {"discount": value}
        if self.duration == PromotionDuration.REPEATING:
            n = self.duration_periods
            return ngettext(
                "%(discount)s for %(n)s period", "%(discount)s for %(n)s periods", n
            ) % {"discount": value, "n": n}
        return gettext("%(discount)s, every period") % {"discount": value}

    def covers_period(self, index: int) -> bool:
        """Whether the discount applies to the ``index``-th paid period (0 = the first)."""
        if self.duration == PromotionDuration.FOREVER:
            return True
        if self.duration == PromotionDuration.ONCE:
            return index == 0
        return index < (self.duration_periods or 0)


class PromotionRedemption(models.Model):
    """One use of a promotion by a customer. ``slot`` numbers a customer's uses (1, 2, ...) so a
    unique constraint, not a check, stops a customer going over ``max_per_customer``."""

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    slot = models.PositiveSmallIntegerField()
    # What it was redeemed for (an order number); redeeming again for the same one is a no-op.
    reference = models.CharField(max_length=100)
    redeemed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-redeemed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "customer", "slot"], name="redemption_slot_unique"
            ),
            models.UniqueConstraint(
                fields=["promotion", "reference"], name="redemption_reference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.promotion} by {self.customer} ({self.reference})"


class TaxRate(models.Model):
    """A tax a seller charges its buyers in a country ('' for any country), from a date. The
    newest rate on or before a day wins; a buyer's country wins over 'any'."""

    seller = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="catalog_tax_rates"
    )
    name = models.CharField(max_length=60)
    country = models.CharField(max_length=2, blank=True, help_text="Empty: any country.")
    rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent, e.g. 10.00.")
    valid_from = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["country", "-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=100), name="tax_rate_percentage"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.rate.normalize():f}% ({self.country or 'any country'})"

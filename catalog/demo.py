"""Demo catalog: the Box plans, the provider's retail and wholesale prices, offers in the
marketplace and to the resellers, each reseller's own prices (Summit buying from Skyline),
trials, promotions and tax rates. Idempotent: what exists is left as it is. Everything goes
through ``catalog.services``."""

from __future__ import annotations

from catalog import services
from catalog.models import Offer, Price, Promotion, SellerCurrency, TaxRate
from portal.actors import system

SEED = system("demo-seed")

STORAGE_RETAIL = {
    "metric": "storage_gb_month",
    "mode": "graduated",
    "tiers": [{"up_to": "50", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.08"}],
}
STORAGE_WHOLESALE = {
    "metric": "storage_gb_month",
    "mode": "flat",
    "tiers": [{"up_to": None, "unit_price": "0.06"}],
}


def _users(price: str) -> dict:
    return {
        "metric": "extra_active_user",
        "mode": "flat",
        "tiers": [{"up_to": None, "unit_price": price}],
    }


# plan: (monthly, annual, setup, pay-per-use) per seat, retail then wholesale, in USD
PROVIDER_RETAIL = {
    "individual": ("10.00", "100.00", "0", []),
    "starter": ("5.00", "54.00", "0", [STORAGE_RETAIL]),
    "business": ("15.00", "162.00", "0", [_users("15.00")]),
    "business_plus": ("25.00", "270.00", "0", [_users("25.00")]),
    "enterprise": ("35.00", "378.00", "99.00", [_users("35.00")]),
}
PROVIDER_WHOLESALE = {
    "individual": ("8.00", "80.00", "0", []),
    "starter": ("4.00", "43.20", "0", [STORAGE_WHOLESALE]),
    "business": ("12.00", "129.60", "0", [_users("12.00")]),
    "business_plus": ("20.00", "216.00", "0", [_users("20.00")]),
    "enterprise": ("28.00", "302.40", "50.00", [_users("28.00")]),
}
# The provider also sells Business in euros, to its direct customers and to resellers.
PROVIDER_EUR = {"business": ("14.00", "12.50")}

# reseller: plan -> (monthly, annual, setup, pay-per-use, trial days)
RESELLER_RETAIL = {
    "skyline": {
        "starter": (
            "6.00",
            "64.80",
            "0",
            [
                {
                    **STORAGE_RETAIL,
                    "tiers": [
                        {"up_to": "50", "unit_price": "0.12"},
                        {"up_to": None, "unit_price": "0.10"},
                    ],
                },
            ],
            30,
        ),
        "business": ("16.00", "172.80", "0", [_users("16.00")], 14),
        "business_plus": ("27.00", "291.60", "0", [_users("27.00")], 0),
    },
    "harbor": {
        "individual": ("11.00", "110.00", "0", [], 0),
        "business": ("17.50", "189.00", "0", [_users("17.50")], 0),
        "enterprise": ("38.00", "410.40", "120.00", [_users("38.00")], 0),
    },
}
# Skyline's wholesale prices to its sub-resellers, and Summit's retail prices.
SKYLINE_WHOLESALE = {
    "starter": (
        "4.50",
        "48.60",
        "0",
        [STORAGE_WHOLESALE | {"tiers": [{"up_to": None, "unit_price": "0.07"}]}],
    ),
    "business": ("13.50", "145.80", "0", [_users("13.50")]),
}
SUMMIT_RETAIL = {
    "starter": (
        "6.50",
        "70.20",
        "0",
        [
            STORAGE_RETAIL
            | {
                "tiers": [
                    {"up_to": "50", "unit_price": "0.12"},
                    {"up_to": None, "unit_price": "0.09"},
                ]
            }
        ],
        0,
    ),
    "business": ("18.00", "194.40", "0", [_users("18.00")], 21),
}
TAX_RATES = {
    # seller key (None: the provider): [(name, country, rate)]
    None: [("Sales tax", "", "8.00")],
    "skyline": [("VAT", "GB", "20.00"), ("Sales tax", "", "8.00")],
    "harbor": [("Sales tax", "US", "7.50"), ("MVA", "NO", "25.00"), ("Sales tax", "", "7.50")],
    "summit": [("Sales tax", "", "8.25")],
}


def _price(seller, plan, audience, currency, term, recurring, setup="0", components=()):
    if Price.objects.filter(
        seller=seller,
        plan=plan,
        audience=audience,
        buyer__isnull=True,
        currency=currency,
        term=term,
    ).exists():
        return
    services.price_create(
        actor=SEED,
        seller=seller,
        plan=plan,
        audience=audience,
        currency=currency,
        term=term,
        recurring=recurring,
        setup_fee=setup,
        components=list(components),
    )


def _price_table(seller, plans, table, audience):
    for code, (monthly, annual, setup, components, *_) in table.items():
        plan = plans[code]
        _price(seller, plan, audience, "USD", "monthly", monthly, setup, components)
        _price(seller, plan, audience, "USD", "annual", annual, setup, components)


def _offer(seller, plan, **settings):
    offer = Offer.objects.filter(seller=seller, plan=plan).first()
    if offer is None:
        offer = services.offer_publish(actor=SEED, seller=seller, plan=plan, **settings)
    return offer


def _promotion(seller, name, **kwargs):
    if not Promotion.objects.filter(seller=seller, name=name).exists():
        services.promotion_create(actor=SEED, seller=seller, name=name, **kwargs)


def seed(world) -> None:
    provider = world.provider
    skyline, harbor, summit = (world.resellers[k] for k in ("skyline", "harbor", "summit"))
    plans = {p.code: p for p in services.plan_seed_defaults(actor=SEED)}

    if not SellerCurrency.objects.filter(seller=provider, currency="EUR").exists():
        services.seller_currency_add(actor=SEED, seller=provider, currency="EUR")
    for key, rates in TAX_RATES.items():
        seller = world.resellers[key] if key else provider
        for name, country, rate in rates:
            if not TaxRate.objects.filter(seller=seller, country=country).exists():
                services.tax_rate_create(
                    actor=SEED, seller=seller, name=name, rate=rate, country=country
                )

    # The provider: retail for its direct customers, wholesale for every reseller.
    _price_table(provider, plans, PROVIDER_RETAIL, "retail")
    _price_table(provider, plans, PROVIDER_WHOLESALE, "wholesale")
    for code, (retail, wholesale) in PROVIDER_EUR.items():
        _price(provider, plans[code], "retail", "EUR", "monthly", retail)
        _price(provider, plans[code], "wholesale", "EUR", "monthly", wholesale)
    for code in PROVIDER_RETAIL:
        _offer(
            provider,
            plans[code],
            trial_days=14 if code in ("business", "business_plus") else 0,
            available_to_all_resellers=True,
        )

    # Skyline and Harbor pick offers and price them their own way.
    for key, seller in (("skyline", skyline), ("harbor", harbor)):
        for code, (*_, trial) in RESELLER_RETAIL[key].items():
            _offer(
                seller,
                plans[code],
                trial_days=trial,
                available_to_all_resellers=key == "skyline" and code in SKYLINE_WHOLESALE,
            )
        _price_table(seller, plans, RESELLER_RETAIL[key], "retail")

    # Summit buys from Skyline.
    _price_table(skyline, plans, SKYLINE_WHOLESALE, "wholesale")
    for code, (*_, trial) in SUMMIT_RETAIL.items():
        _offer(summit, plans[code], trial_days=trial)
    _price_table(summit, plans, SUMMIT_RETAIL, "retail")

    # Promotions: a code and an automatic one.
    _promotion(
        skyline,
        "Welcome to Skyline",
        code="WELCOME20",
        discount_type="percent",
        percent="20",
        duration="repeating",
        duration_periods=3,
        max_per_customer=1,
    )
    _promotion(
        harbor,
        "Harbor launch offer",
        discount_type="fixed",
        amount="5.00",
        currency="USD",
        duration="once",
        plans=[plans["business"], plans["enterprise"]],
    )
    _promotion(
        provider,
        "Enterprise switch",
        code="SWITCH10",
        discount_type="percent",
        percent="10",
        duration="forever",
        plans=[plans["enterprise"]],
        max_redemptions=50,
    )

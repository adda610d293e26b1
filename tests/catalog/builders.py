"""A priced catalog on top of ``build_tree()``, built through the real services.

    plans: the five default Box plans
    provider P: sells in USD and EUR; 10 % tax for any country
        retail   Business 15.00/seat/month (150.00 a year), 14-day trial
                 Starter 5.00 + storage over quota graduated 0-50 at 0.10, above at 0.08
                 Enterprise 35.00 + setup 99.00
        wholesale (default) Business 12.37, Starter 4.00 + storage flat 0.06,
                 Enterprise 28.00 + setup 50.00; override for R2: Business 11.83
        offers   Business, Starter, Enterprise, in the marketplace, open to every reseller
    R1: sells Business at 16.00 and Starter at 6.00 (storage 0.12 / 0.10), 10 % tax;
        wholesale to its sub-resellers: Business 14.29; its Business offer is open to them
    S1: sells Business at 18.00
    R2: sells Business at 17.50

The wholesale figures are deliberately unusual (12.37, 11.83, 14.29) so tests can look for
them in pages and API answers that must not show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog import services
from catalog.models import Offer, Plan
from portal.actors import system

SYSTEM = system("tests")

WHOLESALE_FIGURES = ("12.37", "11.83", "14.29", "4.00")

STARTER_RETAIL_STORAGE = {
    "metric": "storage_gb_month",
    "mode": "graduated",
    "tiers": [{"up_to": "50", "unit_price": "0.10"}, {"up_to": None, "unit_price": "0.08"}],
}


@dataclass
class Catalog:
    plans: dict[str, Plan]
    offers: dict[str, Offer] = field(default_factory=dict)

    def __getitem__(self, key: str):
        return self.offers.get(key) or self.plans[key]


def price(seller, plan, recurring, *, audience="retail", term="monthly", currency="USD", **kw):
    return services.price_create(
        actor=SYSTEM,
        seller=seller,
        plan=plan,
        audience=audience,
        currency=currency,
        term=term,
        recurring=recurring,
        **kw,
    )


def build_catalog(tree) -> Catalog:
    plans = {p.code: p for p in services.plan_seed_defaults(actor=SYSTEM)}
    cat = Catalog(plans=plans)
    provider, r1, r2, s1 = tree["P"], tree["R1"], tree["R2"], tree["S1"]
    business, starter, enterprise = plans["business"], plans["starter"], plans["enterprise"]

    services.seller_currency_add(actor=SYSTEM, seller=provider, currency="EUR")
    services.tax_rate_create(actor=SYSTEM, seller=provider, name="Sales tax", rate="10.00")
    services.tax_rate_create(actor=SYSTEM, seller=r1, name="Sales tax", rate="10.00")

    price(provider, business, "15.00")
    price(provider, business, "150.00", term="annual")
    price(provider, starter, "5.00", components=[STARTER_RETAIL_STORAGE])
    price(provider, enterprise, "35.00", setup_fee="99.00")
    price(provider, business, "12.37", audience="wholesale")
    price(provider, business, "120.00", audience="wholesale", term="annual")
    price(
        provider,
        starter,
        "4.00",
        audience="wholesale",
        components=[
            {
                "metric": "storage_gb_month",
                "mode": "flat",
                "tiers": [{"up_to": None, "unit_price": "0.06"}],
            }
        ],
    )
    price(provider, enterprise, "28.00", audience="wholesale", setup_fee="50.00")
    price(provider, business, "11.83", audience="wholesale", buyer=r2)
    for key, plan, trial in (
        ("P.business", business, 14),
        ("P.starter", starter, 0),
        ("P.enterprise", enterprise, 0),
    ):
        cat.offers[key] = services.offer_publish(
            actor=SYSTEM,
            seller=provider,
            plan=plan,
            trial_days=trial,
            available_to_all_resellers=True,
        )

    cat.offers["R1.business"] = services.offer_publish(
        actor=SYSTEM, seller=r1, plan=business, available_to_all_resellers=True
    )
    cat.offers["R1.starter"] = services.offer_publish(actor=SYSTEM, seller=r1, plan=starter)
    price(r1, business, "16.00")
    price(
        r1,
        starter,
        "6.00",
        components=[
            {
                "metric": "storage_gb_month",
                "mode": "graduated",
                "tiers": [
                    {"up_to": "50", "unit_price": "0.12"},
                    {"up_to": None, "unit_price": "0.10"},
                ],
            }
        ],
    )
    price(r1, business, "14.29", audience="wholesale")

    cat.offers["S1.business"] = services.offer_publish(actor=SYSTEM, seller=s1, plan=business)
    price(s1, business, "18.00")

    cat.offers["R2.business"] = services.offer_publish(actor=SYSTEM, seller=r2, plan=business)
    price(r2, business, "17.50")
    return cat

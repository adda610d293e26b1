"""The Box plans the simulator sells, with their seat ranges, storage and upload limits.

The figures follow Box's public plan descriptions closely enough for a reseller's tests; they
are the simulator's model, not a statement of Box's current price list.
"""

from dataclasses import dataclass

MIB = 1024 * 1024
GIB = 1024 * MIB

# Box reads an unlimited quota back as this number.
UNLIMITED_SPACE = 999_999_999_999_999


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    min_seats: int
    max_seats: int | None  # None: no upper limit
    storage: int | None  # bytes; None: unlimited
    pooled: bool  # True when the storage is shared by every user of the account
    max_upload_size: int  # bytes

    def seats_ok(self, seats: int) -> bool:
        return seats >= self.min_seats and (self.max_seats is None or seats <= self.max_seats)

    def seat_range(self) -> str:
        if self.max_seats is None:
            return f"{self.min_seats} or more"
        if self.min_seats == self.max_seats:
            return str(self.min_seats)
        return f"{self.min_seats} to {self.max_seats}"

    def storage_label(self) -> str:
        if self.storage is None:
            return "Unlimited"
        return f"{self.storage // GIB} GB" + (" shared" if self.pooled else "")


PLANS: dict[str, Plan] = {
    plan.code: plan
    for plan in (
        Plan("individual", "Individual", 1, 1, 10 * GIB, False, 250 * MIB),
        Plan("starter", "Business Starter", 1, 10, 100 * GIB, True, 2 * GIB),
        Plan("business", "Business", 3, None, None, False, 5 * GIB),
        Plan("business_plus", "Business Plus", 3, None, None, False, 15 * GIB),
        Plan("enterprise", "Enterprise", 3, None, None, False, 50 * GIB),
    )
}


def get_plan(code: str) -> Plan:
    return PLANS[code]

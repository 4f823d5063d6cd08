"""Who may do what in the marketplace; every view names one of these."""

from django.db.models import Model

from hardened_payments.models import Payout
from hardened_rbac import policies as p
from hardened_rbac.agents import TenantMember
from market.models import Listing, Order

SETTLE_PAYOUT = "market:settle"


def declare() -> None:
    """Declare the market's policies once, however often apps are readied."""
    wanted: list[tuple[str, type[Model], list[p.Rule]]] = [
        ("view", Listing, [TenantMember()]),
        ("buy", Listing, [TenantMember()]),
        ("change", Listing, [p.IsCreator("seller")]),
        ("view", Order, [p.IsCreator("buyer"), p.IsCreator("seller")]),
        ("refund", Order, [p.IsCreator("seller")]),
        (SETTLE_PAYOUT, Payout, [p.IsCreator("seller")]),
    ]
    declared = {policy.key for policy in p.registered()}
    for action, model, rules in wanted:
        if (action, model._meta.label_lower) not in declared:
            p.declare(action, model, rules)

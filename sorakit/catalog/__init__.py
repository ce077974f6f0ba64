"""The model catalog: models under canonical names, the providers that serve them, limits and prices.

The data lives in ``models.toml`` beside this file; adding a model or a price is a data edit.
"""

from ._catalog import (
    Catalog,
    Model,
    Offer,
    PriceRule,
    ProviderInfo,
    load_catalog,
    parse_size,
    resolution_tier,
)
from ._estimate import CostLine, Estimate, estimate
from ._plan import SEED_MAX, Plan, plan

__all__ = [
    "Catalog",
    "CostLine",
    "Estimate",
    "Model",
    "Offer",
    "Plan",
    "PriceRule",
    "ProviderInfo",
    "SEED_MAX",
    "estimate",
    "load_catalog",
    "parse_size",
    "plan",
    "resolution_tier",
]

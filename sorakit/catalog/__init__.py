"""The model catalog: models under canonical names, the providers that serve them, limits and prices.

The data lives in ``models.toml`` beside this file; adding a model or a price is a data edit.
"""

from ._catalog import (
    Catalog,
    CatalogError,
    Model,
    Offer,
    PriceRule,
    ProviderInfo,
    Source,
    load_catalog,
    parse_size,
    resolution_tier,
    stale_notice,
)
from ._estimate import CostLine, Estimate, estimate
from ._plan import SEED_MAX, Plan, plan, split_model

__all__ = [
    "Catalog",
    "CatalogError",
    "CostLine",
    "Estimate",
    "Model",
    "Offer",
    "Plan",
    "PriceRule",
    "ProviderInfo",
    "SEED_MAX",
    "Source",
    "estimate",
    "load_catalog",
    "parse_size",
    "plan",
    "resolution_tier",
    "split_model",
    "stale_notice",
]

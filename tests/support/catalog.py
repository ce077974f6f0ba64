"""Catalog test data shared by the catalog and engine tests (``from support.catalog import ...``)."""

WAN_OVERLAY = """
[models."wan-2.5"]
title = "Wan 2.5"
vendor = "Alibaba"
[[models."wan-2.5".offers]]
provider = "runware"
id = "alibaba:wan@2.5"
sizes = ["1280x720"]
seconds = [5, 10]
"""
"""An overlay adding one model the shipped catalog lacks (a Runware video model)."""

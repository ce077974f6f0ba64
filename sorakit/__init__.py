"""sorakit: AI video generation as a first-class citizen of Jupyter."""

from ._exceptions import *  # noqa: F401,F403
from ._exceptions import __all__ as _exc_all
from ._types import JobState, VideoRequest
from .catalog import estimate, load_catalog, plan

__version__ = "0.1.0"

__all__ = ["VideoRequest", "JobState", "estimate", "load_catalog", "plan", *_exc_all]

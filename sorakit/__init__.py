"""sorakit: AI video generation as a first-class citizen of Jupyter.

```python
import sorakit
studio = sorakit.Studio()            # no API key: the built-in emulator (it says so)
job = studio.generate("a red fox trotting through snow", model="veo-3-fast")
studio.ledger.df                     # every job, durable across kernel restarts
```
"""

from ._exceptions import *  # noqa: F401,F403
from ._exceptions import __all__ as _exc_all
from ._types import CancelResult, JobState, VideoRequest
from .catalog import estimate, load_catalog, plan
from .prompts import compose, prompt_grid

__version__ = "0.1.0"

_LAZY = {
    "Studio": "sorakit.engine",
    "Job": "sorakit.engine",
    "Batch": "sorakit.engine",
    "Ledger": "sorakit.ledger",
    "Emulator": "sorakit.emulator",
    "register_relay": "sorakit.providers.relay",
}

__all__ = ["Studio", "Job", "Batch", "Ledger", "Emulator", "register_relay", "VideoRequest", "JobState", "CancelResult",
           "estimate", "load_catalog", "plan", "compose", "prompt_grid", *_exc_all]


def __getattr__(name: str):
    """Import the heavier parts (engine, ledger, emulator) on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sorakit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

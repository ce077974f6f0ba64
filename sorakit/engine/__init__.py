"""The engine: the only layer that waits. One asyncio core on its own loop in a daemon thread.

```
Studio (blocking + async API)  ──▶  EngineLoop (daemon thread)  ──▶  Engine (submit · poll ·
Job, Batch                             run_coroutine_threadsafe          reconcile · download ·
                                       asyncio.wrap_future               resume) ──▶ Ledger
```
See `sorakit.engine._engine` for the retry and reconciliation rules.
"""

from ._budget import Budget, BudgetStatus, UnknownCost
from ._config import EMULATOR_NOTICE, ProviderSetup, Secret, resolve_setups
from ._engine import Engine, Policy, Runtime
from ._loop import EngineLoop, get_loop
from ._studio import Batch, Job, Studio

__all__ = [
    "Batch",
    "Budget",
    "BudgetStatus",
    "EMULATOR_NOTICE",
    "Engine",
    "EngineLoop",
    "Job",
    "Policy",
    "ProviderSetup",
    "Runtime",
    "Secret",
    "Studio",
    "UnknownCost",
    "get_loop",
    "resolve_setups",
]

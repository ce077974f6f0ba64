"""The engine: the only layer that waits. One asyncio core on its own loop in a daemon thread.

```
Studio (blocking + *_async API)  ──▶  EngineLoop (daemon thread)  ──▶  Engine (submit · poll ·
Job, Batch                             run_coroutine_threadsafe          reconcile · download ·
                                       asyncio.wrap_future               resume) ──▶ Ledger
```
Modules: ``_studio`` (Studio), ``_job`` (Job, Batch), ``_handle`` (`StudioHandle`, what a Job or
Batch may use of its Studio), ``_launch`` (the one path from arguments to running jobs, blocking or
async), ``_connect`` (providers and the emulator), ``_config`` (keys, URLs, environment),
``_progress`` (text progress), ``_hooks`` (`DisplayHooks` and `StudioLike`, the interface
`sorakit.display` registers and the Studio it is given), ``_engine``, ``_policy`` (`Policy`),
``_budget``, ``_validate``, ``_check``, ``_loop``, ``_eta`` (ETAs from history), ``_compat``
(deprecated aliases).
See `sorakit.engine._engine` for the retry and reconciliation rules.
"""

from ._budget import Budget, BudgetStatus, UnknownCost
from ._config import EMULATOR_NOTICE, ProviderSetup, Secret, resolve_setups
from ._engine import Engine, Runtime
from ._policy import Policy
from ._hooks import DisplayHooks, register_display
from ._loop import EngineLoop, get_loop
from ._studio import Batch, Job, Studio

__all__ = [
    "Batch",
    "Budget",
    "BudgetStatus",
    "EMULATOR_NOTICE",
    "DisplayHooks",
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
    "register_display",
    "resolve_setups",
]

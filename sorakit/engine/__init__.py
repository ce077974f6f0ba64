"""The engine: the only layer that waits. One asyncio core on its own loop in a daemon thread.

```
Studio (blocking + *_async API)  ──▶  EngineLoop (daemon thread)  ──▶  Engine (submit · poll ·
Job, Batch                             run_coroutine_threadsafe          reconcile · download ·
                                       asyncio.wrap_future               resume) ──▶ Ledger
```
Module map (the only one; `_studio` points here): ``_studio`` (Studio), ``_job`` (Job, Batch),
``_handle`` (`StudioHandle`: what a Job or Batch may use of its Studio), ``_launch`` (plan → budget
→ insert → start → wait, blocking or async), ``_connect`` (providers, runtimes, emulator),
``_config`` (keys, URLs, environment), ``_progress`` (text progress), ``_hooks`` (`DisplayHooks` and
`StudioLike`, the notebook display interface), ``_engine`` (`Engine`, the asyncio core's façade),
``_core`` (its parts: ``transitions``, ``runtime``, ``book``, ``leases``, ``create``, ``poll``,
``download``, ``cancel``, ``driver``; one direction of dependency), ``_policy`` (`Policy`, its
timing knobs), ``_budget``, ``_validate``, ``_check``, ``_loop``, ``_eta`` (ETAs from history),
``_compat`` (deprecated aliases), ``_quality`` (``studio.check``, ``scorers``, ``determinism``,
``duplicates``) over ``_clipchecks`` (the background worker that checks every finished video).
See `sorakit.engine._core` for the job's life and the layering, `sorakit.engine._engine` for the
resume rules, ``_core.runtime`` / ``_core.create`` for the retry and reconciliation rules and
``_core.leases`` for the lease rules.
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

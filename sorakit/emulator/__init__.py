"""The offline provider emulator: the video APIs sorakit speaks, served locally, rendering real MP4s.

One `Emulator` is one Starlette/ASGI app (``emu.app``) that speaks each provider's wire protocol
under the catalog's ``emulator_prefix`` for that provider:

| surface                      | prefix         | module                         |
|------------------------------|----------------|--------------------------------|
| OpenAI Videos API (Sora)     | ``/openai/v1``  | `sorakit.emulator.openai`      |
| Runware task API (REST + WebSocket) | ``/runware/v1`` | `sorakit.emulator.runware`, `sorakit.emulator.runware_ws` |
| Runcrate                     | ``/runcrate/v1`` | `sorakit.emulator.runcrate`   |
| ``videos/generations`` relay | ``/relay/v1``   | `sorakit.emulator.relay`       |
| Gemini API: Omni Flash (interactions), Veo | ``/gemini`` (all versions) | `sorakit.emulator.gemini`, `sorakit.emulator.interactions` |
| Veo on the Enterprise Agent Platform | ``/vertex`` (v1, v1beta1) | `sorakit.emulator.vertex` |
| GET ``/``                    |                | JSON index of the surfaces     |

``emu.requests`` (`RequestLog`) keeps what clients sent (secret headers masked), so tests can
compare two clients' requests for one intent.

All surfaces share one job store (state derived from an injectable clock: ``queued`` →
``in_progress`` with rising ``progress`` → ``completed`` / ``failed``), one renderer
(`RenderCache`, rendering in worker threads as soon as a job is created), seeded faults
(`FaultConfig`), rate limits and `Counters`. Everything random is seeded: the same seed and the
same requests give the same ids, seeds and faults.

Two ways to run it::

    # in-process, no port
    emu = Emulator(EmulatorConfig(time_scale=0.02))
    client = httpx.Client(transport=emu.sync_transport(), base_url="http://emulator")
    aclient = httpx.AsyncClient(transport=emu.transport(), base_url="http://emulator")

    # real loopback HTTP (what the official SDKs and browsers need)
    with EmulatorServer(emu) as server:
        openai.OpenAI(base_url=server.url("openai"), api_key="anything")

    # or from a shell:  sorakit emulator --port 8000 [--time-scale 0.1] [--require-key KEY]

Adding a protocol (e.g. Runcrate, a relay, Gemini): write ``sorakit/emulator/<protocol>.py`` with a
`Surface` subclass decorated with `register_surface` (both from ``sorakit/emulator/_surface.py``,
the base every surface imports; a surface module never imports ``_app``), whose ``protocol`` matches the catalog's
provider ``protocol``; implement ``routes()`` (Starlette routes relative to the prefix) and
``error()`` (the provider's error body; override ``bad_body()`` where the service answers a malformed
JSON body in other words). Use the shared helpers — ``json_body()`` (the body as JSON, or
``bad_body()``), ``pre()`` (count, slow/5xx/reset faults), ``key_ok()``, ``limit()`` (429 with ``retry-after``), ``post()`` (lost answers),
``media()`` (Range, truncation, byte counts), ``emu.timeline()`` / ``emu.add_job()`` (scheduling and
rendering), ``emu.moderation_hit()`` — then import the module in ``_app._surface_classes``. The
surface is mounted at every catalog provider with that protocol; no other file changes.

The emulator imports nothing from sorakit's client side except the catalog (shared data), so it
stays an honest stand-in for a remote service.
"""

from ._app import Emulator, EmulatorConfig, EmulatorTransport, SyncEmulatorTransport
from ._faults import FAULT_KINDS, OPERATIONS, EmulatedReset, FaultConfig
from ._server import EmulatorServer, free_port, serve
from ._surface import MediaResponse, Surface, register_surface
from ._store import (
    DEFAULT_LATENCY_SECONDS,
    Clock,
    Counters,
    Job,
    JobStore,
    LatencyModel,
    ManualClock,
    SystemClock,
)

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "FaultConfig",
    "EmulatorServer",
    "EmulatorTransport",
    "SyncEmulatorTransport",
    "EmulatedReset",
    "Counters",
    "Job",
    "JobStore",
    "LatencyModel",
    "DEFAULT_LATENCY_SECONDS",
    "Clock",
    "SystemClock",
    "ManualClock",
    "Surface",
    "MediaResponse",
    "register_surface",
    "FAULT_KINDS",
    "OPERATIONS",
    "free_port",
    "serve",
]

"""The ``sorakit`` command line.

```
sorakit demo [--out out] [--notebooks notebooks] [--time-scale 0.02]
sorakit emulator [--host 127.0.0.1] [--port 8000] [--time-scale 1.0] [--seed 0]
                 [--require-key KEY] [--media-dir DIR] [--generation-seconds S] [--url-ttl S]
sorakit models [--all] [--catalog overlay.toml] [--check [--emulator URL]]
               [--update] [--source URL | --from-package] [--no-listings]
```

Subcommands live in `COMMANDS` (name → `Command`): to add one (``demo``, ...), write an
``add_arguments(parser)`` and a ``run(args) -> int`` and register them there.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

__all__ = ["main", "build_parser", "Command", "COMMANDS"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, how it declares its options and what it runs."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- emulator
def _emulator_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1; anything else exposes it to the network)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiply generation times (sora-2 ≈ 60 s at 1.0; 0.05 makes it ≈ 3 s)")
    p.add_argument("--generation-seconds", type=float, default=None,
                   help="fixed create-to-completion time for every job (overrides --time-scale)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--require-key", default=None, metavar="KEY",
                   help="accept only 'Authorization: Bearer KEY' (default: any key or none)")
    p.add_argument("--url-ttl", type=float, default=3600.0, metavar="SECONDS",
                   help="how long finished videos stay downloadable (default 3600)")
    p.add_argument("--media-dir", default=None,
                   help="cache of rendered media (default: ~/.cache/sorakit/emulator)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def _default_media_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sorakit" / "emulator"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _run_emulator(args: argparse.Namespace) -> int:
    from .emulator import Emulator, EmulatorConfig
    from .emulator._server import _uvicorn, free_port, serve

    try:
        _uvicorn()  # the `emulator` extra: say so before printing a URL nothing will answer
    except ModuleNotFoundError as exc:
        print(f"sorakit: {exc}", file=sys.stderr)
        return 1
    config = EmulatorConfig(
        time_scale=args.time_scale,
        generation_seconds=args.generation_seconds,
        seed=args.seed,
        require_key=args.require_key,
        url_ttl_seconds=args.url_ttl,
    )
    port = args.port if args.port else free_port(args.host)
    media_dir = Path(args.media_dir) if args.media_dir else _default_media_dir()
    emulator = Emulator(config, media_dir=media_dir)
    origin = f"http://{args.host}:{port}"
    print(f"sorakit emulator on {origin}  (time scale {args.time_scale:g}, seed {args.seed}, "
          f"media in {media_dir})", flush=True)
    for surface in emulator.surfaces.values():
        print(f"  {surface.info.title:<24} base_url = {origin}{surface.prefix}", flush=True)
    if not _is_loopback(args.host):
        print(f"WARNING: bound to {args.host}: reachable from the network.", file=sys.stderr, flush=True)
    try:
        serve(emulator, host=args.host, port=port, log_level=args.log_level)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    finally:
        emulator.close()
    print("sorakit emulator stopped", flush=True)
    return 0


# --------------------------------------------------------------------------- demo
def _demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out", help="where executed notebooks, HTML reports and the ledger go")
    p.add_argument("--notebooks", default="notebooks", help="folder of the companion notebooks")
    p.add_argument("--time-scale", type=float, default=0.02,
                   help="emulator speed (0.02: a 60 s Sora job takes about a second)")


def _run_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(out_dir=args.out, notebooks_dir=args.notebooks, time_scale=args.time_scale)


# --------------------------------------------------------------------------- models
def _models_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true",
                   help="ask each provider whose API key is set which models it serves now and report "
                        "what the catalog gets wrong (exit status 1 when something drifted)")
    p.add_argument("--all", action="store_true", help="also list offers that are shut down")
    p.add_argument("--catalog", action="append", default=None, metavar="TOML",
                   help="overlay merged over the shipped catalog (default: $SORAKIT_CATALOG); repeatable")
    p.add_argument("--emulator", default=None, metavar="URL",
                   help="with --check: ask a running `sorakit emulator` (its root URL) instead of the services")
    p.add_argument("--update", action="store_true",
                   help="refresh the catalog from LiteLLM's price map (prices, resolution tiers, shutdown "
                        "dates, new models) and, where an API key is set, the providers' listings; writes a "
                        "dated overlay with provenance to sorakit's cache, used from then on")
    p.add_argument("--source", default=None, metavar="URL",
                   help="with --update/--check: the price map to read (a URL or a file in LiteLLM's format; "
                        "default $SORAKIT_PRICE_MAP_URL, else LiteLLM's public URL)")
    p.add_argument("--from-package", action="store_true",
                   help="with --update/--check: read the price map shipped inside the installed litellm package")
    p.add_argument("--no-listings", action="store_true",
                   help="with --update: do not ask the providers' model listings, only the price map")


def _cell(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max([len(c)] + [len(_cell(r.get(c))) for r in rows]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    for r in rows:
        lines.append("  ".join(_cell(r.get(c)).ljust(widths[c]) for c in columns).rstrip())
    return "\n".join(lines)


def _run_models(args: argparse.Namespace) -> int:
    import asyncio
    import datetime as dt

    from .catalog import load_catalog

    if args.update:
        return _run_update(args)
    catalog = load_catalog(overlays=args.catalog)
    today = dt.datetime.now(dt.timezone.utc).date()
    if not args.check:
        df = catalog.df
        rows = [r for r in df.to_dict("records") if args.all or r["status"] == "live"]
        for r in rows:
            r["id"] = r["provider_model"]
            r["as_of"] = r["as_of"].isoformat() if r["as_of"] is not None else "unconfirmed"
            r["status"] = r["lifecycle"]
        refreshed = f", refreshed {catalog.refreshed}" if catalog.refreshed else ""
        print(f"sorakit catalog checked {catalog.as_of}{refreshed} ({catalog.source}); {len(rows)} offers"
              + ("" if args.all else " served today (--all adds the shut-down ones)"))
        print(_table(rows, ["model", "provider", "id", "status", "sizes", "seconds", "price", "as_of"]))
        return 0

    from .engine._check import check, findings_frame, summary
    from .engine._config import resolve_setups

    if args.emulator:
        setups, _ = resolve_setups(catalog, emulate=True, emulator_base_url=args.emulator)
    else:
        setups, _ = resolve_setups(catalog, emulate=None)
    rows = findings_frame(asyncio.run(check(catalog, setups, auto_emulated=not args.emulator,
                                            today=today))).to_dict("records")
    where = f"the emulator at {args.emulator}" if args.emulator else "the providers whose API key is set"
    print(f"sorakit: catalog of {catalog.as_of} checked against {where}")
    print(_table(rows, ["provider", "checked", "finding", "model", "provider_model", "detail"]))
    print(summary(rows))
    drifted = any(r["finding"] in ("gone", "new", "still_listed") for r in rows)
    if args.emulator and not (args.source or args.from_package):
        return 1 if drifted else 0
    # price and lifecycle drift against LiteLLM's map (the shipped data + the user's own overlays)
    from ._exceptions import SorakitError
    from .catalog._refresh import refresh

    try:
        result = refresh(_user_catalog(args), source=args.source, from_package=args.from_package,
                         today=today, write=False)
    except SorakitError as exc:
        print(f"sorakit: price and lifecycle drift not checked: {exc}")
        return 1 if drifted else 0
    drift = [c for c in result.changes if c.fact in ("prices", "served_until", "replacement")]
    print(f"price and lifecycle drift against {result.changes[0].url if result.changes else 'the price map'}:")
    if drift:
        print(_table([_change_row(c) for c in drift], ["provider", "model", "provider_model", "fact", "old", "new",
                                                          "applied"]))
    kept = sum(not c.applied for c in drift)
    print(f"{sum(c.fact == 'prices' and c.applied for c in drift)} price(s) and "
          f"{sum(c.fact == 'served_until' and c.applied for c in drift)} lifecycle date(s) differ; "
          f"`sorakit models --update` applies them"
          + (f" ({kept} listed difference(s) with their reason are kept)" if kept else ""))
    return 1 if drifted or any(c.applied for c in drift) else 0


def _user_catalog(args: argparse.Namespace):
    """The shipped catalog with the user's own overlays (--catalog, else $SORAKIT_CATALOG), without
    an earlier refreshed overlay: what a refresh compares against."""
    from .catalog import load_catalog
    from .catalog._catalog import ENV_OVERLAY

    overlays = args.catalog
    if overlays is None:
        env = os.environ.get(ENV_OVERLAY, "").strip()
        overlays = [env] if env else []
    return load_catalog(overlays=overlays)


def _change_row(c) -> dict:
    return {"provider": c.provider, "model": c.model, "provider_model": c.provider_model, "fact": c.fact,
            "old": c.old, "new": c.new, "applied": "yes" if c.applied else "no: " + c.note,
            "source": c.source}


def _run_update(args: argparse.Namespace) -> int:
    import asyncio
    import datetime as dt

    from .catalog._refresh import refresh

    today = dt.datetime.now(dt.timezone.utc).date()
    catalog = _user_catalog(args)
    findings = None
    if not args.no_listings:
        from .engine._check import check
        from .engine._config import resolve_setups

        setups, _ = resolve_setups(catalog, emulate=None)
        findings = asyncio.run(check(catalog, setups, auto_emulated=True, today=today))
        asked = sorted({r["provider"] for r in findings if r["checked"] == "live"})
        print("provider listings: " + (", ".join(asked) if asked else "none asked (no API key set)"))
    result = refresh(catalog, source=args.source, from_package=args.from_package, findings=findings, today=today)
    applied = result.applied
    print(f"sorakit: {len(applied)} fact(s) refreshed on {result.fetched} from "
          f"{applied[0].url if applied else (result.changes[0].url if result.changes else 'the price map')}")
    if result.changes:
        print(_table([_change_row(c) for c in result.changes],
                     ["provider", "model", "provider_model", "fact", "old", "new", "applied"]))
    print(f"overlay written to {result.path} (used by `sorakit models`, Studio and estimates from now on; "
          "delete it to go back to the shipped catalog)")
    return 0


COMMANDS: dict[str, Command] = {
    "emulator": Command("serve the offline provider emulator over HTTP", _emulator_arguments, _run_emulator),
    "demo": Command("run the companion notebooks on the built-in emulator; reports go to out/",
                    _demo_arguments, _run_demo),
    "models": Command("print the model catalog; --check compares it with what the providers serve now and "
                      "LiteLLM's price map; --update refreshes it",
                      _models_arguments, _run_models),
}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("sorakit")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="sorakit", description="AI video generation, first-class in Jupyter.")
    parser.add_argument("--version", action="version", version=f"sorakit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(_run=command.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``sorakit`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from .catalog import CatalogError
    from ._exceptions import SorakitError

    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (CatalogError, SorakitError) as exc:  # a bad overlay or setting: say it, no traceback
        print(f"sorakit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

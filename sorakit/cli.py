"""The ``sorakit`` command line.

```
sorakit demo [--out out] [--notebooks notebooks] [--time-scale 0.02]
sorakit emulator [--host 127.0.0.1] [--port 8000] [--time-scale 1.0] [--seed 0]
                 [--require-key KEY] [--media-dir DIR] [--generation-seconds S] [--url-ttl S]
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
    from .emulator._server import free_port, serve

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


COMMANDS: dict[str, Command] = {
    "emulator": Command("serve the offline provider emulator over HTTP", _emulator_arguments, _run_emulator),
    "demo": Command("run the companion notebooks on the built-in emulator; reports go to out/",
                    _demo_arguments, _run_demo),
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
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

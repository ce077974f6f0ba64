"""Benchmark: CPU seconds of the automatic clip checks (`sorakit.media.check_clip`) per clip.

Renders an 8 s 1280x720 24 fps emulated clip (with audio) once into a temporary directory, then
checks it ``--runs`` times and prints the median ``time.process_time()`` of the whole check (every
thread of this process: PyAV's frame-decoding threads included) and its parts: ``open`` (container
and stream setup), ``decode`` (H.264 decoding plus the strided luma thumbnail of every frame),
``measure`` (black / frozen / cuts / flicker / motion over the thumbnails) and ``hash`` (the DCT
perceptual hash). Target: at most 0.5 s of CPU per 8 s 720p clip (issue 24).

    python bench/checks.py               # clean clip
    python bench/checks.py --defect flicker --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sorakit.emulator._render import RenderSpec, render_video  # noqa: E402
from sorakit.media._checks import check_clip  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--defect", choices=["black", "frozen", "flicker", "duplicate"], default=None)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    prompt = "a red fox trotting through fresh snow at dawn" + (f" [defect:{args.defect}]" if args.defect else "")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        info = render_video(RenderSpec(model="sora-2", prompt=prompt, seed=7, width=w, height=h,
                                       seconds=args.seconds, fps=24), path)
        request = {"seconds": args.seconds, "width": w, "height": h, "fps": 24, "audio": True}
        check_clip(path, request)  # warm-up: imports, codec tables
        results = [check_clip(path, request) for _ in range(args.runs)]
    med = statistics.median(r.cpu_s for r in results)
    parts = {k: statistics.median(r.parts[k] for r in results) for k in results[0].parts}
    r = results[0]
    print(f"clip: {w}x{h} {args.seconds:g} s 24 fps, {info.frames} frames, {info.bytes / 1e3:.0f} KB"
          f"{' defect ' + args.defect if args.defect else ''}")
    print(f"check CPU: {med:.3f} s median of {args.runs} (target <= 0.5 s)  " +
          "  ".join(f"{k} {v:.3f}" for k, v in parts.items()))
    print(f"result: defects={list(r.defects) or 'none'} black_s={r.black_s} frozen_s={r.frozen_s} cuts={r.cuts} "
          f"flicker={r.flicker} motion={r.motion} phash={r.phash}")


if __name__ == "__main__":
    main()

"""Benchmark in a real JupyterLab (headless Chromium): how soon a long clip plays after the click.

One notebook holds players of the same long clip (H.264 + AAC, 90 s, ~12 MB by default; see
``tests/browser/clips.py``), clicked in turns so the three ways are measured side by side in one
run:

* ``mse``: the default: the fragmented copy streamed into a SourceBuffer, requests paused 30 s
  ahead of the playhead (so "fully loaded" is not reached while the video is paused);
* ``mse, no read-ahead limit``: the same with ``ahead = 0``, to time the whole stream;
* ``blob``: ``mse = False``, the whole file assembled into a Blob, as without MSE.

Each click is on a fresh view; the times are from the click (``load()`` in ``stage.js``) to the
video's first ``playing`` event and to its last byte, read from the ``data-t-*`` attributes the
stage writes. Medians of ``--clicks`` clicks per way; the first MSE click also remuxes (the copy
is cached for the others), so it is printed on its own too. Nothing asserted.

    python bench/stream.py                   # 90 s clip, 5 clicks each
    python bench/stream.py --seconds 180 --clicks 3
    python bench/stream.py --no-buffers      # as a widget manager without binary buffers: base64 chunks
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests" / "browser"))

from clips import long_clip  # noqa: E402
from lab import Lab, browser_page, lose_buffers, notebook, open_and_run  # noqa: E402

WAYS = {"mse": "p.ahead = 30", "mse, no read-ahead limit": "p.ahead = 0", "blob": "p.mse = False"}

SETUP = ("import os\nos.environ['SORAKIT_QUIET'] = '1'\nos.environ['SORAKIT_CACHE'] = os.path.abspath('cache')\n"
         "from sorakit.display import VideoPlayer\n"
         "row = {{'job_id': 'long', 'status': 'completed', 'file_path': {clip!r}, 'prompt': 'a long clip'}}\n"
         "def make(way):\n    p = VideoPlayer(row)\n    exec(WAYS[way], {{'p': p}})\n    return p\n"
         "WAYS = {ways!r}")

CLICK = """async (i) => {
  const stage = document.querySelectorAll('.sk-player-view')[i];
  stage.scrollIntoView();
  stage.querySelector('.sk-play').click();
  const wait = (test) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    const poll = () => { const v = stage.querySelector('video');
      if (v && test(v)) return resolve(v);
      if (performance.now() - t0 > 120000) return reject(new Error('stage ' + i + ' timed out'));
      setTimeout(poll, 5); };
    poll(); });
  const v = await wait(v => v.dataset.tPlaying);
  const d = v.dataset, out = {mode: d.mode, transport: d.transport, playing: (+d.tPlaying - +d.tOpen) / 1000,
                              received_at_playing: +d.receivedAt, size: +d.size};
  if (d.mode === 'blob' || stage.dataset.way !== 'mse') {
    await wait(v => v.dataset.tLoaded);
    out.loaded = (+v.dataset.tLoaded - +d.tOpen) / 1000;
  }
  v.pause();
  return out;
}"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=90, help="length of the clip")
    ap.add_argument("--clicks", type=int, default=5, help="clicks per way (medians)")
    ap.add_argument("--no-buffers", action="store_true",
                    help="drop every comm buffer in the page (a widget manager without binary buffers): "
                         "the views probe, find none and fetch base64 chunks")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        clip = long_clip(root / "long.mp4", seconds=args.seconds)
        order = [way for _ in range(args.clicks) for way in WAYS]  # interleaved: side by side in time
        cells = [SETUP.format(clip=str(clip), ways=WAYS)] + [f"make({way!r})" for way in order]
        (root / "bench.ipynb").write_text(json.dumps(notebook(cells)))
        results: dict[str, list[dict]] = {way: [] for way in WAYS}
        with Lab(root) as lab, browser_page(1200, 900) as page:
            open_and_run(page, lab, "bench.ipynb", timeout_ms=180_000,
                         before_run=lose_buffers("drop") if args.no_buffers else None)
            page.wait_for_function(f"() => document.querySelectorAll('.sk-player-view .sk-play').length === {len(order)}",
                                   timeout=60_000)
            for i, way in enumerate(order):
                page.evaluate("([i, way]) => { document.querySelectorAll('.sk-player-view')[i].dataset.way = way; }",
                              [i, way])
                r = page.evaluate(CLICK, i)
                expected = "blob" if way == "blob" else "mse"
                transport = "base64" if args.no_buffers else "binary"
                if r["mode"] != expected or r["transport"] != transport:
                    raise SystemExit(f"click {i} ({way}) played as {r['mode']}: {r}")
                results[way].append(r)
    clip_size = results["blob"][0]["size"]
    print(f"\nclip: {args.seconds} s, {clip_size / 1e6:.1f} MB (H.264 + AAC); {args.clicks} clicks per way, "
          f"medians; JupyterLab on 127.0.0.1, headless Chromium; chunks as "
          f"{'base64 text (every binary buffer dropped in the page)' if args.no_buffers else 'binary buffers'}\n")
    print(f"{'':28}{'click -> playing (s)':>22}{'click -> all bytes (s)':>24}{'received when playing':>24}")
    for way, rs in results.items():
        playing = statistics.median(r["playing"] for r in rs)
        loaded = [r["loaded"] for r in rs if "loaded" in r]
        got = statistics.median(r["received_at_playing"] / r["size"] for r in rs)
        print(f"{way:28}{playing:>22.3f}{(f'{statistics.median(loaded):.3f}' if loaded else 'n/a (30 s ahead)'):>24}"
              f"{got:>23.0%}")
    first = results["mse"][0]["playing"]
    print(f"\nfirst MSE click (remux of the {clip_size / 1e6:.1f} MB file included): {first:.3f} s to playing")


if __name__ == "__main__":
    main()

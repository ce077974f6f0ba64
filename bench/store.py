"""Benchmark: the shared media store on an S3 API (moto's server, in its own process on 127.0.0.1).

For N videos of each size: the upload a finished job pays (`RemoteStore.put`: sha256 check +
PUT), the first view on a teammate's machine (a read-through miss: GET + sha256 + atomic rename
into the cache), a later view (a cache hit: no network), and a plain local read of the same file
for scale. Medians in milliseconds, measured side by side in one run. When ``obstore`` is
installed (``pip install obstore``; not a sorakit dependency) the same upload and miss are timed
through it too, doing the same work (sha256 of the file, PUT; GET, sha256, write, rename), so the
choice of fsspec/s3fs over obstore (see sorakit/media/_store.py) rests on figures. moto keeps objects in
memory and runs on this machine, so the network part is loopback; a real bucket adds its latency
and bandwidth to the upload and the miss, not to the hit.

    python bench/store.py                  # 12 videos of 256 KB and of 8 MB
    python bench/store.py --n 20 --sizes 1,16
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_moto(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def _obstore_pair(port: int):
    """(put, fetch) doing sorakit's work through obstore, or None when it is not installed."""
    try:
        import hashlib

        import obstore
        from obstore.store import S3Store
    except ImportError:
        return None
    store = S3Store("bench", endpoint=f"http://127.0.0.1:{port}", region="us-east-1",
                    client_options={"allow_http": True})

    def put(path: Path) -> str:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        key = f"obstore/{sha[:2]}/{sha}.mp4"
        obstore.put(store, key, data)
        return key

    def fetch(key: str, dest: Path) -> None:
        data = obstore.get(store, key).bytes()
        if hashlib.sha256(data).hexdigest() != key.rsplit("/", 1)[1][:64]:
            raise AssertionError("checksum")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(".partial")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)

    return put, fetch


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12, help="videos per size")
    ap.add_argument("--sizes", default="0.25,8", help="video sizes in MB, comma-separated")
    args = ap.parse_args()

    port = _free_port()
    moto = _start_moto(port)
    work = Path(tempfile.mkdtemp(prefix="sorakit-bench-store-"))
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench-key-id",
                      AWS_SECRET_ACCESS_KEY="bench-not-a-secret", AWS_DEFAULT_REGION="us-east-1",
                      AWS_CONFIG_FILE=str(work / "none"), AWS_SHARED_CREDENTIALS_FILE=str(work / "none"),
                      SORAKIT_CACHE=str(work / "cache"))
    try:
        import boto3

        from sorakit.media import local_copy, open_store
        from sorakit.media._download import store_bytes

        boto3.client("s3").create_bucket(Bucket="bench")
        store = open_store("s3://bench/videos")
        print(f"sorakit media store bench: {args.n} videos per size, moto S3 server on 127.0.0.1:{port}")
        pair = _obstore_pair(port)
        print(f"{'size':>8} {'upload':>9} {'miss':>9} {'hit':>9} {'local read':>11}   (median ms per video)"
              + ("   obstore: upload     miss" if pair else "   (obstore not installed)"))
        for mb in (float(s) for s in args.sizes.split(",")):
            up, miss, hit, plain, o_up, o_miss = [], [], [], [], [], []
            for i in range(args.n):
                data = os.urandom(int(mb * 1024 * 1024))
                src = store_bytes(data, work / "staging", ".mp4").path
                t = time.perf_counter()
                url = store.put(src)
                up.append(time.perf_counter() - t)
                shutil.rmtree(work / "cache")  # a teammate's machine: nothing cached
                t = time.perf_counter()
                got = local_copy(url)
                miss.append(time.perf_counter() - t)
                t = time.perf_counter()
                again = local_copy(url)
                hit.append(time.perf_counter() - t)
                assert again == got and got.stat().st_size == len(data)
                t = time.perf_counter()
                with open(again, "rb") as f:
                    f.read()
                plain.append(time.perf_counter() - t)
                if pair:
                    t = time.perf_counter()
                    key = pair[0](src)
                    o_up.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    pair[1](key, work / "obstore-cache" / key)
                    o_miss.append(time.perf_counter() - t)
            print(f"{mb:>6g}MB {_ms(up)} {_ms(miss)} {_ms(hit)} {_ms(plain):>11}"
                  + (f"            {_ms(o_up)} {_ms(o_miss)}" if pair else "")
                  + f"   hit/miss = 1/{statistics.median(miss) / statistics.median(hit):.0f}")
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

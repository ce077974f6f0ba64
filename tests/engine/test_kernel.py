"""The Studio inside a real Jupyter kernel (whose main thread already runs an event loop), with and
without ``nest_asyncio.apply()``: blocking calls, top-level await, cells run while jobs move, and a
kernel interrupt that stops the waiting but not the job."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from jupyter_client.manager import start_new_kernel  # noqa: E402


class Kernel:
    def __init__(self, cwd: Path):
        env = {**os.environ, "SORAKIT_QUIET": "1",
               "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2])] + sys.path)}
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)

    def run(self, code: str, timeout: float = 90, ok: bool = True) -> tuple[str, dict]:
        out: list[str] = []

        def hook(msg):
            c = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(c["text"])
            elif msg["msg_type"] in ("execute_result", "display_data"):
                out.append(c["data"].get("text/plain", ""))
            elif msg["msg_type"] == "error":
                out.append(f"{c['ename']}: {c['evalue']}")

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        text = "".join(out)
        if ok:
            assert reply["content"]["status"] == "ok", text
        return text, reply["content"]

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture
def kernel(tmp_path):
    k = Kernel(tmp_path)
    yield k
    k.close()


@pytest.mark.parametrize("nest", [True, False], ids=["nest_asyncio", "plain"])
def test_studio_in_a_running_kernel(nest, kernel, tmp_path, emulator, emulator_server):
    if nest:
        kernel.run("import nest_asyncio; nest_asyncio.apply()")
    kernel.run(
        "from sorakit import Studio\n"
        "from sorakit.engine import Policy\n"
        f"s = Studio({str(tmp_path / 'ledger.db')!r}, media_dir={str(tmp_path / 'media')!r}, emulate=True,\n"
        f"           emulator={emulator_server.base_url!r}, policy=Policy(poll_initial=0.05, poll_max=0.5))\n"
        "job = s.generate('a fox in a kernel', model='sora-2', progress=False)\n"
        "print(job.status, job.file_path.is_file())")
    text, _ = kernel.run("print(s.ledger.get(job.id)['status'])")
    assert text.split() == ["completed"]
    # a job keeps moving while the user runs other cells
    kernel.run("j2 = s.submit('a heron while I work', model='sora-2')")
    text, _ = kernel.run("print(sum(range(10)))")
    assert text.strip() == "45"
    text, _ = kernel.run("await j2.wait_async(timeout=60)\nprint(j2.status)")
    assert text.strip() == "completed"
    text, _ = kernel.run("j3 = await s.generate_async('an owl by top-level await', model='sora-2')\n"
                         "b = await s.batch_async(['a', 'bb'], models='sora-2')\n"
                         "print(j3.status, b.done)")
    assert text.split() == ["completed", "True"]
    text, _ = kernel.run("j4 = s.generate('with the progress display', model='sora-2')\nprint(j4.status)")
    assert "completed" in text
    # an interrupt stops the waiting, not the job
    emulator.config.generation_seconds = 2.5
    timer = threading.Timer(1.0, kernel.km.interrupt_kernel)
    timer.start()
    text, content = kernel.run("s.generate('interrupted while waiting', model='sora-2', progress=False)",
                               ok=False)
    timer.join()
    assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt"
    text, _ = kernel.run("print(s.last.wait(timeout=60).status)")
    assert text.strip() == "completed"
    assert emulator.counters.prompt_creates("interrupted while waiting") == 1

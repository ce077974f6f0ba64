"""Job and Batch go through the narrow `StudioHandle`; the display through the `StudioLike` members.

Three kinds of check: the source of ``_job.py`` touches no private member of anything but itself
(read with `ast`), the handle and the protocol list exactly what their users use (so the lists stay
true), and a real Studio's jobs work through the handle end to end.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import sorakit
from sorakit.engine import Batch, Job
from sorakit.engine import _handle, _job
from sorakit.engine._handle import StudioHandle, handle_of
from sorakit.engine._hooks import StudioLike

PKG = Path(sorakit.__file__).resolve().parent


def _private_reads(module) -> list[str]:
    """``x._name`` in a module's source where ``x`` is not ``self`` (dunders aside)."""
    tree = ast.parse(inspect.getsource(module))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def test_job_and_batch_touch_no_private_member_of_another_object():
    assert _private_reads(_job) == []


def test_the_handle_binds_only_what_job_and_batch_use():
    source = inspect.getsource(_job)
    members = [n for n in StudioHandle.__slots__ if not n.startswith("_")]
    members += [n for n, v in vars(StudioHandle).items() if callable(v) and not n.startswith("_")]
    unused = [m for m in members if not re.search(rf"\b_h\.{m}\b", source)]
    assert unused == [], f"StudioHandle members no Job or Batch uses: {unused}"
    # ...and everything they reach through it is a member
    used = set(re.findall(r"\b_h\.([a-z_]+)", source))
    assert used <= set(members), f"used but not bound: {used - set(members)}"


def test_the_handle_module_imports_nothing_of_the_studio():
    tree = ast.parse(inspect.getsource(_handle))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not any(m and ("_studio" in m or "_launch" in m or "_job" in m) for m in imported), imported


def test_every_studiolike_member_is_used_by_the_display():
    display = "\n".join(p.read_text(encoding="utf-8") for p in (PKG / "display").glob("*.py"))
    names = [n for n in dir(StudioLike) if not n.startswith("_")]
    names += [n for n in getattr(StudioLike, "__annotations__", {}) if n not in names]
    assert set(names) >= {"catalog", "ledger", "budget", "job", "submit", "remix", "batch", "subscribe", "emulated"}
    unused = [n for n in names if not re.search(rf"(\.{n}\b|\"{n}\")", display)]
    assert unused == [], f"StudioLike members sorakit.display does not use: {unused}"


def test_job_without_a_studio_is_refused_with_the_type_named():
    with pytest.raises(TypeError, match="needs a sorakit Studio.*not dict"):
        Job({}, "j1")
    with pytest.raises(TypeError, match="not object"):
        Batch(object(), [])


def test_a_studio_is_studiolike_and_its_jobs_work_through_the_handle(studio):
    assert isinstance(studio, StudioLike)
    handle = handle_of(studio)
    assert handle is studio._handle and handle_of(handle) is handle
    job = studio.generate("a red fox in snow", "sora-2", seconds=4, size="1280x720", progress=False)
    assert job.studio is studio
    assert job.status == "completed" and job.file_path.exists()
    assert job.usual_latency.count >= 1
    batch = studio.batch(["a heron", "a crane"], models="sora-2", seconds=4, size="1280x720", progress=False)
    assert batch.studio is studio and batch[:1].studio is studio
    assert batch.counts() == {"completed": 2} and len(batch.df) == 2
    assert [j.studio for j in batch.completed] == [studio, studio]
    # a Batch built from the Studio (as a script may) waits through the same handle
    again = Batch(studio, [studio.job(j) for j in batch.ids])
    assert again.wait(timeout=30).done
    assert again.eta().jobs_left == 0
    assert [r.cancelled for r in again.cancel()] == [False, False]  # done already: nothing to stop
    job.tag("fox").note("first")
    assert studio.ledger.get(job.id)["tags"] == ["fox"]

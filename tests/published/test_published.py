"""The providers' own published examples judge sorakit's parsers and its emulator (issue 21).

Every ``tests/published/<protocol>/<name>.json`` holds one published answer, verbatim in ``text``,
with its ``source`` (URL or ``package==version:path``), the date it was read (``read_on``), what it is,
the HTTP status where the source gives one, and — where the published text is not JSON as it stands
(elisions, a malformed array, an answer nested inside another) — a ``reading`` with a note saying how
it was read. Comments (``//`` lines) and trailing commas are dropped mechanically (`jsonc`).

Each example is judged twice:

1. **sorakit's parser** (`parser_view`): the example goes through the protocol's provider as the
   answer to its ``call`` (create, poll, list or an error) and the outcome — the state(s): status,
   ids, video location, cost, seed, job error code; or the `ProviderError` class and code — must equal
   the example's ``sorakit`` block, which says what a user with a real key must get.
2. **the emulator** (`emulator_answer`): the emulator answers the same kind of call (the example's
   ``emulator.kind``) and its answer must have the published structure (`structure_diff`): every
   published key path with a compatible JSON type, the status/step vocabulary of the published
   values, the error envelope and the HTTP status. Values are not compared; keys the emulator adds are
   allowed (a published example may be partial).

A difference is either fixed or listed in `KNOWN` with its reason; the test fails when a listed
difference disappears (remove it from `KNOWN`) or a new one appears (fix it, or list it with a reason).
Adding an example: drop a JSON file into the protocol's folder (the fields above), run this file,
then fix or list what it reports. Never invent an example: keep partial ones as published, and say so.
Never commit anything that looks like a credential: replace it and say so in ``redacted``.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

import httpx
import pytest

from sorakit import VideoRequest, plan
from sorakit._exceptions import ProviderError
from sorakit.catalog import load_catalog
from sorakit.emulator import Emulator, EmulatorConfig, ManualClock
from sorakit.emulator._faults import FaultConfig
from sorakit.providers import make_provider
from sorakit.providers.relay import RelayProvider

ROOT = Path(__file__).parent
CAT = load_catalog()
EXAMPLES = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("*/*.json"))
FIELDS = {"source", "read_on", "what", "direction", "call", "status", "status_note", "partial", "text", "reading",
          "reading_note", "headers", "sorakit", "emulator", "redacted"}
"""``redacted`` says what was replaced in ``text`` and why (e.g. a random id a secret scanner reads
as a key); the rest of the text stays verbatim."""
PROTOCOL_OF = {"openai": "openai", "runware": "runware", "runcrate": "runcrate", "relay-unified": "relay",
               "relay-task": "relay", "gemini-interactions": "gemini", "gemini-veo": "gemini", "vertex": "vertex"}

# ------------------------------------------------------------------------------------------ listed
_RUNWARE_ERRORS_FORM = ("Runware publishes both failure forms: its docs move failed generations to errors "
                        "(these examples), runware-sdk reads a failed item inside data; the emulator serves "
                        "data by default and errors with runware_failures_in='errors', which this judge uses")
_APIMART = ("the task family (APIMart: {code, data: [task] | task}, GET /v1/tasks/{id}) is a different relay "
            "protocol from the unified one the emulator serves; sorakit's relay parser reads both")
_RELAY_OWN = ("a relay's own fields beyond the unified protocol the emulator serves (the relay protocol has no "
              "shared standard, PROTOCOLS.md section 4)")
KNOWN: dict[str, dict[str, str]] = {}
"""example -> {difference pattern: reason}: differences that stay, each with why. A pattern is a
`fnmatch` pattern (``missing:$.usage*`` covers a whole published subtree the emulator lacks)."""


def _known(example: str, reason: str, *differences: str) -> None:
    for d in differences:
        KNOWN.setdefault(example, {})[d] = reason


_known("gemini-interactions/sdk-rate-limited-429",
       "google-genai 3.6.1 declares an interaction error's code a string (types/interactions/error.py) and its "
       "retry tests serve 'too_many_requests', but its own 400 fixtures (gaos/test_unknown_fields.py, "
       "test_serialization_requirements.py) answer with Google's envelope {code: 400, status: INVALID_ARGUMENT}, "
       "the wording of Google's front end: the emulator keeps Google's envelope (the SDK's public layer maps both "
       "by HTTP status; sorakit reads both)",
       "type:$.error.code:string!=number")
_known("gemini-veo/relay-error-401",
       "a relay's own error envelope ({message, type}) and status (401) for a bad key; Google answers 400 "
       "INVALID_ARGUMENT / API_KEY_INVALID (gemini-veo/wrong-key-400), which the emulator serves",
       "http:401!=400", "missing:$.error.type")
_RELAY_OPERATION = ("a relay's operation carries Vertex-style metadata (GenerateVideoMetadata) and puts samples "
                    "directly under response; the Gemini API nests them in response.generateVideoResponse "
                    "(PROTOCOLS.md section 5), as the emulator does; sorakit reads both")
_known("gemini-veo/relay-operation-done", _RELAY_OPERATION, "missing:$.metadata*",
       "missing:$.response.generatedSamples*")
_known("gemini-veo/relay-operation-running", _RELAY_OPERATION, "missing:$.metadata*")
_known("gemini-veo/wrong-key-400",
       "the answer was wrapped in a JSON array as it reached that client (Google's streaming endpoints answer "
       "arrays); predictLongRunning answers the plain envelope, which the emulator serves; sorakit reads both",
       "type:$:array!=object")
_known("openai/relay-lumenfall-get-in-progress", _RELAY_OWN, "missing:$.output")
_known("openai/spec-create-video",
       "'quality' is in the spec's example but not in its VideoResource schema; the emulator follows the schema "
       "(tests/emulator/test_openai_schema.py validates every answer against it)",
       "missing:$.quality")
for _name in ("relay-task/grok-create", "relay-task/omni-flash-ext-create", "relay-task/sora2-create",
              "relay-task/veo3-create"):
    _known(_name, _APIMART, "missing:$.code", "missing:$.data*")
for _name in ("relay-task/task-status-completed", "relay-task/task-status-completed-older"):
    _known(_name, _APIMART, "missing:$.code", "missing:$.data?*", "type:$.data:object!=array")
_known("relay-unified/apifox-create-job", _RELAY_OWN,
       "missing:$.progress", "missing:$.seconds", 'value:$.object:"video.generation.job"')
_known("relay-unified/globalaiopc-processing", _RELAY_OWN, "missing:$.created", "missing:$.error", "missing:$.video_url")
_known("relay-unified/newapi-task", _RELAY_OWN + "; new-api names the id task_id and puts one url at the top",
       "missing:$.task_id", "missing:$.url", "missing:$.format", "missing:$.metadata*", "missing:$.error*",
       'value:$.status:"queued"')
_known("relay-unified/qnaigc-video-generation", _RELAY_OWN + "; its example mixes fields of several states",
       "missing:$.task_result*", "missing:$.error*", "missing:$.mode", "missing:$.seconds", "missing:$.size",
       "missing:$.remixed_from_video_id", "missing:$.updated_at", "missing:$.completed_at", "missing:$.expires_at",
       'value:$.status:"initializing"')
_known("relay-unified/you-token-completed", _RELAY_OWN,
       "missing:$.created", "missing:$.error", "missing:$.usage*", "missing:$.data[].*")
for _name in ("runware/final-results", "runware/task-responses"):
    _known(_name, "the published failure is a provider timeout, which the emulator never produces (its failed "
                  "generations are moderation blocks: providerContentPolicyViolation); the item's form is the same",
           'value:$.errors[].code:"timeoutProvider"')
_known("runware/invalid-width-sample",
       "the emulator checks width against the video model's list of sizes, which has no range: its invalidWidth "
       "item has no min/max/multiplier (the published item is an image task's range check)",
       "missing:$.errors[].max", "missing:$.errors[].min", "missing:$.errors[].multiplier")


# ------------------------------------------------------------------------------------------ loading
def jsonc(text: str) -> Any:
    """JSON with whole-line ``//`` comments and trailing commas, as some docs print it."""
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("//")]
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "\n".join(lines)))


def load(name: str) -> dict:
    ex = json.loads((ROOT / f"{name}.json").read_text())
    ex["name"] = name
    ex["protocol_dir"] = name.split("/")[0]
    if "reading" in ex:
        ex["body"] = ex["reading"]
    elif ex["text"] == "":
        ex["body"] = None
    else:
        ex["body"] = jsonc(ex["text"])
    return ex


def http_status(ex: dict) -> int:
    """The published status, else the one the source's prose implies (``emulator.http_status``), else 200."""
    if ex.get("status") is not None:
        return int(ex["status"])
    return int(ex["emulator"].get("http_status", 200))


# ------------------------------------------------------------------------------------------ parsers
KEY = "published-example-key"


def _plan(protocol_dir: str):
    model, provider = {
        "openai": ("sora-2", "openai"), "runware": ("veo-3-fast", "runware"), "runcrate": ("sora-2", "runcrate"),
        "relay-unified": ("veo-3-fast", "relay"), "relay-task": ("veo-3-fast", "relay"),
        "gemini-interactions": ("gemini-omni-flash", "gemini"), "gemini-veo": ("veo-3-fast", "gemini"),
        "vertex": ("veo-3.1", "vertex"),
    }[protocol_dir]
    return plan(VideoRequest("a lighthouse at dusk", model=model, provider=provider), CAT, emulated=True)


def _provider(protocol_dir: str, base_url: Optional[str] = None, **options):
    name = PROTOCOL_OF[protocol_dir]
    info = CAT.providers[name]
    if name == "relay":
        return RelayProvider(info, base_url=base_url or "https://relay.example.com/v1", api_key=KEY, **options)
    if name == "runcrate":
        options.setdefault("check_key", False)
    return make_provider(info, base_url=base_url, api_key=KEY, **options)


def _job_id(body: Any, ex: dict) -> str:
    """The id a poll would be sent with: the one the answer names, else one the example implies."""
    if isinstance(body, dict):
        for key in ("name", "id", "task_id"):
            if isinstance(body.get(key), str):
                return body[key]
        data = body.get("data")
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return data["id"]
        for item in (data if isinstance(data, list) else []) + (body.get("errors") or []):
            if isinstance(item, dict) and isinstance(item.get("taskUUID"), str):
                return item["taskUUID"]
    return {"gemini-interactions": "v1_published"}.get(ex["protocol_dir"], "published-job")


def parser_view(ex: dict) -> dict:
    """What sorakit's provider makes of the example: states, or the error it raises."""
    prov = _provider(ex["protocol_dir"])
    body = ex["body"]
    headers = {"content-type": "application/json", **(ex.get("headers") or {})}
    content = b"" if body is None else json.dumps(body).encode()
    response = httpx.Response(http_status(ex), content=content, headers=headers,
                              request=httpx.Request("GET", prov.base_url + "/x"))
    p = _plan(ex["protocol_dir"])
    ref = _job_id(body, ex)
    try:
        if ex["call"] in ("create", "error"):
            states = prov.parse_create(p, response, ref)
        elif ex["call"] == "poll":
            states = prov.parse_poll(ref, response)
        elif ex["call"] == "list":
            states, _ = prov.parse_list(response)
        else:  # delete: sorakit sends none for this protocol
            return {}
    except ProviderError as e:
        view = {"error_class": type(e).__name__, "error_code": e.code}
        if e.retry_after is not None:
            view["retry_after"] = e.retry_after
        return view
    done = [s for s in states if s.status == "completed"]
    failed = [s for s in states if s.status == "failed"]
    first = done[0] if done else states[0] if states else None
    view: dict[str, Any] = {"states": len(states), "statuses": [s.status for s in states]}
    if first is not None:
        view.update(status=states[0].status, provider_job_id=first.provider_job_id, video_url=first.video_url,
                    video_url_expires_at=first.video_url_expires_at, seed=first.seed,
                    billed_cost=first.billed_cost, provider_video_id=first.provider_video_id)
    if failed:
        view["error_code"] = failed[0].error_code
    return view


def parser_differences(ex: dict) -> set[str]:
    view = parser_view(ex)
    out = set()
    for key, want in ex["sorakit"].items():
        got = view.get(key)
        if got != want:
            out.add(f"parser:{key}:{got!r}!={want!r}")
    return out


# ------------------------------------------------------------------------------------------ structure
def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def shape(v: Any, path: str = "$", out: Optional[dict] = None) -> dict[str, set[str]]:
    """Every key path of a JSON value with the JSON types seen there (array items under ``[]``)."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(_kind(v))
    if isinstance(v, dict):
        for k, x in v.items():
            shape(x, f"{path}.{k}", out)
    elif isinstance(v, list):
        for x in v:
            shape(x, f"{path}[]", out)
    return out


def _values(v: Any, path: str, here: str = "$") -> list[Any]:
    if here == path:
        return [v]
    out: list[Any] = []
    if isinstance(v, dict):
        for k, x in v.items():
            out += _values(x, path, f"{here}.{k}")
    elif isinstance(v, list):
        for x in v:
            out += _values(x, path, f"{here}[]")
    return out


VOCABULARY = ("$.status", "$.data.status", "$.data[].status", "$.errors[].status", "$.errors[].code",
              "$.steps[].type", "$.steps[].content[].type", "$.done", "$.object", "$.data[].object")
"""Paths whose published values must be values the emulator uses there (status, step and Runware error
code vocabulary) for the same kind of call."""


def structure_diff(published: Any, emulated: Any) -> set[str]:
    if published is None:
        return set()
    out = set()
    if isinstance(published, list) and len(published) == 1 and isinstance(emulated, dict):
        # one answer wrapped in an array (as Google's streaming front end sends errors): the wrapping
        # is one difference, the answer inside is compared as such
        out.add("type:$:array!=object")
        published = published[0]
    pub, emu = shape(published), shape(emulated)
    for path, kinds in pub.items():
        if path not in emu:
            out.add(f"missing:{path}")
            continue
        a, b = kinds - {"null"}, emu[path] - {"null"}
        if a and b and not a & b:
            out.add(f"type:{path}:{'|'.join(sorted(a))}!={'|'.join(sorted(b))}")
    for path in VOCABULARY:
        seen = {json.dumps(v) for v in _values(emulated, path)}
        for v in _values(published, path):
            if seen and json.dumps(v) not in seen:
                out.add(f"value:{path}:{json.dumps(v)}")
    return out


# ------------------------------------------------------------------------------------------ emulator
EMU_BASE = "http://emulator.test"
PROMPT = "a lighthouse at dusk"


class EmulatorJudge:
    """Asks one in-process emulator for each kind of answer once, as the protocol's clients do."""

    def __init__(self, tmp: Path):
        self.clock = ManualClock()  # time moves only in `until`, so a running state is always seen
        self.emu = Emulator(EmulatorConfig(time_scale=0.01, seed=21), media_dir=tmp, clock=self.clock)
        self.client = httpx.Client(transport=self.emu.sync_transport(), base_url=EMU_BASE, timeout=60)
        self.cache: dict[tuple[str, str], tuple[int, Any]] = {}

    def close(self) -> None:
        self.client.close()
        self.emu.close()

    # -- helpers ---------------------------------------------------------------------------
    def prefix(self, protocol_dir: str) -> str:
        return EMU_BASE + CAT.providers[PROTOCOL_OF[protocol_dir]].emulator_prefix

    def provider(self, protocol_dir: str, **options):
        base = self.prefix(protocol_dir)
        if PROTOCOL_OF[protocol_dir] == "vertex":
            options = {"storage_uri": "gs://published-bucket/runs/", **type(_provider("vertex")).emulator_options(base),
                       **options}
        return _provider(protocol_dir, base_url=base, **options)

    def send(self, request: httpx.Request) -> tuple[int, Any]:
        r = self.client.send(request)
        try:
            return r.status_code, r.json() if r.content else None
        except ValueError:
            return r.status_code, r.text

    def until(self, fetch: Callable[[], tuple[int, Any]], done: Callable[[Any], bool], what: str) -> tuple[int, Any]:
        deadline = time.monotonic() + 60
        while True:
            status, body = fetch()
            if done(body):
                return status, body
            if time.monotonic() > deadline:
                raise AssertionError(f"the emulator never reached {what}: {body!r}"[:500])
            self.clock.advance(0.01)

    def with_config(self, **changes):
        cfg = self.emu.config
        old = {k: getattr(cfg, k) for k in changes}

        class _Ctx:
            def __enter__(s):
                for k, v in changes.items():
                    setattr(cfg, k, v)
                self.emu.limiter.reset()

            def __exit__(s, *exc):
                for k, v in old.items():
                    setattr(cfg, k, v)
                self.emu.limiter.reset()
        return _Ctx()

    # -- the answers -----------------------------------------------------------------------
    def answer(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        family = "relay" if protocol_dir.startswith("relay") else protocol_dir
        key = (family, kind)
        if key not in self.cache:
            self.cache[key] = getattr(self, f"_{family.replace('-', '_')}")(protocol_dir, kind)
        return self.cache[key]

    def _create_and_poll(self, protocol_dir: str, kind: str, done: Callable[[Any], bool],
                         running: Callable[[Any], bool], p=None) -> tuple[int, Any]:
        prov = self.provider(protocol_dir)
        p = p or _plan(protocol_dir)
        status, body = self.send(prov.build_create(p, str(uuid.uuid4())))
        if kind == "create":
            return status, body
        job = prov.parse_create(p, httpx.Response(status, json=body), str(uuid.uuid4()))[0].provider_job_id
        poll = lambda: self.send(prov.build_poll(job))  # noqa: E731
        if kind == "poll_running":
            return self.until(poll, running, "a running job")
        return self.until(poll, done, "a finished job")

    def _openai(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        prov = self.provider("openai")
        done = lambda b: b.get("status") in ("completed", "failed")  # noqa: E731
        if kind in ("create", "poll_running", "poll_completed"):
            return self._create_and_poll("openai", kind, done, lambda b: b.get("status") == "in_progress")
        if kind == "list":
            self.answer("openai", "remix")  # a completed video (and a queued remix) to list
            return self.send(prov.build_list())
        if kind == "remix":
            _, video = self._create_and_poll("openai", "poll_completed", done, done)
            return self.send(httpx.Request("POST", f"{self.prefix('openai')}/videos/{video['id']}/remix",
                                           json={"prompt": "the same lighthouse at dawn"}))
        if kind == "error_400":  # seconds as an int: OpenAI's 400 invalid_request_error
            return self.send(httpx.Request("POST", f"{self.prefix('openai')}/videos",
                                           json={"model": "sora-2", "prompt": PROMPT, "seconds": 4}))
        raise KeyError(kind)

    def _runware(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        prov = self.provider("runware")
        url = self.prefix("runware")
        base = json.loads(prov.build_create(_plan("runware"), str(uuid.uuid4())).content)[0]

        def task(**changes):
            t = {**base, "taskUUID": str(uuid.uuid4()), **changes}
            return {k: v for k, v in t.items() if v is not None}

        if kind == "create":
            return self.send(httpx.Request("POST", url, json=[task()]))
        if kind == "error_auth":
            with self.with_config(require_key="the-right-key"):
                return self.send(httpx.Request("POST", url, json=[task()],
                                               headers={"Authorization": "Bearer wrong"}))
        if kind == "error_duration":
            return self.send(httpx.Request("POST", url, json=[task(duration=7)]))
        if kind == "error_width":
            return self.send(httpx.Request("POST", url, json=[task(width=640, height=360)]))
        if kind == "poll_mixed_errors":
            def poll(t):
                return self.send(httpx.Request("POST", url, json=[{"taskType": "getResponse", "taskUUID": t["taskUUID"]}]))

            ok, bad, running = task(), task(positivePrompt="a blocked-term scene"), task(duration=8)
            with self.with_config(runware_failures_in="errors"):
                for t in (ok, bad, running):
                    self.send(httpx.Request("POST", url, json=[t]))
                _, processing = poll(running)
                _, success = self.until(lambda: poll(ok), lambda b: b["data"] and b["data"][0]["status"] == "success",
                                        "a finished task")
                _, failure = self.until(lambda: poll(bad), lambda b: bool(b.get("errors")), "a failed task")
            merged = {"data": processing["data"] + success["data"], "errors": failure["errors"]}
            return 200, merged
        raise KeyError(kind)

    def _runcrate(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        if kind == "error_auth":
            with self.with_config(require_key="rc_live_right"):
                return self.send(httpx.Request("POST", f"{self.prefix('runcrate')}/videos",
                                               json={"model": "openai/sora-2", "prompt": PROMPT},
                                               headers={"Authorization": "Bearer rc_live_wrong"}))
        done = lambda b: b.get("status") in ("completed", "failed")  # noqa: E731
        return self._create_and_poll("runcrate", kind, done, lambda b: b.get("status") == "processing")

    def _relay(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        done = lambda b: str(b.get("status")) in ("completed", "failed")  # noqa: E731
        return self._create_and_poll("relay-unified", kind, done, lambda b: b.get("status") == "processing")

    def _gemini_interactions(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        url = f"{self.prefix('gemini-interactions')}/interactions"
        if kind in ("create", "poll_completed"):
            done = lambda b: b.get("status") in ("completed", "failed")  # noqa: E731
            return self._create_and_poll("gemini-interactions", kind, done, lambda b: b.get("status") == "in_progress")
        body = json.loads(self.provider("gemini-interactions").build_create(_plan("gemini-interactions"), "r").content)
        if kind == "error_400":
            return self.send(httpx.Request("POST", url, json={**body, "unknown_field": True}))
        if kind == "error_429":
            with self.with_config(rate_limit_per_minute=1):
                self.send(httpx.Request("POST", url, json=body))
                return self.send(httpx.Request("POST", url, json=body))
        if kind == "error_503":
            with self.with_config(faults=FaultConfig(error_5xx=1.0, providers=("gemini",))):
                return self.send(httpx.Request("POST", url, json=body))
        if kind == "delete":
            _, created = self.send(httpx.Request("POST", url, json=body))
            return self.send(httpx.Request("DELETE", f"{url}/{created['id']}"))
        raise KeyError(kind)

    def _gemini_veo(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        if kind == "error_auth":
            with self.with_config(require_key="AIza-right"):
                prov = _provider("gemini-veo", base_url=self.prefix("gemini-veo"))
                return self.send(prov.build_create(_plan("gemini-veo"), "r"))
        if kind == "error_model_gone":
            p = _plan("gemini-veo")
            with self.with_config(shut_down={("gemini", p.provider_model)}):
                return self.send(self.provider("gemini-veo").build_create(p, "r"))
        return self._create_and_poll("gemini-veo", kind, lambda b: bool(b.get("done")),
                                     lambda b: b.get("done") is False)

    def _vertex(self, protocol_dir: str, kind: str) -> tuple[int, Any]:
        if kind == "error_not_found":
            prov = self.provider("vertex")
            req = prov.build_create(_plan("vertex"), "r")
            url = str(req.url).replace(_plan("vertex").provider_model, "veo-3.1-fast-generate-preview-withdrawn")
            # an id the service does not know (the emulator serves unknown ids as new models by default)
            with self.with_config(serve_unknown_models=False):
                return self.send(httpx.Request("POST", url, content=req.content, headers=req.headers))
        return self._create_and_poll("vertex", kind, lambda b: bool(b.get("done")), lambda b: b.get("done") is False)


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    j = EmulatorJudge(tmp_path_factory.mktemp("published-emulator"))
    yield j
    j.close()


def emulator_differences(ex: dict, judge: EmulatorJudge) -> set[str]:
    status, body = judge.answer(ex["protocol_dir"], ex["emulator"]["kind"])
    out = structure_diff(ex["body"], body)
    want = ex.get("status") if ex.get("status") is not None else ex["emulator"].get("http_status")
    if want is not None and want != status and not (want >= 500 and status >= 500):
        out.add(f"http:{want}!={status}")
    return out


# ------------------------------------------------------------------------------------------ tests
def test_the_corpus_is_well_formed():
    by_dir: dict[str, int] = {}
    for name in EXAMPLES:
        ex = json.loads((ROOT / f"{name}.json").read_text())
        assert set(ex) <= FIELDS, f"{name}: unknown fields {set(ex) - FIELDS}"
        for field in ("source", "read_on", "what", "call", "text", "sorakit", "emulator"):
            assert field in ex, f"{name}: no {field}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", ex["read_on"]), name
        assert ("reading" in ex) == ("reading_note" in ex), f"{name}: a reading needs a reading_note"
        assert ex["call"] in ("create", "poll", "list", "error", "delete"), name
        load(name)  # parses
        by_dir[name.split("/")[0]] = by_dir.get(name.split("/")[0], 0) + 1
    assert set(by_dir) == set(PROTOCOL_OF), by_dir
    assert set(KNOWN) <= set(EXAMPLES), set(KNOWN) - set(EXAMPLES)


@pytest.mark.parametrize("name", EXAMPLES)
def test_published_example(name, judge):
    ex = load(name)
    found = parser_differences(ex) | emulator_differences(ex, judge)
    listed = KNOWN.get(name, {})
    new = sorted(d for d in found if not any(fnmatch.fnmatchcase(d, pat) for pat in listed))
    gone = sorted(pat for pat in listed if not any(fnmatch.fnmatchcase(d, pat) for d in found))
    assert not new and not gone, (
        f"{name}: new differences (fix them or list them in KNOWN with a reason): {new}; "
        f"listed differences that are gone (remove them from KNOWN): {gone}")

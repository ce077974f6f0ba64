"""Helpers for the emulator's own tests: images, the OpenAPI schema, a manual clock."""

from __future__ import annotations

import base64
import io
import uuid
from pathlib import Path

import pytest
import yaml

from sorakit.emulator import ManualClock

SPEC_PATH = Path(__file__).parent.parent / "fixtures" / "openai-videos.openapi.yaml"


def png(width: int, height: int, color=(200, 40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def new_uuid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def make_png():
    """``make_png(width, height, color=(r, g, b)) -> bytes``."""
    return png


@pytest.fixture(scope="session")
def openapi_spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="session")
def openai_schema(openapi_spec):
    """``validate(instance, "VideoResource")``: raises jsonschema.ValidationError on a mismatch."""
    from jsonschema import Draft202012Validator

    validators = {}

    def validate(instance, name: str) -> None:
        if name not in validators:
            root = {"$ref": f"#/components/schemas/{name}", "components": openapi_spec["components"]}
            Draft202012Validator.check_schema(root)
            validators[name] = Draft202012Validator(root)
        validators[name].validate(instance)

    return validate


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator_config():
    """The shared fixture's settings, but rendering only what a test downloads (saves CPU)."""
    from sorakit.emulator import EmulatorConfig

    return EmulatorConfig(time_scale=0.01, seed=1234, render_eagerly=False)

"""Shared parsing on the provider seam: tolerant numbers and a clear error for non-JSON answers."""

import httpx
import pytest

from sorakit import ProviderError
from sorakit.catalog import load_catalog
from sorakit.providers._base import as_float, as_int
from sorakit.providers.openai import OpenAIProvider


@pytest.mark.parametrize("value,expected", [
    (8, 8), ("8", 8), ("8.0", 8), (" 40% ", 40), (2**40 + 1, 2**40 + 1), ("12345678901234567", 12345678901234567),
    (None, None), ("", None), ("abc", None), (True, None), ([], None),
])
def test_as_int(value, expected):
    assert as_int(value) == expected


@pytest.mark.parametrize("value,expected", [(0.42, 0.42), ("0.42", 0.42), (1, 1.0), (None, None), ("x", None), (False, None)])
def test_as_float(value, expected):
    assert as_float(value) == expected


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_a_provider_error(body):
    provider = OpenAIProvider(load_catalog().providers["openai"], api_key="sk-test-PLANTED-0000")
    response = httpx.Response(200, content=body, headers={"x-request-id": "req_1"},
                              request=httpx.Request("GET", "https://api.openai.com/v1/videos/v"))
    with pytest.raises(ProviderError) as info:
        provider.json_object(response)
    assert info.value.code == "invalid_response" and info.value.request_id == "req_1"
    assert "PLANTED" not in str(info.value)

"""An S3-compatible server for the media store tests (loaded as a plugin by tests/conftest.py).

- ``s3_server``: moto's S3 API (``moto[server]`` from the ``test`` extra) on 127.0.0.1 at a free
  port, started for the test and stopped after it (``.stop()`` earlier to test offline reads).
  The environment points the AWS SDK at it (``AWS_ENDPOINT_URL``) with dummy credentials that do
  not look like real keys, no profile and no ``~/.aws`` files; ``SORAKIT_CACHE`` is a fresh
  folder, so every test starts with an empty read-through cache. One bucket ``team`` exists.
- ``s3_objects()``: ``{key: bytes}`` of a bucket, read with boto3 (a judge independent of s3fs).
"""

from __future__ import annotations

import pytest

ACCESS_KEY_ID = "sorakit-test-key-id"
SECRET_ACCESS_KEY = "sorakit-test-secret-not-real"
BUCKET = "team"


class S3Server:
    def __init__(self, server, endpoint: str):
        self._server = server
        self.endpoint = endpoint
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._server.stop()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY)

    def objects(self, bucket: str = BUCKET) -> dict[str, bytes]:
        c = self.client()
        listed = c.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {o["Key"]: c.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def s3_env(endpoint: str, tmp_path) -> dict[str, str]:
    """The variables a process needs to reach the test server (and nothing real)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def s3_server(tmp_path, monkeypatch):
    from conftest import require

    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - the test extra installs it
        require(False, "moto[server] is not installed (pip install -e '.[test]')")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(server, f"http://{host}:{port}")
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    for key, value in s3_env(s3.endpoint, tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path / "cache"))
    s3.client().create_bucket(Bucket=BUCKET)
    try:
        yield s3
    finally:
        s3.stop()

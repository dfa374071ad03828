"""Blob stores: one contract, run against local disk and against S3 (moto's server).

moto's standalone server runs as a subprocess on a free port for this module; every test
against it gets a bucket of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import boto3
import httpx
import pytest
import pytest_asyncio
from botocore.exceptions import ClientError

from tests.support.settings import make_settings
from waa_ads.core.db import Database
from waa_ads.core.settings import BlobBackend
from waa_ads.core.storage import (
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    blob_key,
    blob_store_from_settings,
)
from waa_ads.main import create_app

REGION = "us-east-1"


class _Keys(TypedDict):
    access_key_id: str
    secret_access_key: str


KEYS = _Keys(access_key_id="test-key", secret_access_key="test-secret")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise AssertionError(f"moto server did not start:\n{err}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
    )


@pytest.fixture(scope="module")
def s3_client(moto_endpoint: str) -> Any:
    """One client for the module: making a boto3 client takes most of a second."""
    return _s3_client(moto_endpoint)


@pytest.fixture
def bucket(s3_client: Any) -> Iterator[str]:
    name = f"waa-test-{secrets.token_hex(4)}"
    client = s3_client
    client.create_bucket(Bucket=name)
    yield name
    for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


@dataclass
class StoreUnderTest:
    store: BlobStore
    count: Callable[[], int]
    overwrite: Callable[[str, bytes], None]


@pytest_asyncio.fixture(params=["local", "s3"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreUnderTest]:
    if request.param == "local":
        local = LocalBlobStore(tmp_path / "blobs")

        def count_files() -> int:
            return sum(
                1 for p in local.root.rglob("*") if p.is_file() and p.parent != local.root / "tmp"
            )

        def overwrite_file(sha: str, data: bytes) -> None:
            local.path_of(sha).write_bytes(data)

        yield StoreUnderTest(local, count_files, overwrite_file)
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    name = request.getfixturevalue("bucket")
    s3 = S3BlobStore(name, endpoint_url=endpoint, region=REGION, **KEYS)
    client = request.getfixturevalue("s3_client")

    def count_objects() -> int:
        return len(client.list_objects_v2(Bucket=name).get("Contents", []))

    def overwrite_object(sha: str, data: bytes) -> None:
        client.put_object(Bucket=name, Key=s3.key_of(sha), Body=data)

    yield StoreUnderTest(s3, count_objects, overwrite_object)
    await s3.aclose()


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def _read_all(store: BlobStore, sha: str, chunk_size: int = 64 * 1024) -> bytes:
    parts = [chunk async for chunk in store.open(sha, chunk_size=chunk_size)]
    return b"".join(parts)


# ---------------------------------------------------------------------------- contract


@pytest.mark.asyncio
async def test_put_returns_the_digest_and_get_returns_the_bytes(subject: StoreUnderTest) -> None:
    data = b"an item's image, say" * 100
    ref = await subject.store.put(data, "image/png")
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert ref.content_type == "image/png"
    assert await subject.store.get(ref.sha256) == data
    assert await subject.store.exists(ref.sha256)
    assert await subject.store.size(ref.sha256) == len(data)


@pytest.mark.asyncio
async def test_putting_the_same_bytes_stores_them_once(subject: StoreUnderTest) -> None:
    data = secrets.token_bytes(5000)
    refs = await asyncio.gather(*(subject.store.put(data) for _ in range(8)))
    assert len({r.sha256 for r in refs}) == 1
    again = await subject.store.put(io.BytesIO(data))
    assert again.sha256 == refs[0].sha256
    assert subject.count() == 1
    await subject.store.put(b"other bytes")
    assert subject.count() == 2


@pytest.mark.asyncio
async def test_streams_and_files_are_stored_like_bytes(subject: StoreUnderTest) -> None:
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)
    expected = hashlib.sha256(data).hexdigest()
    from_chunks = await subject.store.put(_chunks(data, 256 * 1024), "application/pdf")
    assert (from_chunks.sha256, from_chunks.size) == (expected, len(data))
    from_file = await subject.store.put(io.BytesIO(data))
    assert from_file.sha256 == expected
    assert await _read_all(subject.store, expected) == data
    chunks = [c async for c in subject.store.open(expected, chunk_size=1024 * 1024)]
    assert all(len(c) <= 1024 * 1024 for c in chunks) and len(chunks) >= 4


@pytest.mark.asyncio
async def test_an_empty_blob_is_a_blob(subject: StoreUnderTest) -> None:
    ref = await subject.store.put(b"")
    assert ref.sha256 == hashlib.sha256(b"").hexdigest()
    assert ref.size == 0
    assert await subject.store.get(ref.sha256) == b""
    assert await _read_all(subject.store, ref.sha256) == b""


@pytest.mark.asyncio
async def test_a_missing_blob_is_not_found(subject: StoreUnderTest) -> None:
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not await subject.store.exists(sha)
    with pytest.raises(BlobNotFound):
        await subject.store.get(sha)
    with pytest.raises(BlobNotFound):
        await subject.store.size(sha)
    with pytest.raises(BlobNotFound):
        await _read_all(subject.store, sha)
    assert await subject.store.delete(sha) is False


@pytest.mark.asyncio
async def test_delete_removes_the_blob(subject: StoreUnderTest) -> None:
    ref = await subject.store.put(b"to be erased")
    assert await subject.store.delete(ref.sha256) is True
    assert not await subject.store.exists(ref.sha256)
    with pytest.raises(BlobNotFound):
        await subject.store.get(ref.sha256)
    assert subject.count() == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 65, "g" * 64, "", "ab/cd"]
)
async def test_malformed_digests_are_refused_before_any_io(
    subject: StoreUnderTest, bad: str
) -> None:
    for call in (
        subject.store.get(bad),
        subject.store.exists(bad),
        subject.store.size(bad),
        subject.store.delete(bad),
        subject.store.url(bad),
    ):
        with pytest.raises(ValueError, match="SHA-256"):
            await call
    with pytest.raises(ValueError, match="SHA-256"):
        await _read_all(subject.store, bad)


@pytest.mark.asyncio
async def test_damaged_bytes_are_detected_on_read_and_repaired_by_a_put(
    subject: StoreUnderTest,
) -> None:
    data = b"the original bytes, exactly"
    ref = await subject.store.put(data)
    subject.overwrite(ref.sha256, b"bit rot")
    with pytest.raises(BlobCorrupted):
        await subject.store.get(ref.sha256)
    with pytest.raises(BlobCorrupted):
        await _read_all(subject.store, ref.sha256)
    await subject.store.put(data)
    assert await subject.store.get(ref.sha256) == data


@pytest.mark.asyncio
async def test_url_is_absent_or_serves_the_bytes(subject: StoreUnderTest) -> None:
    data = b"\x89PNG not really"
    ref = await subject.store.put(data, "image/png")
    url = await subject.store.url(ref.sha256, expires_in_s=60, content_type="image/png")
    if isinstance(subject.store, LocalBlobStore):
        assert url is None
        return
    assert url is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"


@pytest.mark.asyncio
async def test_check_passes_on_a_usable_store(subject: StoreUnderTest) -> None:
    await subject.store.check()


# ----------------------------------------------------------------- store specifics


def test_keys_are_sharded_by_the_first_digits() -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert blob_key(sha) == f"{sha[:2]}/{sha[2:4]}/{sha}"


@pytest.mark.asyncio
async def test_local_store_writes_atomically_and_leaves_no_temporary_files(
    tmp_path: Path,
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    ref = await store.put(b"bytes")
    await store.put(_chunks(b"streamed bytes", 4))

    async def broken() -> AsyncIterator[bytes]:
        yield b"half of a "
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(broken())
    assert store.path_of(ref.sha256) == tmp_path / "blobs" / blob_key(ref.sha256)
    assert store.path_of(ref.sha256).read_bytes() == b"bytes"
    assert os.listdir(tmp_path / "blobs" / "tmp") == []
    stored = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    assert stored == sorted(
        [hashlib.sha256(b"bytes").hexdigest(), hashlib.sha256(b"streamed bytes").hexdigest()]
    )


@pytest.mark.asyncio
async def test_local_check_creates_the_directory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "not" / "yet")
    await store.check()
    assert (tmp_path / "not" / "yet" / "tmp").is_dir()


@pytest.mark.asyncio
async def test_s3_check_fails_without_the_bucket(moto_endpoint: str) -> None:
    store = S3BlobStore(
        f"missing-{secrets.token_hex(4)}", endpoint_url=moto_endpoint, region=REGION, **KEYS
    )
    with pytest.raises(ClientError, match=r"HeadBucket.*(404|Not Found)"):
        await store.check()
    await store.aclose()


def test_store_from_settings(tmp_path: Path) -> None:
    local = blob_store_from_settings(make_settings(data_dir=tmp_path))
    assert isinstance(local, LocalBlobStore)
    assert local.root == tmp_path / "blobs"
    s3 = blob_store_from_settings(
        make_settings(blob_backend=BlobBackend.s3, s3_bucket="b", s3_endpoint_url="http://x:9000")
    )
    assert isinstance(s3, S3BlobStore)
    assert s3.bucket == "b"
    with pytest.raises(ValueError, match="WAA_S3_BUCKET"):
        blob_store_from_settings(make_settings(blob_backend=BlobBackend.s3))


# ---------------------------------------------------------------------- readiness


@pytest_asyncio.fixture
async def scratch_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'ready.db'}")
    yield db
    await db.dispose()


async def _readyz(settings: Any, db: Database) -> httpx.Response:
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.blobs, BlobStore)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/readyz")


@pytest.mark.asyncio
async def test_readyz_reports_the_blob_store(
    scratch_db: Database, moto_endpoint: str, bucket: str
) -> None:
    local = await _readyz(make_settings(), scratch_db)
    assert local.status_code == 200
    assert local.json()["dependencies"]["blobs"]["status"] == "ok"

    s3_settings: dict[str, Any] = {
        "blob_backend": BlobBackend.s3,
        "s3_endpoint_url": moto_endpoint,
        "s3_access_key_id": KEYS["access_key_id"],
        "s3_secret_access_key": KEYS["secret_access_key"],
    }
    present = await _readyz(make_settings(s3_bucket=bucket, **s3_settings), scratch_db)
    assert present.status_code == 200
    assert present.json()["dependencies"]["blobs"]["status"] == "ok"

    absent = await _readyz(make_settings(s3_bucket=f"gone-{bucket}", **s3_settings), scratch_db)
    assert absent.status_code == 503
    assert absent.json()["dependencies"]["blobs"]["status"] == "error"

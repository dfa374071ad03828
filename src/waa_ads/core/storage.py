"""Blob storage: bytes addressed by their SHA-256, on local disk or in an S3 bucket.

Media assets, uploaded files and rendered reports live here; database rows keep only the
:class:`BlobRef` (digest, size, content type). Because the key is the digest:

- a put is idempotent: the same bytes get the same key and are stored once, so two
  uploads of one image, or a retried task writing the same report, cost nothing;
- what comes back can be checked against the key: every read verifies the digest and
  raises :class:`BlobCorrupted` rather than hand out damaged bytes;
- blobs are immutable: there is no update, only put and delete.

The store keeps bytes, not metadata: the content type given to ``put`` is echoed in the
returned reference (and set on S3 objects, so presigned URLs serve it), but the row that
refers to a blob is where the content type is kept. Deleting a blob other rows may still
refer to is the caller's concern (reference counting belongs to the domain that owns them).

Both stores lay keys out as ``ab/cd/<sha256>`` (the first two pairs of hex digits), so a
local blob directory and a bucket can be copied into each other with ordinary tools.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from botocore.exceptions import ClientError

from waa_ads.core.errors import NotFound
from waa_ads.core.i18n import N_
from waa_ads.core.settings import BlobBackend, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_CONTENT_TYPE = "application/octet-stream"
CHUNK_SIZE = 1024 * 1024
#: Streams larger than this are spooled to a temporary file, not kept in memory, on their
#: way to S3 (the digest, hence the key, is known only once the stream has been read).
S3_SPOOL_MAX_MEMORY = 8 * 1024 * 1024

_SHA256 = re.compile(r"[0-9a-f]{64}")

#: What ``put`` accepts: bytes, a binary file object opened for reading, or an async
#: iterable of byte chunks (an upload being received, say).
BlobSource = bytes | bytearray | memoryview | BinaryIO | AsyncIterable[bytes]


class BlobNotFound(NotFound):
    """No blob is stored under this digest."""

    code = "blob-not-found"
    title = N_("Blob not found")


class BlobCorrupted(Exception):
    """The bytes stored under a digest do not hash to it (disk or transfer damage)."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What a row keeps to refer to a blob."""

    sha256: str
    size: int
    content_type: str


@runtime_checkable
class BlobStore(Protocol):
    """Content-addressed blob storage.

    Every method that takes a digest raises :class:`ValueError` when it is not 64 lowercase
    hexadecimal digits, before any I/O (so a digest from a URL can never name a path).
    """

    async def put(self, data: BlobSource, content_type: str = DEFAULT_CONTENT_TYPE) -> BlobRef:
        """Store ``data`` under its SHA-256 and return the reference.

        Idempotent: storing bytes that are already present writes nothing. A stream is read
        to its end exactly once; a file object is read from its current position.
        """
        ...

    async def get(self, sha256: str) -> bytes:
        """The whole blob, verified; :class:`BlobNotFound`, :class:`BlobCorrupted`."""
        ...

    def open(self, sha256: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """The blob in chunks, for blobs too large to hold in memory.

        A missing blob raises :class:`BlobNotFound` on the first iteration; damage raises
        :class:`BlobCorrupted` after the last chunk (the digest is known only then), so a
        caller streaming to a client should check :meth:`exists` first.
        """
        ...

    async def size(self, sha256: str) -> int:
        """The blob's size in bytes; :class:`BlobNotFound` when absent."""
        ...

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> bool:
        """Remove the blob; True when it was there. Deleting a missing blob is not an error."""
        ...

    async def url(
        self, sha256: str, *, expires_in_s: int = 3600, content_type: str | None = None
    ) -> str | None:
        """A time-limited URL a browser can fetch the blob from directly, or None when the
        store cannot make one (local disk: serve the bytes through the API instead)."""
        ...

    async def check(self) -> None:
        """Raise when the store cannot be used (readiness probe)."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def validate_sha256(sha256: str) -> str:
    """Return ``sha256`` when it is a well-formed digest, else raise ValueError."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r:.80}")
    return sha256


def blob_key(sha256: str) -> str:
    """The relative path or object key of a blob: ``ab/cd/<sha256>``."""
    validate_sha256(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


async def _chunks(data: BlobSource) -> AsyncIterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    if isinstance(data, AsyncIterable):
        async for chunk in data:
            if chunk:
                yield bytes(chunk)
        return
    if hasattr(data, "read"):
        while chunk := await asyncio.to_thread(data.read, CHUNK_SIZE):
            yield bytes(chunk)
        return
    raise TypeError(f"cannot store a {type(data).__name__}; give bytes, a file or chunks")


def _check_digest(expected: str, actual: str, where: str) -> None:
    if actual != expected:
        raise BlobCorrupted(f"blob {expected} at {where} hashes to {actual}")


class LocalBlobStore:
    """Blobs as files under ``root`` (the embedded default: ``<data_dir>/blobs``).

    Writes go to a temporary file in ``root/tmp`` (same file system), are fsynced, then
    renamed into place, and the directory is fsynced: a crash leaves either the whole blob
    or none of it, never a truncated file under a digest. Concurrent puts of the same bytes
    both rename identical files onto one name, which is harmless.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"

    def path_of(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    async def put(self, data: BlobSource, content_type: str = DEFAULT_CONTENT_TYPE) -> BlobRef:
        if isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
            return await asyncio.to_thread(self._put_bytes, payload, content_type)
        fd, tmp_name = await asyncio.to_thread(self._new_temp)
        tmp = Path(tmp_name)
        try:
            hasher = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                async for chunk in _chunks(data):
                    hasher.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(_flush_and_sync, out)
            sha = hasher.hexdigest()
            await asyncio.to_thread(self._install, tmp, sha, size)
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
        return BlobRef(sha256=sha, size=size, content_type=content_type)

    def _put_bytes(self, payload: bytes, content_type: str) -> BlobRef:
        sha = hashlib.sha256(payload).hexdigest()
        ref = BlobRef(sha256=sha, size=len(payload), content_type=content_type)
        if self._present(sha, len(payload)):
            return ref
        fd, tmp_name = self._new_temp()
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(payload)
                _flush_and_sync(out)
            self._install(tmp, sha, len(payload))
        finally:
            tmp.unlink(missing_ok=True)
        return ref

    def _present(self, sha: str, size: int) -> bool:
        # A file of the right size is taken as present; reads verify the digest. A file of
        # the wrong size (a damaged blob) is replaced by the put.
        try:
            return self.path_of(sha).stat().st_size == size
        except FileNotFoundError:
            return False

    def _new_temp(self) -> tuple[int, str]:
        _make_dirs(self._tmp)
        return tempfile.mkstemp(dir=self._tmp, prefix="put-")

    def _install(self, tmp: Path, sha: str, size: int) -> None:
        if self._present(sha, size):
            return
        final = self.path_of(sha)
        _make_dirs(final.parent)
        os.replace(tmp, final)
        _fsync_dir(final.parent)

    async def get(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256}") from None
        _check_digest(sha256, hashlib.sha256(data).hexdigest(), str(path))
        return data

    async def open(self, sha256: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self.path_of(sha256)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256}") from None
        hasher = hashlib.sha256()
        try:
            while chunk := await asyncio.to_thread(handle.read, chunk_size):
                hasher.update(chunk)
                yield chunk
        finally:
            handle.close()
        _check_digest(sha256, hasher.hexdigest(), str(path))

    async def size(self, sha256: str) -> int:
        path = self.path_of(sha256)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256}") from None

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path_of(sha256).is_file)

    async def delete(self, sha256: str) -> bool:
        path = self.path_of(sha256)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True

    async def url(
        self, sha256: str, *, expires_in_s: int = 3600, content_type: str | None = None
    ) -> str | None:
        validate_sha256(sha256)
        return None

    async def check(self) -> None:
        def probe() -> None:
            _make_dirs(self._tmp)
            if not os.access(self.root, os.W_OK) or not os.access(self._tmp, os.W_OK):
                raise PermissionError(f"blob directory {self.root} is not writable")

        await asyncio.to_thread(probe)

    async def aclose(self) -> None:
        return None


def _flush_and_sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents, fsyncing each parent that gained an entry, so
    a blob renamed into a new shard directory survives a power cut."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue
        _fsync_dir(directory.parent)


class S3BlobStore:
    """Blobs as objects in an S3 (or S3-compatible: MinIO, Ceph) bucket.

    boto3 is synchronous; every call runs in a worker thread (boto3 clients are
    thread-safe). The bucket must exist: creating buckets and their policies is
    deployment's work, not the application's. A put first asks whether an object of the
    right size is there and uploads only when it is not; small puts carry their SHA-256 so
    S3 itself rejects bytes damaged in transit.
    """

    def __init__(
        self,
        bucket: str,
        *,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        key_prefix: str = "",
    ) -> None:
        self.bucket = bucket
        self.key_prefix = key_prefix
        if client is None:
            # Imported here: boto3 takes a noticeable share of start-up, and most
            # processes (the embedded default, tests) never talk to S3.
            import boto3
            from botocore.config import Config as BotoConfig

            config = BotoConfig(
                signature_version="s3v4",
                retries={"max_attempts": 4, "mode": "standard"},
                max_pool_connections=20,
                connect_timeout=5,
                read_timeout=60,
                # S3-compatible servers (MinIO) want bucket names in the path, not the host.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            )
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=config,
            )
        self._client = client

    def key_of(self, sha256: str) -> str:
        return self.key_prefix + blob_key(sha256)

    async def put(self, data: BlobSource, content_type: str = DEFAULT_CONTENT_TYPE) -> BlobRef:
        if isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
            digest = hashlib.sha256(payload).digest()
            ref = BlobRef(sha256=digest.hex(), size=len(payload), content_type=content_type)
            if not await self._present(ref.sha256, ref.size):
                await asyncio.to_thread(
                    self._client.put_object,
                    Bucket=self.bucket,
                    Key=self.key_of(ref.sha256),
                    Body=payload,
                    ContentType=content_type,
                    ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
                )
            return ref
        with tempfile.SpooledTemporaryFile(max_size=S3_SPOOL_MAX_MEMORY) as spool:
            hasher = hashlib.sha256()
            size = 0
            async for chunk in _chunks(data):
                hasher.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(spool.write, chunk)
            ref = BlobRef(sha256=hasher.hexdigest(), size=size, content_type=content_type)
            if not await self._present(ref.sha256, ref.size):
                spool.seek(0)
                # upload_fileobj switches to a multipart upload for large blobs.
                await asyncio.to_thread(
                    self._client.upload_fileobj,
                    spool,
                    self.bucket,
                    self.key_of(ref.sha256),
                    ExtraArgs={"ContentType": content_type},
                )
        return ref

    async def _present(self, sha256: str, size: int) -> bool:
        # As on local disk: an object of the right size is taken as present (reads verify
        # the digest); one of the wrong size is damaged and gets overwritten.
        try:
            return await self.size(sha256) == size
        except BlobNotFound:
            return False

    async def get(self, sha256: str) -> bytes:
        key = self.key_of(sha256)

        def fetch() -> bytes:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            with response["Body"] as body:
                return body.read()

        try:
            data = await asyncio.to_thread(fetch)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(f"no blob {sha256}") from None
            raise
        _check_digest(sha256, hashlib.sha256(data).hexdigest(), f"s3://{self.bucket}/{key}")
        return data

    async def open(self, sha256: str, *, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        key = self.key_of(sha256)
        try:
            response = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(f"no blob {sha256}") from None
            raise
        body = response["Body"]
        hasher = hashlib.sha256()
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                hasher.update(chunk)
                yield chunk
        finally:
            body.close()
        _check_digest(sha256, hasher.hexdigest(), f"s3://{self.bucket}/{key}")

    async def size(self, sha256: str) -> int:
        try:
            head = await asyncio.to_thread(
                self._client.head_object, Bucket=self.bucket, Key=self.key_of(sha256)
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(f"no blob {sha256}") from None
            raise
        return int(head["ContentLength"])

    async def exists(self, sha256: str) -> bool:
        try:
            await asyncio.to_thread(
                self._client.head_object, Bucket=self.bucket, Key=self.key_of(sha256)
            )
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    async def delete(self, sha256: str) -> bool:
        existed = await self.exists(sha256)
        if existed:
            await asyncio.to_thread(
                self._client.delete_object, Bucket=self.bucket, Key=self.key_of(sha256)
            )
        return existed

    async def url(
        self, sha256: str, *, expires_in_s: int = 3600, content_type: str | None = None
    ) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.key_of(sha256)}
        if content_type:
            params["ResponseContentType"] = content_type
        # Signing is local computation: no request is made here.
        return self._client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in_s
        )

    async def check(self) -> None:
        await asyncio.to_thread(self._client.head_bucket, Bucket=self.bucket)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"404", "NoSuchKey", "NotFound"}


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """The store the settings select: local disk (default) or S3 (``WAA_BLOB_BACKEND=s3``)."""
    if settings.blob_backend is BlobBackend.s3:
        if not settings.s3_bucket:
            raise ValueError("WAA_BLOB_BACKEND=s3 needs WAA_S3_BUCKET")
        return S3BlobStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return LocalBlobStore(settings.resolved_blob_dir)

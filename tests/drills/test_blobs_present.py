"""The drills' ``blobs_present`` invariant (``bench/drills/blobcheck.py``): a restored blob
store lacking a blob, or holding damaged bytes under its key, fails it, and the report names
the blob by its key and the rows that refer to it."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from waa_ads.core.storage import LocalBlobStore, blob_key

ROOT = Path(__file__).resolve().parents[2]


def _blobcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "drill_blobcheck", ROOT / "bench" / "drills" / "blobcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


blobcheck = _blobcheck()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


UPLOAD = b"x = 3, because 2x + 1 = 7\n"
PICTURE = b"\x89PNG\r\n\x1a\n not really a picture"
REPORT = b"%PDF-1.4 a scorecard"


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A blob directory written by the product's store, as a running system leaves it."""
    store = LocalBlobStore(tmp_path / "live")

    async def fill() -> None:
        for data in (UPLOAD, PICTURE, REPORT):
            await store.put(data)

    asyncio.run(fill())
    return tmp_path / "live"


def _rows() -> str:
    """What the references query returns for a database naming the three blobs (the
    upload twice: the response and its history)."""
    return "\n".join(
        [
            f"response|0192-attempt/UPLOAD1|{_sha(UPLOAD)}",
            f"response_event|17|{_sha(UPLOAD)}",
            f"response_event|17|{_sha(UPLOAD)}",
            f"media_asset|0192-media|{_sha(PICTURE)}",
            f"report_receipt.pdf|0192-receipt|{_sha(REPORT)}",
        ]
    )


def test_a_whole_copy_passes(live: Path, tmp_path: Path) -> None:
    restored = tmp_path / "restored"
    assert blobcheck.copy_blobs(live, restored) == 3
    refs = blobcheck.referenced(lambda sql: _rows())
    report = blobcheck.blobs_present(refs, restored)
    assert report["ok"], report
    assert (report["referenced"], report["checked"]) == (3, 3)
    assert report["missing"] == report["corrupted"] == []
    assert report["by_kind"] == {
        "media_asset": 1,
        "report_receipt.pdf": 1,
        "response": 1,
        "response_event": 1,
    }
    assert blobcheck.stored_blobs(restored) == 3


def test_a_blob_missing_from_the_restored_copy_is_reported_by_key(
    live: Path, tmp_path: Path
) -> None:
    restored = tmp_path / "restored"
    blobcheck.copy_blobs(live, restored)
    lost = _sha(UPLOAD)
    (restored / blob_key(lost)).unlink()

    report = blobcheck.blobs_present(blobcheck.parse_references(_rows()), restored)

    assert not report["ok"]
    assert report["checked"] == 3
    assert report["missing"] == [
        {
            "key": blob_key(lost),
            "referenced_by": ["response:0192-attempt/UPLOAD1", "response_event:17"],
        }
    ]
    assert report["corrupted"] == []


def test_damaged_bytes_under_a_key_are_reported_and_a_malformed_digest_too(
    live: Path, tmp_path: Path
) -> None:
    restored = tmp_path / "restored"
    blobcheck.copy_blobs(live, restored)
    damaged = _sha(REPORT)
    (restored / blob_key(damaged)).write_bytes(b"%PDF-1.4 a scorecaRD")
    rows = _rows() + "\nmedia_asset|0192-odd|../../etc/passwd"

    report = blobcheck.blobs_present(blobcheck.parse_references(rows), restored)

    assert not report["ok"]
    assert report["missing"] == []
    assert report["corrupted"] == [
        {"key": blob_key(damaged), "referenced_by": ["report_receipt.pdf:0192-receipt"]}
    ]
    assert report["malformed"] == [
        {"sha256": "../../etc/passwd", "referenced_by": ["media_asset:0192-odd"]}
    ]


def test_a_copy_taken_before_a_blob_was_written_lacks_it(live: Path, tmp_path: Path) -> None:
    """Why the blob store is copied after the dump started: a copy taken earlier misses
    blobs the dump refers to."""
    early = tmp_path / "early"
    shutil.copytree(live, early)
    later = b"uploaded after the early copy"
    asyncio.run(LocalBlobStore(live).put(later))
    rows = _rows() + f"\nresponse|0192-other/UPLOAD1|{_sha(later)}"
    refs = blobcheck.parse_references(rows)

    assert blobcheck.blobs_present(refs, early)["missing"][0]["key"] == blob_key(_sha(later))
    assert blobcheck.unreferenced_acks(refs, [_sha(later), _sha(b"never stored")]) == [
        _sha(b"never stored")
    ]

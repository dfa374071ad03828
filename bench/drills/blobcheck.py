"""Which blobs a database refers to, and whether a blob directory holds each of them intact.

Blobs are content-addressed (``src/waa_ads/core/storage.py``): a row keeps the SHA-256 of
the bytes and the store keeps them under ``ab/cd/<sha256>``. A restore is whole only when
every blob the restored database refers to is in the restored blob store and hashes to its
key. The rows that refer to blobs (every ``BlobStore.put`` in the product writes one of
them):

* ``media_asset.sha256`` (media uploaded by authors, PCI modules);
* the file descriptions (``{"sha256", "name", "content_type", "size"}``) inside
  ``response.value`` and ``response_event.value`` (candidates' uploads and drawings, the
  latest and every accepted or refused save: a superseded upload stays in the history);
* ``organization.logo_sha256``, ``report_receipt.pdf_sha256``,
  ``report_job.archive_sha256``, ``autoscore_model.upload_sha256`` and ``artifact_sha256``;
* ``integrity_frame.sha256`` until the still is purged (``purged_at``), and
  ``integrity_frame.thumbnail_sha256`` while it is set (the purge's own rule,
  ``integrity/frame_service.py``).

:func:`referenced` reads them with one query (PostgreSQL); :func:`blobs_present` reads each
through :class:`~waa_ads.core.storage.LocalBlobStore`, whose reads verify the digest, and
names each blob that is missing or damaged by its key and the rows that refer to it.

After restoring a database and a blob directory (docs/operations.md), from the checkout:

    .venv/bin/python bench/drills/blobcheck.py "postgresql://USER@NEW-HOST:5432/waa" "$WAA_BLOB_DIR"

prints the report as JSON and exits 1 when a blob is missing or damaged (local blob
directory only; for S3, sync the bucket into a directory first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from waa_ads.core.storage import BlobCorrupted, BlobNotFound, LocalBlobStore, blob_key

REFERENCES_SQL = """
SELECT 'media_asset', id::text, sha256 FROM media_asset
UNION ALL
SELECT 'response', attempt_id::text || '/' || item_ref, f #>> '{}'
  FROM response, jsonb_path_query(value::jsonb, 'strict $.**.sha256') AS f
 WHERE value IS NOT NULL
UNION ALL
SELECT 'response_event', id::text, f #>> '{}'
  FROM response_event, jsonb_path_query(value::jsonb, 'strict $.**.sha256') AS f
 WHERE value IS NOT NULL
UNION ALL
SELECT 'organization.logo', id::text, logo_sha256 FROM organization
 WHERE logo_sha256 IS NOT NULL
UNION ALL
SELECT 'report_receipt.pdf', id::text, pdf_sha256 FROM report_receipt
 WHERE pdf_sha256 IS NOT NULL
UNION ALL
SELECT 'report_job.archive', id::text, archive_sha256 FROM report_job
 WHERE archive_sha256 IS NOT NULL
UNION ALL
SELECT 'autoscore_model.upload', id::text, upload_sha256 FROM autoscore_model
 WHERE upload_sha256 IS NOT NULL
UNION ALL
SELECT 'autoscore_model.artifact', id::text, artifact_sha256 FROM autoscore_model
 WHERE artifact_sha256 IS NOT NULL
UNION ALL
SELECT 'integrity_frame', id::text, sha256 FROM integrity_frame WHERE purged_at IS NULL
UNION ALL
SELECT 'integrity_frame.thumbnail', id::text, thumbnail_sha256 FROM integrity_frame
 WHERE thumbnail_sha256 IS NOT NULL
"""


def parse_references(rows: str) -> dict[str, list[str]]:
    """``psql -At`` rows ``kind|id|sha256`` -> digest -> the rows (``kind:id``) naming it."""
    out: dict[str, list[str]] = {}
    for line in rows.splitlines():
        if not line.strip():
            continue
        kind, ident, sha = line.rsplit("|", 2)
        where = out.setdefault(sha, [])
        if f"{kind}:{ident}" not in where:  # the value and its normalized form both name it
            where.append(f"{kind}:{ident}")
    return out


def referenced(psql: Callable[[str], str]) -> dict[str, list[str]]:
    """The blobs a database refers to (``psql`` runs SQL on it and returns ``-At`` rows)."""
    return parse_references(psql(REFERENCES_SQL))


def _kind(where: str) -> str:
    return where.split(":", 1)[0]


def blobs_present(refs: dict[str, list[str]], root: Path) -> dict[str, Any]:
    """Read every referenced blob from the blob directory ``root`` (the digest verified on
    the way): ``ok`` when none is missing, damaged or named by a malformed digest; each
    failure is given with its key (``ab/cd/<sha256>``) and the rows that refer to it."""
    store = LocalBlobStore(root)
    missing: list[dict[str, Any]] = []
    corrupted: list[dict[str, Any]] = []
    malformed: list[dict[str, Any]] = []
    checked = 0
    size = 0

    async def check_all() -> None:
        nonlocal checked, size
        for sha in sorted(refs):
            entry = {"referenced_by": refs[sha][:3]}
            try:
                data = await store.get(sha)
            except ValueError:
                malformed.append({"sha256": sha, **entry})
                continue
            except BlobNotFound:
                missing.append({"key": blob_key(sha), **entry})
                continue
            except BlobCorrupted:
                corrupted.append({"key": blob_key(sha), **entry})
                continue
            finally:
                checked += 1
            size += len(data)

    asyncio.run(check_all())
    by_kind: dict[str, int] = {}
    for wheres in refs.values():
        for kind in {_kind(w) for w in wheres}:
            by_kind[kind] = by_kind.get(kind, 0) + 1
    return {
        "ok": not (missing or corrupted or malformed),
        "referenced": len(refs),
        "checked": checked,
        "bytes": size,
        "by_kind": dict(sorted(by_kind.items())),
        "missing": missing,
        "corrupted": corrupted,
        "malformed": malformed,
    }


def stored_blobs(root: Path) -> int:
    """How many blobs a blob directory holds (files under its ``ab/cd/`` shards)."""
    if not root.is_dir():
        return 0
    return sum(1 for p in root.glob("??/??/*") if p.is_file())


def copy_blobs(src: Path, dst: Path) -> int:
    """Copy a live blob directory the way ``rsync -a`` would (the puts' temporary files
    left out: a put renames its file into place when it is whole); the files copied."""
    copied = 0
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("??/??/*")) if src.is_dir() else []:
        target = dst / path.relative_to(src)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.write_bytes(path.read_bytes())
        except FileNotFoundError:  # deleted meanwhile (a purged still)
            continue
        copied += 1
    return copied


def unreferenced_acks(refs: dict[str, list[str]], acked: Iterable[str]) -> list[str]:
    """The acknowledged blob digests no row of the database refers to."""
    return sorted(set(acked) - set(refs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dsn", help="the restored database (postgresql://...)")
    parser.add_argument("blob_dir", type=Path, help="the restored blob directory")
    args = parser.parse_args()
    psql = shutil.which("psql") or "psql"

    def run(sql: str) -> str:
        done = subprocess.run(
            [psql, "-XAtq", "-v", "ON_ERROR_STOP=1", args.dsn, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return done.stdout

    report = blobs_present(referenced(run), args.blob_dir)
    report["in_store"] = stored_blobs(args.blob_dir)
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

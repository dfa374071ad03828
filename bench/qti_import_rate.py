"""How many items of real QTI collections the importer reads, and why it refuses the rest.

    PYTHONPATH=. .venv/bin/python bench/qti_import_rate.py DIR [DIR...]

Each DIR is searched for content packages (a folder holding an imsmanifest.xml, zipped
and read as the package) and for loose item files (an .xml whose root is an assessment item, outside
any package), which are read as ``waa-ads import`` reads them (``candidates_from_path``:
parsing, sanitizing, validation, the pictures beside a loose file); the database is not
involved, so media type checks made when storing are not counted. Prints, per DIR and in
total, items read and refused, and the refusals grouped by reason. Public sample
collections are not part of the repository: point the script at local copies. Each item
read is then written as QTI 3.0 and checked against the schema subset the tests use
(tests/support/qti3_schema.py; the official XSDs are not available offline).
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from collections import Counter
from pathlib import Path

from lxml import etree

from waa_ads.content.transfer import ImportCandidate, candidates_from_bytes, candidates_from_path

_ITEM_ROOTS = frozenset({"assessmentItem", "qti-assessment-item"})


def _is_item(path: Path) -> bool:
    try:
        for _, element in etree.iterparse(str(path), events=("start",), resolve_entities=False):
            return etree.QName(element).localname in _ITEM_ROOTS
    except (etree.XMLSyntaxError, OSError):
        return True  # an unreadable item file counts, as a refusal
    return False


def _reason(candidate: ImportCandidate) -> str:
    text = candidate.error or ""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"line \d+|\d+", "N", text)
    return text[:110]


def _zipped(folder: Path) -> bytes:
    """The folder as a zip, as it was published (the same bytes for any version of the
    importer, so versions compare)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for child in sorted(folder.rglob("*")):
            if child.is_file() and not child.is_symlink():
                archive.write(child, child.relative_to(folder).as_posix())
    return buffer.getvalue()


def _collect(root: Path) -> list[ImportCandidate]:
    found: list[ImportCandidate] = []
    packages = sorted({m.parent for m in root.rglob("imsmanifest.xml")}, key=lambda p: len(p.parts))
    outermost: list[Path] = []
    for folder in packages:
        if not any(o in folder.parents for o in outermost):
            outermost.append(folder)
    for folder in outermost:
        try:
            found += candidates_from_bytes(folder.name, _zipped(folder))
        except Exception as exc:  # a package refused whole counts as one refusal
            found.append(ImportCandidate(str(folder), error=f"package refused: {exc}"))
    for path in sorted(root.rglob("*.xml")):
        if any(o in path.parents for o in outermost) or not _is_item(path):
            continue
        try:
            found += candidates_from_path(path)
        except Exception as exc:
            found.append(ImportCandidate(str(path), error=f"refused: {exc}"))
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    total, total_ok, exported, invalid = 0, 0, 0, 0
    reasons: Counter[str] = Counter()
    invalid_reasons: Counter[str] = Counter()
    for name in argv[1:]:
        found = _collect(Path(name))
        ok = sum(c.item is not None for c in found)
        total += len(found)
        total_ok += ok
        reasons.update(_reason(c) for c in found if c.item is None)
        print(f"{name}: {ok} of {len(found)} items read, {len(found) - ok} refused")
        for candidate in found:
            if candidate.item is None:
                continue
            exported += 1
            problem = _schema_problem(candidate)
            if problem is not None:
                invalid += 1
                invalid_reasons[problem] += 1
    print(f"total: {total_ok} of {total} items read ({100 * total_ok / max(total, 1):.1f} %)")
    for reason, count in reasons.most_common():
        print(f"  {count:4d}  {reason}")
    print(
        f"QTI 3.0 exports of the items read: {exported - invalid} of {exported} fit the "
        "schema subset of tests/support/qti3_schema.py"
    )
    for reason, count in invalid_reasons.most_common():
        print(f"  {count:4d}  {reason}")
    return 0


def _schema_problem(candidate: ImportCandidate) -> str | None:
    """Why the item's QTI 3.0 export does not fit the schema subset the tests hold (the
    official XSDs are not available offline), or None."""
    from tests.support.qti3_schema import check_qti3

    from waa_ads.content.interchange.qti.writer import write_item

    assert candidate.item is not None
    try:
        check_qti3(write_item(candidate.item))
    except (AssertionError, etree.DocumentInvalid) as exc:
        text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", str(exc).splitlines()[0])
        return re.sub(r"line \d+|\d+", "N", text)[:110]
    except Exception as exc:
        return f"not written: {type(exc).__name__}: {str(exc)[:80]}"
    return None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

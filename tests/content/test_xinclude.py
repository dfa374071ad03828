"""XInclude in items: a passage or a part of the body kept in a file of its own and included,
put in place from the package (or the folder) when the item is read."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from tests.support.banks import admin_bank, import_upload
from tests.support.factories import Factory
from tests.support.media import png
from tests.support.packages import CP_QTI3_NS, QTI3_NS, item_resource, manifest, zip_bytes
from waa_ads.content import transfer
from waa_ads.content.item.definition import ItemDefinition
from waa_ads.scoring.engine import evaluate

XI = "http://www.w3.org/2001/XInclude"
PICTURE = png(4, 4)


def _item(identifier: str, include: str, *, template: str | None = None) -> bytes:
    processing = (
        '<qti-response-processing template=""/>'
        if template == ""
        else '<qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/'
        'rptemplates/match_correct.xml"/>'
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3_NS}" xmlns:xi="{XI}" identifier="{identifier}"
    title="{identifier}" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>N1</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <p>Select the first noun.</p>
    {include}
    <p>After the passage.</p>
  </qti-item-body>
  {processing}
</qti-assessment-item>""".encode()


FRAGMENT = f"""<?xml version="1.0" encoding="UTF-8"?>
<div xmlns="{QTI3_NS}">
  <p><img src="pictures/fox.png" alt="A fox"/></p>
  <qti-hottext-interaction response-identifier="RESPONSE" max-choices="1">
    <p>The <qti-hottext identifier="A1">quick</qti-hottext> brown
      <qti-hottext identifier="N1">fox</qti-hottext> jumped.</p>
  </qti-hottext-interaction>
</div>""".encode()


def _package(items: dict[str, bytes], files: dict[str, bytes]) -> bytes:
    resources = "\n".join(
        item_resource(href.rsplit("/", 1)[-1].removesuffix(".xml"), href) for href in items
    )
    return zip_bytes(
        [("imsmanifest.xml", manifest(resources, ns=CP_QTI3_NS)), *items.items(), *files.items()]
    )


def _only(found: list[transfer.ImportCandidate]) -> ItemDefinition:
    (candidate,) = found
    assert candidate.item is not None, candidate.error
    return candidate.item


def test_a_package_items_include_is_put_in_place_with_its_pictures_and_scores() -> None:
    data = _package(
        {"items/set01.xml": _item("SET01", '<xi:include href="../passages/fragment.xml"/>')},
        {"passages/fragment.xml": FRAGMENT, "passages/pictures/fox.png": PICTURE},
    )
    (candidate,) = transfer.candidates_from_bytes("set.zip", data)
    item = candidate.item
    assert item is not None, candidate.error
    assert [i.type.value for i in item.interactions] == ["hottext"]
    assert "included 'passages/fragment.xml' in the item body" in item.import_notes
    # The fragment's picture, written from passages/, is named from the item's folder.
    assert candidate.media == {"passages/pictures/fox.png": PICTURE}
    assert '<img src="../passages/pictures/fox.png"' in item.body
    body = item.body
    assert "After the passage." in body and body.index("fox") < body.index("After the passage")
    assert "include" not in body
    assert evaluate(item, {"RESPONSE": "N1"}).outcomes["SCORE"] == 1
    assert evaluate(item, {"RESPONSE": "A1"}).outcomes["SCORE"] == 0


@pytest.mark.parametrize(
    ("include", "reason"),
    [
        ('<xi:include href="../passages/gone.xml"/>', "'passages/gone.xml' in the package"),
        ('<xi:include href="../../outside.xml"/>', "points outside the package"),
        ('<xi:include href="https://example.org/p.xml"/>', "points outside the package"),
        (
            '<xi:include href="../passages/fragment.xml" xpointer="element(/1)"/>',
            "xpointer",
        ),
        ('<xi:include href="set01.xml"/>', "includes itself"),
        ('<xi:include href="../passages/fragment.xml" parse="html"/>', "parse must be"),
    ],
)
def test_an_include_that_cannot_be_resolved_refuses_the_item_with_the_reason(
    include: str, reason: str
) -> None:
    data = _package(
        {"items/set01.xml": _item("SET01", include)},
        {"passages/fragment.xml": FRAGMENT, "passages/pictures/fox.png": PICTURE},
    )
    (candidate,) = transfer.candidates_from_bytes("set.zip", data)
    assert candidate.item is None
    assert candidate.error is not None and reason in candidate.error, candidate.error


def test_a_missing_file_with_a_fallback_takes_the_fallback_and_says_so() -> None:
    include = (
        '<xi:include href="../passages/gone.xml"><xi:fallback>'
        '<qti-hottext-interaction response-identifier="RESPONSE" max-choices="1"><p>'
        '<qti-hottext identifier="N1">fox</qti-hottext></p></qti-hottext-interaction>'
        "</xi:fallback></xi:include>"
    )
    data = _package({"items/set01.xml": _item("SET01", include)}, {})
    item = _only(transfer.candidates_from_bytes("set.zip", data))
    assert [i.type.value for i in item.interactions] == ["hottext"]
    assert any("its fallback is used" in note for note in item.import_notes)


def test_a_text_include_puts_the_text_in_place() -> None:
    data = _package(
        {
            "items/set01.xml": _item(
                "SET01",
                '<p>Quote: <xi:include href="quote.txt" parse="text"/> (end)</p>'
                '<xi:include href="../passages/fragment.xml"/>',
            )
        },
        {
            "items/quote.txt": b"To be & not <b>",
            "passages/fragment.xml": FRAGMENT,
            "passages/pictures/fox.png": PICTURE,
        },
    )
    item = _only(transfer.candidates_from_bytes("set.zip", data))
    assert "Quote: To be &amp; not &lt;b&gt; (end)" in item.body


def test_an_item_file_in_a_folder_includes_its_fragment_which_is_not_read_as_an_item(
    tmp_path: Path,
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "pictures").mkdir()
    (tmp_path / "tests" / "fragment.xml").write_bytes(FRAGMENT)
    (tmp_path / "tests" / "pictures" / "fox.png").write_bytes(PICTURE)
    for name in ("set01", "set02"):
        (tmp_path / "tests" / f"{name}.xml").write_bytes(
            _item(name.upper(), '<xi:include href="fragment.xml" parse="xml"/>', template="")
        )
    found = transfer.candidates_from_path(tmp_path)
    assert [c.source for c in found] == ["tests/set01.xml", "tests/set02.xml"]
    for candidate in found:
        assert candidate.item is not None, candidate.error
        assert [i.type.value for i in candidate.item.interactions] == ["hottext"]
        # template="" names no template: the item has no response processing.
        assert candidate.item.response_processing is None or (
            candidate.item.response_processing.template is None
            and not candidate.item.response_processing.rules
        )
        assert candidate.media == {"pictures/fox.png": PICTURE}
    # A single file brings its fragment from beside it too; one outside its folder is not read.
    assert _only(transfer.candidates_from_path(tmp_path / "tests" / "set01.xml"))
    (tmp_path / "outside.xml").write_bytes(FRAGMENT)
    (tmp_path / "tests" / "set03.xml").write_bytes(
        _item("SET03", '<xi:include href="../outside.xml"/>')
    )
    (refused,) = transfer.candidates_from_path(tmp_path / "tests" / "set03.xml")
    assert refused.item is None and "outside the package" in (refused.error or "")


@pytest.mark.asyncio
async def test_an_included_package_imports_through_the_api_and_reports_the_include(
    client: httpx.AsyncClient, make: Factory
) -> None:
    headers, bank_id = await admin_bank(client, make, "includes")
    data = _package(
        {"items/set01.xml": _item("SET01", '<xi:include href="../passages/fragment.xml"/>')},
        {"passages/fragment.xml": FRAGMENT, "passages/pictures/fox.png": PICTURE},
    )
    response = await import_upload(client, headers, bank_id, "set.zip", data)
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["imported"] == 1
    assert any("included 'passages/fragment.xml'" in w for w in report["warnings"])
    media = (await client.get("/api/v1/media", headers=headers)).json()
    assert len(media) == 1


def test_includes_are_bounded_in_number_and_size() -> None:
    many = "".join('<xi:include href="../passages/note.xml"/>' for _ in range(65))
    data = _package(
        {"items/set01.xml": _item("SET01", many + '<xi:include href="../passages/f.xml"/>')},
        {"passages/note.xml": b"<p>note</p>", "passages/f.xml": FRAGMENT},
    )
    (candidate,) = transfer.candidates_from_bytes("set.zip", data)
    assert candidate.item is None and "more than 64 xi:includes" in (candidate.error or "")

    big = b"<p>" + secrets.token_hex(3_000_000).encode() + b"</p>"  # 6 MB, incompressible
    three = "".join(f'<xi:include href="../passages/big{n}.xml"/>' for n in range(3))
    data = _package(
        {"items/set01.xml": _item("SET01", three + '<xi:include href="../passages/f.xml"/>')},
        {
            **{f"passages/big{n}.xml": big for n in range(3)},
            "passages/f.xml": FRAGMENT,
            "passages/pictures/fox.png": PICTURE,
        },
    )
    (candidate,) = transfer.candidates_from_bytes("set.zip", data)
    assert candidate.item is None and "the most an item may have" in (candidate.error or "")


def test_a_fallback_is_resolved_only_when_used() -> None:
    # The file exists: a missing include inside its (unused) fallback does not matter.
    unused = (
        '<xi:include href="../passages/fragment.xml"><xi:fallback>'
        '<xi:include href="../passages/gone.xml"/></xi:fallback></xi:include>'
    )
    data = _package(
        {"items/set01.xml": _item("SET01", unused)},
        {"passages/fragment.xml": FRAGMENT, "passages/pictures/fox.png": PICTURE},
    )
    assert [i.type.value for i in _only(transfer.candidates_from_bytes("s.zip", data)).interactions]
    # The file is missing: the fallback's own include is put in place.
    used = (
        '<xi:include href="../passages/gone.xml"><xi:fallback>'
        '<xi:include href="../passages/fragment.xml"/></xi:fallback></xi:include>'
    )
    data = _package(
        {"items/set01.xml": _item("SET01", used)},
        {"passages/fragment.xml": FRAGMENT, "passages/pictures/fox.png": PICTURE},
    )
    item = _only(transfer.candidates_from_bytes("s.zip", data))
    assert [i.type.value for i in item.interactions] == ["hottext"]
    assert "include" not in item.body


def test_hidden_and_other_files_of_a_folder_are_never_included(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DB_PASSWORD=hunter2\n")
    (tmp_path / "secret.key").write_text("KEY\n")
    for name, href in (("a", ".env"), ("b", "secret.key")):
        (tmp_path / f"{name}.xml").write_bytes(
            _item(name.upper(), f'<p><xi:include href="{href}" parse="text"/></p>')
        )
        (candidate,) = transfer.candidates_from_path(tmp_path / f"{name}.xml")
        assert candidate.item is None and "not in the package" in (candidate.error or "")


def test_a_single_item_file_that_includes_others_is_refused_with_what_to_do_instead() -> None:
    data = _item("SET01", '<xi:include href="fragment.xml"/>')
    (candidate,) = transfer.candidates_from_bytes("set01.xml", data)
    assert candidate.item is None
    assert "import the package, or the folder" in (candidate.error or "")

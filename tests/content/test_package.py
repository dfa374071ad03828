"""QTI content packages: reading safely (hostile zips), and building QTI 3.0 packages."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from tests.support import media as samples
from tests.support.packages import (
    CP_NS,
    CP_QTI3_NS,
    QTI21_NS,
    QTI22_NS,
    item_resource,
    manifest,
    qti2_item,
    qti3_item,
    symlink_entry,
    with_encryption_flag,
    with_lying_size,
    zip_bytes,
)
from waa_ads.content.interchange.qti.package import (
    CP_QTI3_SCHEMA_LOCATION,
    MiB,
    PackageBuildError,
    PackageError,
    PackageLimits,
    UnsafePackage,
    build_package,
    iter_ok_items,
    read_package,
)
from waa_ads.core.errors import Unprocessable

PNG = samples.png()


def _package(resources: str, files: dict[str, bytes], **kwargs: object) -> bytes:
    entries = [("imsmanifest.xml", manifest(resources, **kwargs))]  # type: ignore[arg-type]
    entries.extend(files.items())
    return zip_bytes(entries)


# --- well-formed packages ---------------------------------------------------------------------


def test_qti3_package_with_media_dependencies() -> None:
    item1 = qti3_item("item-1", '<p><img src="../media/figure-1.png" alt="Figure 1"/></p>')
    item2 = qti3_item("item-2")
    resources = "\n".join(
        [
            item_resource("item-1", "items/item-1.xml", dependencies=["fig1"]),
            item_resource("item-2", "items/item-2.xml", files=["media/extra.gif"]),
            '<resource identifier="fig1" type="webcontent" href="media/figure-1.png">'
            '<file href="media/figure-1.png"/></resource>',
            '<resource identifier="test" type="imsqti_test_xmlv3p0" href="test.xml">'
            '<file href="test.xml"/></resource>',
        ]
    )
    data = _package(
        resources,
        {
            "items/item-1.xml": item1,
            "items/item-2.xml": item2,
            "media/figure-1.png": PNG,
            "media/extra.gif": samples.gif(),
            "test.xml": b"<x/>",
        },
    )
    package = read_package(data)
    assert package.identifier == "MANIFEST-TEST"
    assert package.manifest_namespace == CP_QTI3_NS
    assert [i.identifier for i in package.items] == ["item-1", "item-2"]
    first, second = package.items
    assert first.ok and second.ok
    assert first.qti_version == "3.0"
    assert first.href == "items/item-1.xml"
    assert first.xml == item1
    assert first.files == ("items/item-1.xml", "media/figure-1.png")
    assert first.media_by_path == {"media/figure-1.png": PNG}
    assert first.media[0].check.content_type == "image/png"
    assert second.media_by_path == {"media/extra.gif": samples.gif()}
    assert package.other_resources == (("fig1", "webcontent"), ("test", "imsqti_test_xmlv3p0"))
    assert package.warnings == ()


@pytest.mark.parametrize(("ns", "rtype"), [(QTI21_NS, "imsqti_item_xmlv2p1"),
                                           (QTI22_NS, "imsqti_item_xmlv2p2")])  # fmt: skip
def test_qti2_package(ns: str, rtype: str) -> None:
    body = '<p><object type="image/png" data="images/map%20small.png">map</object></p>'
    xml = qti2_item("Q1", body, ns=ns)
    data = _package(
        item_resource("Q1", "Q1.xml", rtype=rtype),
        {"Q1.xml": xml, "images/map small.png": PNG},
        ns=CP_NS,
    )
    package = read_package(data)
    (item,) = package.items
    assert item.ok, item.error
    assert item.qti_version == rtype[-3] + "." + rtype[-1]
    # Not listed in the manifest, but the item refers to it and it is in the package.
    assert item.media_by_path == {"images/map small.png": PNG}


def test_item_referring_to_missing_or_external_media() -> None:
    xml = qti3_item(
        "i", '<img src="gone.png" alt=""/><img src="https://cdn.example.org/x.png" alt=""/>'
    )
    package = read_package(_package(item_resource("i", "i.xml"), {"i.xml": xml}))
    (item,) = package.items
    assert not item.ok
    assert (
        item.error
        == "item 'i' refers to 'gone.png' ('gone.png' in the package), which is not in the package"
    )
    external = qti3_item("e", '<img src="https://cdn.example.org/x.png" alt=""/>')
    (fine,) = read_package(_package(item_resource("e", "e.xml"), {"e.xml": external})).items
    assert fine.ok and fine.media == () and fine.warnings == ()


def test_version_mismatches() -> None:
    data = _package(
        "\n".join(
            [
                item_resource("a", "a.xml", rtype="imsqti_item_xmlv2p1"),
                item_resource("b", "b.xml", rtype="imsqti_item_xmlv3p0"),
            ]
        ),
        {"a.xml": qti2_item("a", ns=QTI22_NS), "b.xml": qti2_item("b")},
    )
    a, b = read_package(data).items
    assert a.ok and a.qti_version == "2.2"
    assert "declares QTI 2.1 but 'a.xml' is QTI 2.2" in a.warnings[0]
    assert b.error == "the manifest declares a QTI 3.0 item but 'b.xml' is QTI 2.1"


def test_per_resource_errors_leave_other_items_readable() -> None:
    bad_svg = samples.svg("<script>alert(1)</script>")
    xxe_item = (
        b'<?xml version="1.0"?><!DOCTYPE qti-assessment-item [<!ENTITY x SYSTEM '
        b'"file:///etc/passwd">]>' + qti3_item("x").split(b"?>", 1)[1].replace(b"Mars", b"&x;")
    )
    resources = "\n".join(
        [
            item_resource("good", "good.xml"),
            item_resource("missing", "missing.xml"),
            item_resource("outside", "../outside.xml"),
            item_resource("broken", "broken.xml"),
            item_resource("xxe", "xxe.xml"),
            item_resource("not-qti", "html.xml"),
            item_resource("mislabelled", "m.xml", files=["photo.jpg"]),
            item_resource("scripted", "s.xml", files=["figure.svg"]),
            item_resource("lost-media", "l.xml", files=["nowhere.png"]),
            item_resource("bad-dep", "d.xml", dependencies=["nothing"]),
        ]
    )
    package = read_package(
        _package(
            resources,
            {
                "good.xml": qti3_item("good"),
                "broken.xml": b"<qti-assessment-item>",
                "xxe.xml": xxe_item,
                "html.xml": b"<html/>",
                "m.xml": qti3_item("m"),
                "photo.jpg": PNG,
                "s.xml": qti3_item("s"),
                "figure.svg": bad_svg,
                "l.xml": qti3_item("l"),
                "d.xml": qti3_item("d"),
            },
        )
    )
    errors = {item.identifier: item.error for item in package.items}
    assert errors["good"] is None
    assert errors["missing"] == "item file 'missing.xml' is not in the package"
    assert errors["outside"] == "href '../outside.xml' points outside the package"
    assert errors["broken"] is not None and "not well-formed XML" in errors["broken"]
    assert errors["xxe"] is not None and "has a DOCTYPE" in errors["xxe"]
    assert errors["not-qti"] is not None and "is not a QTI item" in errors["not-qti"]
    assert errors["mislabelled"] == (
        "media file 'photo.jpg' has the extension 'jpg' but its content is image/png"
    )
    assert errors["scripted"] is not None
    assert "SVG file 'figure.svg' refused: it contains a <script> element" in errors["scripted"]
    assert errors["lost-media"] == (
        "media file 'nowhere.png' is listed in the manifest but not in the package"
    )
    assert errors["bad-dep"] is None
    bad_dep = next(i for i in package.items if i.identifier == "bad-dep")
    assert bad_dep.warnings == ("dependency 'nothing' is not declared in the manifest",)
    assert [i.identifier for i in iter_ok_items(package)] == ["good", "bad-dep"]
    for item in package.items:
        if not item.ok:
            assert item.xml is None and item.media == ()


# --- package-level refusals ---------------------------------------------------------------------


def test_not_a_zip() -> None:
    with pytest.raises(PackageError, match="not a readable zip file") as info:
        read_package(b"this is not a zip")
    assert isinstance(info.value, Unprocessable)


def test_missing_or_foreign_manifest() -> None:
    with pytest.raises(PackageError, match=r"no imsmanifest\.xml at its root"):
        read_package(zip_bytes([("content/imsmanifest.xml", manifest(""))]))
    with pytest.raises(PackageError, match="not an IMS content-packaging manifest"):
        read_package(zip_bytes([("imsmanifest.xml", b"<manifest/>")]))
    with pytest.raises(PackageError, match="not well-formed"):
        read_package(zip_bytes([("imsmanifest.xml", b"<manifest")]))


def test_manifest_with_external_entity_is_refused() -> None:
    xxe = manifest(
        "<resource identifier='a' type='webcontent' href='&xxe;'/>",
        prolog='<!DOCTYPE manifest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    with pytest.raises(UnsafePackage, match="DOCTYPE; DTDs and entity declarations are refused"):
        read_package(zip_bytes([("imsmanifest.xml", xxe)]))


def test_manifest_with_entity_expansion_is_refused() -> None:
    laughs = "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' if i else '<!ENTITY l0 "lol">' for i in range(10)
    )
    bomb = manifest("", prolog=f"<!DOCTYPE manifest [{laughs}]>").replace(b"MANIFEST-TEST", b"&l9;")
    with pytest.raises(UnsafePackage, match="DOCTYPE"):
        read_package(zip_bytes([("imsmanifest.xml", bomb)]))


def test_manifest_with_external_dtd_is_refused() -> None:
    dtd = manifest("", prolog='<!DOCTYPE manifest SYSTEM "http://attacker.example/x.dtd">')
    with pytest.raises(UnsafePackage, match="DOCTYPE"):
        read_package(zip_bytes([("imsmanifest.xml", dtd)]))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "parent directory reference"),
        ("items/../../evil.txt", "parent directory reference"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil.dll", "drive letter"),
        ("c:evil.txt", "drive letter"),
        ("items\\..\\evil.txt", "backslash in name"),
        ("items\\evil.txt", "backslash in name"),
        ("items//evil.txt", "empty or '.' path segment"),
        ("./evil.txt", "empty or '.' path segment"),
        ("evil\x01.txt", "control character in name"),
        ("a" * 2000, "name too long"),
    ],
)
def test_unsafe_entry_names_refuse_the_package(name: str, reason: str) -> None:
    data = zip_bytes([("imsmanifest.xml", manifest("")), (name, b"x")])
    with pytest.raises(UnsafePackage, match="unsafe entries") as info:
        read_package(data)
    assert reason in info.value.detail


def test_symlink_entries_are_refused() -> None:
    data = zip_bytes([("imsmanifest.xml", manifest("")), symlink_entry("item.xml", "/etc/passwd")])
    with pytest.raises(UnsafePackage, match=r"'item\.xml': symbolic link"):
        read_package(data)


def test_duplicate_names_are_refused() -> None:
    data = zip_bytes(
        [("imsmanifest.xml", manifest("")), ("a.xml", b"<one/>"), ("a.xml", b"<two/>")]
    )
    with pytest.raises(UnsafePackage, match=r"'a\.xml': duplicate name"):
        read_package(data)
    data = zip_bytes([("imsmanifest.xml", manifest("")), ("Item.xml", b"1"), ("item.xml", b"2")])
    with pytest.raises(UnsafePackage, match=r"same name as 'Item\.xml' but for case"):
        read_package(data)


def test_encrypted_entries_are_refused() -> None:
    plain = zip_bytes([("imsmanifest.xml", manifest("")), ("a.xml", b"secret")])
    data = with_encryption_flag(plain, "a.xml")
    with pytest.raises(UnsafePackage, match=r"'a\.xml': encrypted entry"):
        read_package(data)


def test_compression_ratio_bomb_is_refused() -> None:
    bomb = b"\0" * (4 * MiB)
    data = zip_bytes([("imsmanifest.xml", manifest("")), ("media/huge.png", bomb)])
    assert len(data) < 50_000
    with pytest.raises(UnsafePackage, match=r"compression ratio [\d,]+:1 exceeds 100:1"):
        read_package(data)


def test_small_highly_compressible_files_are_not_bombs() -> None:
    # 200 KiB of repeated XML compresses far beyond 100:1 but stays under the floor.
    repetitive = qti3_item("r", "<p>a</p>" * 25_000)
    data = _package(item_resource("r", "r.xml"), {"r.xml": repetitive})
    (item,) = read_package(data).items
    assert item.ok


def test_per_entry_and_total_size_limits() -> None:
    limits = PackageLimits(max_entry_bytes=1000, max_total_bytes=5000)
    big = zip_bytes([("imsmanifest.xml", manifest("")), ("big.bin", b"x" * 1001)])
    with pytest.raises(
        UnsafePackage, match="inflates to 1,001 bytes; the limit per entry is 1,000"
    ):
        read_package(big, limits=limits)
    many = zip_bytes(
        [("imsmanifest.xml", manifest(""))] + [(f"f{i}.bin", b"y" * 900) for i in range(6)]
    )
    with pytest.raises(
        UnsafePackage, match=r"package inflates to [\d,]+ bytes; the limit is 5,000"
    ):
        read_package(many, limits=limits)


def test_entry_count_and_package_size_limits() -> None:
    many = zip_bytes([("imsmanifest.xml", manifest(""))] + [(f"{i}.txt", b"") for i in range(20)])
    with pytest.raises(UnsafePackage, match="package has 21 entries; the limit is 10"):
        read_package(many, limits=PackageLimits(max_entries=10))
    with pytest.raises(PackageError, match="the limit is 100"):
        read_package(many, limits=PackageLimits(max_package_bytes=100))


def test_entry_larger_than_its_header_says_is_caught() -> None:
    payload = b"\0" * (3 * MiB)
    honest = _package(
        item_resource("i", "i.xml", files=["fig.png"]),
        {"i.xml": qti3_item("i"), "fig.png": PNG + payload},
    )
    # The header now says 4 KiB: the ratio check passes, the bytes do not.
    lying = with_lying_size(honest, "fig.png", 4096)
    (item,) = read_package(lying).items
    assert item.error is not None
    assert "'fig.png'" in item.error
    assert "cannot be read" in item.error or "more than its header declares" in item.error


def test_manifest_over_its_limit() -> None:
    data = zip_bytes([("imsmanifest.xml", manifest("<!--" + "x" * 5000 + "-->"))])
    with pytest.raises(PackageError, match="manifest cannot be read"):
        read_package(data, limits=PackageLimits(max_manifest_bytes=1000))


def test_item_over_its_limit_is_a_resource_error() -> None:
    data = _package(item_resource("i", "i.xml"), {"i.xml": qti3_item("i", "<p>x</p>" * 500)})
    (item,) = read_package(data, limits=PackageLimits(max_item_bytes=1000)).items
    assert item.error is not None and "the limit is 1,000" in item.error


# --- building -----------------------------------------------------------------------------------


def test_build_package_round_trip() -> None:
    item1 = qti3_item("item-1", '<p><img src="../media/fig.png" alt="A figure"/></p>')
    item2 = qti3_item("item-2", '<audio src="../media/clip.mp3" controls="controls"/>')
    media = {
        "media/fig.png": PNG,
        "media/clip.mp3": samples.mp3_with_id3(),
        "media/unused.gif": samples.gif(),
    }
    data = build_package([("item-1", item1), ("item-2", item2)], media)
    package = read_package(data)
    assert package.manifest_namespace == CP_QTI3_NS
    assert package.warnings == ()
    by_id = {i.identifier: i for i in package.items}
    assert by_id["item-1"].xml == item1
    assert by_id["item-1"].media_by_path == {"media/fig.png": PNG}
    assert by_id["item-2"].media_by_path == {"media/clip.mp3": samples.mp3_with_id3()}
    assert {t for _, t in package.other_resources} == {"webcontent"}
    assert len(package.other_resources) == 3


def test_built_manifest_uses_the_qti3_packaging_namespaces() -> None:
    data = build_package([("q1", qti3_item("q1", '<img src="../m/a.png" alt=""/>'))],
                         {"m/a.png": PNG})  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        root = etree.fromstring(archive.read("imsmanifest.xml"))
        infos = {i.filename: i for i in archive.infolist()}
    assert names == ["imsmanifest.xml", "items/q1.xml", "m/a.png"]
    assert root.tag == f"{{{CP_QTI3_NS}}}manifest"
    location = root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    assert location == f"{CP_QTI3_NS} {CP_QTI3_SCHEMA_LOCATION}"
    ns = {"cp": CP_QTI3_NS}
    assert root.findtext("cp:metadata/cp:schema", namespaces=ns) == "QTI Package"
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=ns) == "3.0.0"
    item = root.find("cp:resources/cp:resource[@type='imsqti_item_xmlv3p0']", ns)
    assert item is not None
    assert (item.get("identifier"), item.get("href")) == ("q1", "items/q1.xml")
    media = root.find("cp:resources/cp:resource[@type='webcontent']", ns)
    assert media is not None and media.get("href") == "m/a.png"
    dependency = item.find("cp:dependency", ns)
    assert dependency is not None and dependency.get("identifierref") == media.get("identifier")
    assert infos["m/a.png"].compress_type == zipfile.ZIP_STORED
    assert infos["items/q1.xml"].compress_type == zipfile.ZIP_DEFLATED
    assert infos["items/q1.xml"].date_time == (1980, 1, 1, 0, 0, 0)


def test_items_are_placed_where_their_references_resolve() -> None:
    from_root = qti3_item("root-item", '<img src="media/fig.png" alt=""/>')
    from_folder = qti3_item("folder-item", '<img src="../media/fig.png" alt=""/>')
    no_media = qti3_item("plain")
    data = build_package(
        [("root-item", from_root), ("folder-item", from_folder), ("plain", no_media)],
        {"media/fig.png": PNG},
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
    assert {"root-item.xml", "items/folder-item.xml", "items/plain.xml"} <= names
    package = read_package(data)
    by_id = {i.identifier: i for i in package.items}
    assert by_id["root-item"].href == "root-item.xml"
    assert by_id["root-item"].xml == from_root
    assert by_id["root-item"].media_by_path == {"media/fig.png": PNG}
    assert by_id["folder-item"].media_by_path == {"media/fig.png": PNG}
    assert by_id["plain"].media == ()
    assert all(i.warnings == () for i in package.items)


def test_build_package_is_deterministic() -> None:
    args = ([("a", qti3_item("a")), ("b", qti3_item("b"))], {"x/p.png": PNG})
    assert build_package(*args) == build_package(*args)
    assert build_package(*args, identifier="BANK-1") != build_package(*args)


@pytest.mark.parametrize(
    ("items", "media", "message"),
    [
        ([("not an id", qti3_item("x"))], {}, "is not a valid XML name"),
        ([("a", qti3_item("a")), ("a", qti3_item("a"))], {}, "'a' is used twice"),
        ([("a", qti2_item("a"))], {}, "is not a QTI 3.0 qti-assessment-item"),
        ([("a", b"<broken")], {}, "not well-formed"),
        ([("a", b'<!DOCTYPE x [<!ENTITY e "e">]><x/>')], {}, "DOCTYPE"),
        ([], {"../escape.png": PNG}, "parent directory reference"),
        ([], {"/abs.png": PNG}, "absolute path"),
        ([], {"imsmanifest.xml": PNG}, "not a file name"),
        ([], {"items/a.xml": PNG}, "collides with the item files"),
        ([], {"fig.jpg": PNG}, "extension 'jpg' but its content is image/png"),
        ([], {"fig.svg": samples.svg("<script/>")}, "contains a <script> element"),
    ],
)
def test_build_package_refuses_bad_input(
    items: list[tuple[str, bytes]], media: dict[str, bytes], message: str
) -> None:
    with pytest.raises(PackageBuildError, match="cannot build the package") as info:
        build_package(items, media)
    assert message in info.value.detail

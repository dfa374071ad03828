"""QTI assessment tests (``qti-assessment-test`` 3.0, ``assessmentTest`` 2.1/2.2) read into
what an assessment is, and an assessment written as one. Pure: XML in, data out.

Reading keeps what the assessment model can say and names every difference in ``notes``
(nothing is dropped silently):

- test parts and nested sections become the assessment's flat list of sections, in order
  (a section's own items first, then its sub-sections');
- ``navigationMode`` linear / nonlinear becomes linear (no review) / free navigation;
- ``itemSessionControl showFeedback`` of a test part: feedback after each item with linear
  navigation, after the test with free navigation (else none, the default);
- ``timeLimits maxTime`` of the test (or of its only test part) and of each section;
- ``selection select=N`` becomes "draw N of this section's items" (the importer tags the
  section's items and draws by that tag); ``ordering shuffle`` shuffles the section;
- each item reference's weight (the one the outcome processing uses, else the only one);
- outcome processing: the assessment scores the weighted sum of its items, which is what
  the standard test templates compute; anything else is noted.

Writing gives a QTI 3.0 test with one test part, a section per assessment section, the
items' weights, selection and ordering, time limits and the weighted-sum outcome
processing (``show-feedback`` true when the assessment shows feedback), which reads back to
the same assessment.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from lxml import etree

from waa_ads.content.interchange.qti.common import (
    QTI3_NS,
    QTI20_NS,
    QTI21_NS,
    QTI22_NS,
    parse_document,
)
from waa_ads.content.item.definition import ItemFormatError

#: Test root element (namespace, local name) for each QTI version.
TEST_ROOTS: Mapping[tuple[str, str], str] = {
    (QTI3_NS, "qti-assessment-test"): "3.0",
    (QTI22_NS, "assessmentTest"): "2.2",
    (QTI21_NS, "assessmentTest"): "2.1",
    (QTI20_NS, "assessmentTest"): "2.0",
}
MAX_SECTIONS = 100
MIN_TIME_LIMIT_S = 10


class TestFormatError(ValueError):
    """The XML is not an assessment test this reader can use; the message says why."""


@dataclass
class ItemRefSpec:
    """One ``assessmentItemRef``: its identifier in the test, the package path of the item
    file (resolved from the test's own location) and its weight."""

    identifier: str
    href: str
    weight: float = 1.0


@dataclass
class SectionSpec:
    identifier: str
    title: str
    items: list[ItemRefSpec] = field(default_factory=list)
    select: int | None = None
    shuffle: bool = False
    time_limit_s: int | None = None


@dataclass
class TestSpec:
    identifier: str
    title: str
    version: str
    linear: bool = False
    show_feedback: bool = False
    time_limit_s: int | None = None
    sections: list[SectionSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _kebab(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in name)


class _Names:
    """Element and attribute names of one QTI version (3.0 kebab-case with ``qti-``)."""

    def __init__(self, namespace: str, version: str) -> None:
        self.ns = namespace
        self.v3 = version == "3.0"

    def el(self, camel: str) -> str:
        return f"{{{self.ns}}}" + (f"qti-{_kebab(camel)}" if self.v3 else camel)

    def at(self, camel: str) -> str:
        return _kebab(camel) if self.v3 else camel

    def get(self, element: etree._Element, camel: str) -> str | None:
        value = element.get(self.at(camel))
        return value.strip() if value is not None else None


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1")


def _seconds(value: str | None, where: str, notes: list[str]) -> int | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        notes.append(f"{where}: maxTime {value!r} is not a number of seconds; no time limit kept")
        return None
    if seconds <= 0:
        return None
    if seconds < MIN_TIME_LIMIT_S:
        notes.append(
            f"{where}: maxTime {seconds:g} s raised to {MIN_TIME_LIMIT_S} s, the shortest limit"
        )
        return MIN_TIME_LIMIT_S
    return round(seconds)


def _time_limit(names: _Names, parent: etree._Element, where: str, notes: list[str]) -> int | None:
    limits = parent.find(names.el("timeLimits"))
    if limits is None:
        return None
    if names.get(limits, "minTime"):
        notes.append(f"{where}: minTime is not kept (candidates may always move on)")
    return _seconds(names.get(limits, "maxTime"), where, notes)


def _weight_used(outcome_processing: etree._Element | None, names: _Names) -> str | None:
    """The weight identifier the outcome processing reads (``testVariables
    weightIdentifier``), when it names one."""
    if outcome_processing is None:
        return None
    for element in outcome_processing.iter(names.el("testVariables")):
        weight = names.get(element, "weightIdentifier")
        if weight:
            return weight
    return None


_STANDARD_OUTCOME_ELEMENTS = frozenset(
    {"outcomeProcessing", "setOutcomeValue", "sum", "testVariables", "outcomeCondition"}
)


def parse_test(
    xml: bytes,
    *,
    href: str = "test.xml",
    files: Mapping[str, bytes] | None = None,
    parse: Callable[[bytes, str], etree._Element] | None = None,
) -> TestSpec:
    """Read an assessment test. ``href`` is the test file's path in its package (item and
    section references are resolved from its folder); ``files`` the package's other XML
    files, for ``assessmentSectionRef``; ``parse`` the safe XML parser to use (the
    package's, which refuses DOCTYPEs). Raises :class:`TestFormatError`."""
    read = parse or _parse
    root = read(xml, href)
    qname = etree.QName(root)
    version = TEST_ROOTS.get((qname.namespace or "", qname.localname))
    if version is None:
        raise TestFormatError(f"{href}: the root element {root.tag!r} is not a QTI assessment test")
    names = _Names(qname.namespace or "", version)
    notes: list[str] = []
    spec = TestSpec(
        identifier=names.get(root, "identifier") or posixpath.splitext(posixpath.basename(href))[0],
        title=(names.get(root, "title") or "").strip() or "Imported test",
        version=version,
        notes=notes,
    )
    weight_id = _weight_used(root.find(names.el("outcomeProcessing")), names)
    _note_outcome_processing(root, names, notes)
    spec.time_limit_s = _time_limit(names, root, "the test", notes)
    parts = root.findall(names.el("testPart"))
    if not parts:
        raise TestFormatError(f"{href}: the test has no test part")
    modes = {(names.get(p, "navigationMode") or "linear") for p in parts}
    spec.linear = modes == {"linear"}
    if len(modes) > 1:
        notes.append("test parts mix linear and nonlinear navigation; the test is free")
    if len(parts) > 1:
        notes.append(f"{len(parts)} test parts are delivered as one, their sections in order")
    for part in parts:
        where = f"test part {names.get(part, 'identifier')!r}"
        part_limit = _time_limit(names, part, where, notes)
        if part_limit is not None:
            if len(parts) == 1 and spec.time_limit_s is None:
                spec.time_limit_s = part_limit
            else:
                notes.append(f"{where}: its time limit is not kept (the test's applies)")
        if (names.get(part, "submissionMode") or "individual") == "individual":
            notes.append(
                f"{where}: submissionMode individual is delivered as simultaneous "
                "(answers are saved as given and scored at the end)"
            )
        _note_session_control(names, part, where, notes)
        control = part.find(names.el("itemSessionControl"))
        if control is not None and _bool(names.get(control, "showFeedback"), False):
            spec.show_feedback = True
        for section in part.findall("*"):
            _read_section(names, section, href, files or {}, read, weight_id, spec, notes)
    if not spec.sections:
        raise TestFormatError(f"{href}: the test has no section with items")
    if len(spec.sections) > MAX_SECTIONS:
        raise TestFormatError(f"{href}: {len(spec.sections)} sections; at most {MAX_SECTIONS}")
    return spec


def _note_outcome_processing(root: etree._Element, names: _Names, notes: list[str]) -> None:
    processing = root.find(names.el("outcomeProcessing"))
    if processing is None:
        return
    unusual = sorted(
        {
            _local(e)
            for e in processing.iter()
            if isinstance(e.tag, str)
            and (_local(e).removeprefix("qti-") if names.v3 else _local(e))
            not in {_kebab(n) if names.v3 else n for n in _STANDARD_OUTCOME_ELEMENTS}
        }
    )
    if unusual:
        notes.append(
            "outcome processing uses " + ", ".join(unusual) + "; the assessment scores the "
            "weighted sum of its items (set pass marks as score bands)"
        )


def _note_session_control(
    names: _Names, parent: etree._Element, where: str, notes: list[str]
) -> None:
    control = parent.find(names.el("itemSessionControl"))
    if control is None:
        return
    attempts = names.get(control, "maxAttempts")
    if attempts not in (None, "0", "1"):
        notes.append(
            f"{where}: maxAttempts {attempts} is not kept (an answer may change until the end)"
        )
    if _bool(names.get(control, "showSolution"), False):
        notes.append(f"{where}: showSolution is not kept (keys are never shown to candidates)")
    if not _bool(names.get(control, "allowSkipping"), True):
        notes.append(f"{where}: allowSkipping false is not kept (candidates may leave items blank)")


def _read_section(
    names: _Names,
    element: etree._Element,
    href: str,
    files: Mapping[str, bytes],
    read: Callable[[bytes, str], etree._Element],
    weight_id: str | None,
    spec: TestSpec,
    notes: list[str],
    *,
    depth: int = 0,
) -> None:
    local = _local(element)
    base = posixpath.dirname(href)
    if local in ("assessmentSectionRef", "qti-assessment-section-ref"):
        target = names.get(element, "href") or ""
        path = posixpath.normpath(posixpath.join(base, target))
        if path.startswith("../") or path not in files:
            raise TestFormatError(f"{href}: section file {target!r} is not in the package")
        section_root = read(files[path], path)
        _read_section(
            names, section_root, path, files, read, weight_id, spec, notes, depth=depth + 1
        )
        return
    if local not in ("assessmentSection", "qti-assessment-section"):
        return
    if depth > 10:
        raise TestFormatError(f"{href}: sections nest more than ten deep")
    identifier = names.get(element, "identifier") or f"S{len(spec.sections) + 1}"
    where = f"section {identifier!r}"
    title = (names.get(element, "title") or "").strip() or identifier
    if not _bool(names.get(element, "visible"), True):
        notes.append(f"{where}: an invisible section is shown as a section of its own")
    if element.find(names.el("rubricBlock")) is not None:
        notes.append(f"{where}: its rubric block (instructions) is not kept")
    if (
        element.find(names.el("preCondition")) is not None
        or element.find(names.el("branchRule")) is not None
    ):
        notes.append(f"{where}: preconditions and branch rules are not kept; every item is given")
    _note_session_control(names, element, where, notes)
    section = SectionSpec(identifier=identifier, title=title[:300])
    section.time_limit_s = _time_limit(names, element, where, notes)
    ordering = element.find(names.el("ordering"))
    section.shuffle = ordering is not None and _bool(names.get(ordering, "shuffle"), False)
    selection = element.find(names.el("selection"))
    children = list(element)
    subsections = [
        c
        for c in children
        if isinstance(c.tag, str)
        and _local(c)
        in (
            "assessmentSection",
            "qti-assessment-section",
            "assessmentSectionRef",
            "qti-assessment-section-ref",
        )
    ]
    for ref in element.findall(names.el("assessmentItemRef")):
        section.items.append(_item_ref(names, ref, base, weight_id, where, notes))
    if selection is not None:
        try:
            count = int(names.get(selection, "select") or "0")
        except ValueError:
            count = 0
        if _bool(names.get(selection, "withReplacement"), False):
            notes.append(f"{where}: selection with replacement draws without it")
        if subsections:
            notes.append(f"{where}: its selection applies to its own items, not its sub-sections")
        required = [
            names.get(r, "identifier")
            for r in element.findall(names.el("assessmentItemRef"))
            if _bool(names.get(r, "required"), False)
        ]
        if required:
            notes.append(f"{where}: required items {required} may not be drawn")
        if 0 < count < len(section.items):
            section.select = count
        elif count >= len(section.items) and section.items:
            notes.append(f"{where}: selects {count} of {len(section.items)} items; all are given")
    if section.shuffle and any(
        _bool(names.get(r, "fixed"), False) for r in element.findall(names.el("assessmentItemRef"))
    ):
        notes.append(f"{where}: fixed positions in a shuffled section are not kept")
    if section.items:
        spec.sections.append(section)
    for child in subsections:
        _read_section(names, child, href, files, read, weight_id, spec, notes, depth=depth + 1)


def _item_ref(
    names: _Names,
    ref: etree._Element,
    base: str,
    weight_id: str | None,
    where: str,
    notes: list[str],
) -> ItemRefSpec:
    identifier = names.get(ref, "identifier") or ""
    target = names.get(ref, "href") or ""
    if not target:
        raise TestFormatError(f"{where}: item reference {identifier!r} has no href")
    path = posixpath.normpath(posixpath.join(base, target))
    weights = {
        (names.get(w, "identifier") or ""): names.get(w, "value") or ""
        for w in ref.findall(names.el("weight"))
    }
    raw: str | None = None
    if weight_id is not None and weight_id in weights:
        raw = weights[weight_id]
    elif len(weights) == 1:
        raw = next(iter(weights.values()))
    elif len(weights) > 1:
        notes.append(f"{where}: item {identifier!r} has several weights; none is used")
    weight = 1.0
    if raw is not None:
        try:
            weight = float(raw)
        except ValueError:
            notes.append(f"{where}: item {identifier!r} weight {raw!r} is not a number; 1 used")
        if not 0 <= weight <= 1000:
            notes.append(f"{where}: item {identifier!r} weight {raw} is outside 0..1000; 1 used")
            weight = 1.0
    if (
        ref.find(names.el("templateDefault")) is not None
        or ref.find(names.el("variableMapping")) is not None
    ):
        notes.append(
            f"{where}: item {identifier!r} template defaults and variable mappings are not kept"
        )
    return ItemRefSpec(identifier=identifier, href=path, weight=weight)


def _parse(xml: bytes, where: str) -> etree._Element:
    """The content reader's safe parse (no DOCTYPE, no entities, bounded size)."""
    try:
        return parse_document(xml, what=where)
    except ItemFormatError as exc:
        raise TestFormatError(f"{where}: {exc.detail}") from None


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrittenItem:
    """An item of the test as written: its identifier in the package and its weight."""

    identifier: str
    weight: float = 1.0


@dataclass(frozen=True)
class WrittenSection:
    identifier: str
    title: str
    items: Sequence[WrittenItem]
    select: int | None = None
    shuffle: bool = False
    time_limit_s: int | None = None


def write_test(
    identifier: str,
    title: str,
    sections: Sequence[WrittenSection],
    hrefs: Mapping[str, str],
    *,
    linear: bool = False,
    time_limit_s: int | None = None,
    show_feedback: bool = False,
) -> bytes:
    """A QTI 3.0 ``qti-assessment-test`` (UTF-8 XML bytes); ``hrefs`` maps each item
    identifier to its file's path from the test's folder."""
    q = f"{{{QTI3_NS}}}"
    nsmap: dict[str | None, str] = {None: QTI3_NS}
    root = etree.Element(f"{q}qti-assessment-test", nsmap=nsmap)  # type: ignore[arg-type]
    root.set("identifier", identifier)
    root.set("title", title)
    etree.SubElement(
        root, f"{q}qti-outcome-declaration", identifier="SCORE", cardinality="single"
    ).set("base-type", "float")
    if time_limit_s is not None:
        etree.SubElement(root, f"{q}qti-time-limits").set("max-time", str(time_limit_s))
    part = etree.SubElement(root, f"{q}qti-test-part", identifier="P1")
    part.set("navigation-mode", "linear" if linear else "nonlinear")
    part.set("submission-mode", "simultaneous")
    control = etree.SubElement(part, f"{q}qti-item-session-control")
    control.set("max-attempts", "0")
    control.set("allow-review", "false" if linear else "true")
    control.set("show-feedback", "true" if show_feedback else "false")
    control.set("show-solution", "false")
    for section in sections:
        element = etree.SubElement(
            part, f"{q}qti-assessment-section", identifier=section.identifier, title=section.title
        )
        element.set("visible", "true")
        # The schema's order: time limits, selection, ordering, then the section's parts.
        if section.time_limit_s is not None:
            etree.SubElement(element, f"{q}qti-time-limits").set(
                "max-time", str(section.time_limit_s)
            )
        if section.select is not None:
            etree.SubElement(element, f"{q}qti-selection").set("select", str(section.select))
        if section.shuffle:
            etree.SubElement(element, f"{q}qti-ordering").set("shuffle", "true")
        for item in section.items:
            ref = etree.SubElement(
                element,
                f"{q}qti-assessment-item-ref",
                identifier=item.identifier,
                href=hrefs[item.identifier],
            )
            if item.weight != 1.0:
                etree.SubElement(ref, f"{q}qti-weight", identifier="W", value=f"{item.weight:g}")
    processing = etree.SubElement(root, f"{q}qti-outcome-processing")
    total = etree.SubElement(processing, f"{q}qti-set-outcome-value", identifier="SCORE")
    variables = etree.SubElement(etree.SubElement(total, f"{q}qti-sum"), f"{q}qti-test-variables")
    variables.set("variable-identifier", "SCORE")
    variables.set("weight-identifier", "W")
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

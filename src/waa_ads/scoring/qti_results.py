"""Results as QTI 3.0 Results Reporting XML (``assessmentResult``), pure and without I/O.

The report is built from plain dataclasses (:class:`AttemptReport`, :class:`ItemReport`,
:class:`ResponseVariable`, :class:`OutcomeVariable`) so that it can be written from stored
rows (:func:`report_from_rows`) or from anything else that knows an attempt's outcome.
:func:`write_assessment_result` writes one attempt as one document;
:func:`write_assessment_results` writes a cohort as a zip with one document per attempt.

What a document holds, in the element and attribute names of the QTI 3.0 results binding
(namespace :data:`RESULT_NS`):

* ``context``: ``sourcedId`` names the candidate, and ``sessionIdentifier`` elements the
  attempt and the result revision, by id only. No name, e-mail or other personal data is
  ever written: a report can leave the system without taking people's details with it.
* ``testResult``: the attempt's totals as ``outcomeVariable`` elements, and the built-in
  ``duration`` response variable (seconds from start to end) when both times are known.
* one ``itemResult`` per presented item, in form order, with its ``sequenceIndex``: a
  ``responseVariable`` per declared response holding the ``candidateResponse`` only (the
  correct response is never written: a results file may reach the candidate), the
  built-in ``duration``, a ``templateVariable`` per template variable of a cloned item
  (the values of the candidate's own instance, which say which question they answered),
  and the item's ``outcomeVariable`` elements, typed by that instance's declarations.

Values are written as QTI writes them: points, pairs and directed pairs as ``"x y"`` /
``"A B"``, containers as repeated ``value`` elements, records with ``fieldIdentifier``
and ``baseType`` on each value, NULL as no ``value`` at all. Identifier attributes are
XML NCNames in the binding; an identifier that is not one is written with each offending
character replaced by ``_`` (and a leading ``_`` when it starts with neither a letter nor
``_``). Characters that XML 1.0 cannot carry (control characters, lone surrogates) in a
candidate's text are written as U+FFFD.

Output is deterministic: the same report gives the same bytes, whatever the order of its
mappings, and a cohort zip does not depend on the order of the reports given.
"""

from __future__ import annotations

import io
import math
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lxml import etree

from waa_ads.content.item import templates
from waa_ads.content.item.definition import (
    BaseType,
    Cardinality,
    ItemDefinition,
    OutcomeDeclaration,
)
from waa_ads.content.item.responses import record_field_base_type

if TYPE_CHECKING:
    from waa_ads.delivery.models import Attempt, AttemptItem, Response
    from waa_ads.scoring.models import AttemptResult, ItemScore

RESULT_NS = "http://www.imsglobal.org/xsd/imsqti_result_v3p0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
RESULT_SCHEMA_LOCATION = (
    f"{RESULT_NS} https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_resultv3p0_v1p0.xsd"
)
#: ``sourceID`` of the session identifiers: which system issued the identifier.
ATTEMPT_SOURCE = "urn:waa-ads:attempt"
RESULT_SOURCE = "urn:waa-ads:attempt-result"
#: The built-in response variable holding the time spent, in seconds.
DURATION = "duration"

# Not allowed in XML 1.0 documents at all, escaped or not.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class SessionStatus(StrEnum):
    """``itemResult/@sessionStatus``: where the item's variables stand."""

    FINAL = "final"
    INITIAL = "initial"
    PENDING_EXTERNAL_SCORING = "pendingExternalScoring"
    PENDING_RESPONSE_PROCESSING = "pendingResponseProcessing"
    PENDING_SUBMISSION = "pendingSubmission"


class ExternalScored(StrEnum):
    """``outcomeVariable/@external-scored``: who scores an outcome outside the item."""

    HUMAN = "human"
    EXTERNAL_MACHINE = "externalMachine"


@dataclass(frozen=True)
class ResponseVariable:
    """A response variable. ``value`` is in its JSON response shape (``"A"``, ``["A", "C"]``,
    ``[x, y]``, ``{"field": 1}``...); ``None`` is NULL (no response). ``base_type`` is
    ``None`` only for record cardinality."""

    cardinality: Cardinality
    base_type: BaseType | None
    value: Any = None


@dataclass(frozen=True)
class TemplateVariable:
    """A template variable of a cloned item: the value the candidate's instance drew
    (content/item/templates.py), as :class:`ResponseVariable`."""

    cardinality: Cardinality
    base_type: BaseType | None
    value: Any = None


@dataclass(frozen=True)
class OutcomeVariable:
    """An outcome variable, as :class:`ResponseVariable`, with the optional attributes of
    the declaration it reports."""

    cardinality: Cardinality
    base_type: BaseType | None
    value: Any = None
    normal_maximum: float | None = None
    normal_minimum: float | None = None
    mastery_value: float | None = None
    external_scored: ExternalScored | None = None


@dataclass(frozen=True)
class ItemReport:
    """One presented item: ``identifier`` is its reference on the attempt's form,
    ``sequence_index`` its 1-based position, ``datestamp`` when this result was recorded
    (a timezone-aware time; a naive one is taken as UTC). ``duration_s`` becomes the
    built-in ``duration`` response variable; ``responses`` may not use that name."""

    identifier: str
    datestamp: datetime
    sequence_index: int | None = None
    session_status: SessionStatus = SessionStatus.FINAL
    responses: Mapping[str, ResponseVariable] = field(default_factory=dict)
    outcomes: Mapping[str, OutcomeVariable] = field(default_factory=dict)
    duration_s: float | None = None
    templates: Mapping[str, TemplateVariable] = field(default_factory=dict)


@dataclass(frozen=True)
class AttemptReport:
    """One attempt's result.

    ``candidate_id``, ``attempt_id`` and ``result_id`` are written as the context's
    ``sourcedId`` and session identifiers; build them with :func:`sourced_id` (they must be
    NCNames, which a bare UUID is not). ``assessment_identifier`` names the test
    (``testResult/@identifier``), ``datestamp`` is when the result was recorded, and
    ``started_at``/``ended_at`` give the test's ``duration`` when both are known.
    """

    candidate_id: str
    attempt_id: str
    assessment_identifier: str
    datestamp: datetime
    outcomes: Mapping[str, OutcomeVariable] = field(default_factory=dict)
    items: Sequence[ItemReport] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    result_id: str | None = None


def sourced_id(kind: str, value: uuid.UUID | str) -> str:
    """An NCName for an id: ``sourced_id("candidate", uuid)`` is ``"candidate-<uuid>"``."""
    return ncname(f"{kind}-{value}")


# --- formatting -----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _is_ncname(text: str) -> bool:
    # libxml2's own name check: element names are NCNames once the colon is excluded.
    if not text or ":" in text:
        return False
    try:
        etree.Element(text)
    except ValueError:
        return False
    return True


def ncname(text: str) -> str:
    """``text`` if it is an XML NCName, else a deterministic NCName made from it."""
    if _is_ncname(text):
        return text
    safe = "".join(c if _is_ncname(f"a{c}") else "_" for c in text)
    if not _is_ncname(safe[:1]):
        safe = f"_{safe}"
    return safe


def _text(value: str) -> str:
    return _XML_ILLEGAL.sub("\ufffd", value)


def _datetime(moment: datetime) -> str:
    """xs:dateTime in UTC with a ``Z`` (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    timespec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _double(value: float) -> str:
    """xs:double text: ``INF``/``-INF``/``NaN`` spelled as XML Schema spells them."""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "INF" if number > 0 else "-INF"
    return repr(number)


def format_value(base_type: BaseType, value: Any) -> str:
    """The QTI text of one single value in its JSON shape."""
    if base_type is BaseType.BOOLEAN:
        return "true" if value else "false"
    if base_type in (BaseType.POINT, BaseType.PAIR, BaseType.DIRECTED_PAIR):
        if isinstance(value, str):
            return _text(" ".join(value.split()))
        first, second = value
        return _text(f"{first} {second}")
    if base_type in (BaseType.FLOAT, BaseType.DURATION):
        return _double(value)
    if base_type is BaseType.INTEGER:
        return str(int(value))
    if base_type is BaseType.FILE:
        # The file itself is in the blob store, named by its content hash.
        digest = value.get("sha256") if isinstance(value, Mapping) else value
        return _text(f"sha256:{str(digest).lower()}")
    return _text(str(value))


def _binding_base_type(base_type: BaseType | None, values: list[Any]) -> BaseType | None:
    """The base type to write: ``intOrIdentifier`` is not in the results binding, so it is
    written as integer when every value is one and as identifier otherwise."""
    if base_type is not BaseType.INT_OR_IDENTIFIER:
        return base_type
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return BaseType.INTEGER
    return BaseType.IDENTIFIER


def _values_of(cardinality: Cardinality, value: Any) -> list[Any]:
    """The single values of a variable; NULL, ``[]`` and ``{}`` are none."""
    if value is None:
        return []
    if cardinality is Cardinality.SINGLE:
        return [value]
    if cardinality is Cardinality.RECORD:
        return [] if not value else [value]
    return list(value)


# --- building ---------------------------------------------------------------------------------


def _q(local: str) -> str:
    return f"{{{RESULT_NS}}}{local}"


def _sub(parent: etree._Element, local: str, attrs: Mapping[str, str | None]) -> etree._Element:
    element = etree.SubElement(parent, _q(local))
    for name, value in attrs.items():
        if value is not None:
            element.set(name, value)
    return element


def _write_values(
    container: etree._Element,
    cardinality: Cardinality,
    base_type: BaseType | None,
    values: list[Any],
) -> None:
    if cardinality is Cardinality.RECORD:
        for record in values:
            for name in sorted(record):
                field_value = record[name]
                if field_value is None:
                    continue
                field_type = record_field_base_type(field_value)
                element = _sub(
                    container,
                    "value",
                    {"fieldIdentifier": ncname(name), "baseType": field_type.value},
                )
                element.text = format_value(field_type, field_value)
        return
    if base_type is None:
        raise ValueError(f"a {cardinality} variable needs a base type")
    for single in values:
        _sub(container, "value", {}).text = format_value(base_type, single)


def _variable_attrs(
    identifier: str, cardinality: Cardinality, base_type: BaseType | None
) -> dict[str, str | None]:
    return {
        "identifier": ncname(identifier),
        "cardinality": cardinality.value,
        "baseType": None if cardinality is Cardinality.RECORD or base_type is None else base_type,
    }


def _response_element(parent: etree._Element, identifier: str, variable: ResponseVariable) -> None:
    values = _values_of(variable.cardinality, variable.value)
    base_type = _binding_base_type(variable.base_type, values)
    element = _sub(
        parent,
        "responseVariable",
        _variable_attrs(identifier, variable.cardinality, base_type),
    )
    candidate = _sub(element, "candidateResponse", {})
    _write_values(candidate, variable.cardinality, base_type, values)


def _template_element(parent: etree._Element, identifier: str, variable: TemplateVariable) -> None:
    values = _values_of(variable.cardinality, variable.value)
    base_type = _binding_base_type(variable.base_type, values)
    element = _sub(
        parent,
        "templateVariable",
        _variable_attrs(identifier, variable.cardinality, base_type),
    )
    _write_values(element, variable.cardinality, base_type, values)


def _optional_double(value: float | None) -> str | None:
    return None if value is None else _double(value)


def _outcome_element(parent: etree._Element, identifier: str, variable: OutcomeVariable) -> None:
    values = _values_of(variable.cardinality, variable.value)
    base_type = _binding_base_type(variable.base_type, values)
    attrs = _variable_attrs(identifier, variable.cardinality, base_type)
    attrs["normalMaximum"] = _optional_double(variable.normal_maximum)
    attrs["normalMinimum"] = _optional_double(variable.normal_minimum)
    attrs["masteryValue"] = _optional_double(variable.mastery_value)
    attrs["external-scored"] = (
        None if variable.external_scored is None else variable.external_scored.value
    )
    element = _sub(parent, "outcomeVariable", attrs)
    _write_values(element, variable.cardinality, base_type, values)


def _duration_element(parent: etree._Element, seconds: float) -> None:
    _response_element(
        parent, DURATION, ResponseVariable(Cardinality.SINGLE, BaseType.DURATION, seconds)
    )


def _check_names(kind: str, owner: str, names: Iterable[str]) -> None:
    written: dict[str, str] = {}
    for name in names:
        safe = ncname(name)
        if safe in written:
            raise ValueError(
                f"{owner}: {kind} {name!r} and {written[safe]!r} would both be written as {safe!r}"
            )
        written[safe] = name


def _item_element(parent: etree._Element, item: ItemReport) -> None:
    builtin = [DURATION] if item.duration_s is not None else []
    _check_names(
        "variable",
        f"item {item.identifier!r}",
        [*builtin, *item.responses, *item.templates, *item.outcomes],
    )
    element = _sub(
        parent,
        "itemResult",
        {
            "identifier": ncname(item.identifier),
            "sequenceIndex": None if item.sequence_index is None else str(item.sequence_index),
            "datestamp": _datetime(item.datestamp),
            "sessionStatus": item.session_status.value,
        },
    )
    if item.duration_s is not None:
        _duration_element(element, item.duration_s)
    for identifier in sorted(item.responses):
        _response_element(element, identifier, item.responses[identifier])
    for identifier in sorted(item.templates):
        _template_element(element, identifier, item.templates[identifier])
    for identifier in sorted(item.outcomes):
        _outcome_element(element, identifier, item.outcomes[identifier])


def _root_nsmap() -> Any:
    # lxml takes None as the default namespace's prefix; its stubs only allow str keys.
    return {None: RESULT_NS, "xsi": XSI_NS}


def assessment_result_element(report: AttemptReport) -> etree._Element:
    """The ``assessmentResult`` element of one attempt (see the module docstring)."""
    root = etree.Element(_q("assessmentResult"), nsmap=_root_nsmap())
    root.set(f"{{{XSI_NS}}}schemaLocation", RESULT_SCHEMA_LOCATION)
    context = _sub(root, "context", {"sourcedId": ncname(report.candidate_id)})
    _sub(
        context,
        "sessionIdentifier",
        {"sourceID": ATTEMPT_SOURCE, "identifier": ncname(report.attempt_id)},
    )
    if report.result_id is not None:
        _sub(
            context,
            "sessionIdentifier",
            {"sourceID": RESULT_SOURCE, "identifier": ncname(report.result_id)},
        )
    timed = report.started_at is not None and report.ended_at is not None
    _check_names("variable", "test", [*([DURATION] if timed else []), *report.outcomes])
    test = _sub(
        root,
        "testResult",
        {
            "identifier": ncname(report.assessment_identifier),
            "datestamp": _datetime(report.datestamp),
        },
    )
    if report.started_at is not None and report.ended_at is not None:
        _duration_element(test, max((report.ended_at - report.started_at).total_seconds(), 0.0))
    for identifier in sorted(report.outcomes):
        _outcome_element(test, identifier, report.outcomes[identifier])
    for item in report.items:
        _item_element(root, item)
    return root


def write_assessment_result(report: AttemptReport) -> bytes:
    """One attempt as a UTF-8 QTI 3.0 results document (with its XML declaration).

    Raises ``ValueError`` when two variables of one item, or of the test, would be written
    under the same identifier (the built-in ``duration`` included, when it is written).
    """
    return bytes(
        etree.tostring(
            assessment_result_element(report),
            xml_declaration=True,
            encoding="UTF-8",
            pretty_print=True,
        )
    )


def result_file_name(report: AttemptReport) -> str:
    """The name of an attempt's document inside a cohort zip."""
    return f"assessmentResult-{ncname(report.attempt_id)}.xml"


def write_assessment_results(reports: Iterable[AttemptReport]) -> bytes:
    """A zip of one :func:`write_assessment_result` document per attempt, named by
    :func:`result_file_name`, in name order, with fixed timestamps and permissions: the
    same reports give the same bytes in any order. ``ValueError`` when two reports are of
    the same attempt."""
    named: dict[str, AttemptReport] = {}
    for report in reports:
        name = result_file_name(report)
        if name in named:
            raise ValueError(f"two reports of attempt {report.attempt_id!r}")
        named[name] = report
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(named):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode below means the same everywhere
            info.external_attr = 0o644 << 16
            archive.writestr(info, write_assessment_result(named[name]))
    return buffer.getvalue()


# --- from stored rows -------------------------------------------------------------------------


def _outcome_type(
    declaration: OutcomeDeclaration | None, value: Any
) -> tuple[Cardinality, BaseType | None]:
    """The declared type of an outcome, or (for one the engine reports without a
    declaration, such as MAXSCORE) the type its JSON value implies."""
    if declaration is not None:
        return declaration.cardinality, declaration.base_type
    if isinstance(value, Mapping):
        return Cardinality.RECORD, None
    if isinstance(value, list):
        first = value[0] if value else None
        return Cardinality.MULTIPLE, _json_base_type(first)
    return Cardinality.SINGLE, _json_base_type(value)


def _json_base_type(value: Any) -> BaseType:
    if value is None or isinstance(value, str):
        return BaseType.IDENTIFIER
    return record_field_base_type(value)


def _item_outcome(
    item: ItemDefinition, identifier: str, value: Any, **extra: Any
) -> OutcomeVariable:
    declaration = item.outcome_declaration(identifier)
    cardinality, base_type = _outcome_type(declaration, value)
    return OutcomeVariable(
        cardinality,
        base_type,
        value,
        normal_maximum=declaration.normal_maximum if declaration else None,
        normal_minimum=declaration.normal_minimum if declaration else None,
        mastery_value=declaration.mastery_value if declaration else None,
        **extra,
    )


def _score_outcome(item: ItemDefinition, score: float | None) -> OutcomeVariable:
    """SCORE as the item score row holds it (a manual score overrides the engine's):
    written as an integer only where the item declares an integer SCORE and it is one."""
    declaration = item.outcome_declaration("SCORE")
    value: float | int | None = score
    base_type = BaseType.FLOAT
    if (
        declaration is not None
        and declaration.base_type is BaseType.INTEGER
        and score is not None
        and float(score).is_integer()
    ):
        value, base_type = int(score), BaseType.INTEGER
    return OutcomeVariable(
        Cardinality.SINGLE,
        base_type,
        value,
        normal_maximum=declaration.normal_maximum if declaration else None,
        normal_minimum=declaration.normal_minimum if declaration else None,
        mastery_value=declaration.mastery_value if declaration else None,
        external_scored=ExternalScored.HUMAN if score is None else None,
    )


def _item_report(
    form_item: AttemptItem,
    item: ItemDefinition,
    score: ItemScore | None,
    response: Response | None,
    fallback_datestamp: datetime,
) -> ItemReport:
    normalized: Mapping[str, Any] = {}
    if response is not None and isinstance(response.value, Mapping):
        stored = response.value.get("normalized")
        normalized = stored if isinstance(stored, Mapping) else {}
    responses = {
        d.identifier: ResponseVariable(d.cardinality, d.base_type, normalized.get(d.identifier))
        for d in item.response_declarations
    }
    outcomes: dict[str, OutcomeVariable] = {}
    if score is None:
        status = SessionStatus.PENDING_RESPONSE_PROCESSING
    else:
        for identifier, value in (score.outcomes or {}).items():
            outcomes[identifier] = _item_outcome(item, identifier, value)
        outcomes["SCORE"] = _score_outcome(item, score.score)
        outcomes["MAXSCORE"] = _item_outcome(item, "MAXSCORE", float(score.max_score))
        status = (
            SessionStatus.PENDING_EXTERNAL_SCORING if score.score is None else SessionStatus.FINAL
        )
    return ItemReport(
        identifier=form_item.ref,
        sequence_index=form_item.position,
        datestamp=response.updated_at if response is not None else fallback_datestamp,
        session_status=status,
        responses=responses,
        outcomes=outcomes,
        duration_s=(response.time_spent_ms or 0) / 1000 if response is not None else None,
        templates={
            d.identifier: TemplateVariable(d.cardinality, d.base_type, d.default_value)
            for d in item.template_declarations
        },
    )


def _float_outcome(value: float | None) -> OutcomeVariable:
    return OutcomeVariable(Cardinality.SINGLE, BaseType.FLOAT, value)


def report_from_rows(
    *,
    attempt: Attempt,
    result: AttemptResult,
    item_scores: Sequence[ItemScore],
    responses: Sequence[Response],
    form: Sequence[AttemptItem],
    items: Mapping[uuid.UUID, ItemDefinition],
    assessment_identifier: str,
) -> AttemptReport:
    """The report of one result revision of an attempt, from its stored rows.

    ``form`` is the attempt's presented items (their order and positions give the item
    results' order and ``sequenceIndex``), ``item_scores`` the rows of ``result``,
    ``responses`` the attempt's latest responses (their ``normalized`` values are written),
    ``items`` the item definitions by item version id (they type the variables). A cloned
    item is reported as the attempt's own instance of it (its seed and the item's ref on
    the form choose the values, as in delivery and scoring), with its template values.
    ``assessment_identifier`` names the test (the assessment's slug, say).

    Test outcomes: ``SCORE``/``MAXSCORE`` (raw), ``WEIGHTED_SCORE``/``WEIGHTED_MAXSCORE``,
    ``SCALED``, ``BAND`` (string, NULL without bands) and ``PASSED`` (boolean, NULL when
    the band says nothing). An item's SCORE is the score row's (a manual score overrides
    the engine's outcome); an item waiting for a rater is ``pendingExternalScoring`` with
    a NULL SCORE marked ``external-scored="human"``, and a form item without a score row is
    ``pendingResponseProcessing``. Raises ``ValueError`` when a row belongs to another
    attempt or result, or an item definition is missing: a report never mixes attempts.
    """
    if result.attempt_id != attempt.id:
        raise ValueError(f"result {result.id} is not of attempt {attempt.id}")
    for owner in [*(r.attempt_id for r in responses), *(f.attempt_id for f in form)]:
        if owner != attempt.id:
            raise ValueError(f"a row of attempt {owner} given for attempt {attempt.id}")
    scores: dict[str, ItemScore] = {}
    for score in item_scores:
        if score.result_id != result.id or score.attempt_id != attempt.id:
            raise ValueError(f"item score {score.item_ref!r} is not of result {result.id}")
        scores[score.item_ref] = score
    refs = {f.ref for f in form}
    stray = sorted(set(scores) - refs)
    if stray:
        raise ValueError(f"item scores for items not on the form: {', '.join(stray)}")
    by_ref = {r.item_ref: r for r in responses}
    fallback = attempt.ended_at or result.created_at
    reports = []
    for form_item in sorted(form, key=lambda f: (f.position, f.ref)):
        item = items.get(form_item.item_version_id)
        if item is None:
            raise ValueError(f"no definition of item version {form_item.item_version_id}")
        item = templates.instance_for(item, attempt.seed, form_item.ref)
        reports.append(
            _item_report(
                form_item, item, scores.get(form_item.ref), by_ref.get(form_item.ref), fallback
            )
        )
    outcomes = {
        "SCORE": _float_outcome(result.raw),
        "MAXSCORE": _float_outcome(result.max_raw),
        "WEIGHTED_SCORE": _float_outcome(result.weighted),
        "WEIGHTED_MAXSCORE": _float_outcome(result.max_weighted),
        "SCALED": _float_outcome(result.scaled),
        "BAND": OutcomeVariable(Cardinality.SINGLE, BaseType.STRING, result.band),
        "PASSED": OutcomeVariable(Cardinality.SINGLE, BaseType.BOOLEAN, result.passed),
    }
    return AttemptReport(
        candidate_id=sourced_id("candidate", attempt.candidate_id),
        attempt_id=sourced_id("attempt", attempt.id),
        result_id=sourced_id("result", result.id),
        assessment_identifier=assessment_identifier,
        datestamp=result.created_at,
        started_at=attempt.started_at,
        ended_at=attempt.ended_at,
        outcomes=outcomes,
        items=reports,
    )

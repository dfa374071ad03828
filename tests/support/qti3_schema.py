"""A schema of the QTI 3.0 subset the writer emits, written from the specification's element
and attribute names (the official XSDs are not available offline), and ``check_qti3``, which
validates a written item against it. It covers item templates (cloned items): template
declarations, template processing with its rules and random expressions, and the body's
printed variables, template blocks and template inlines."""

from __future__ import annotations

from lxml import etree

from waa_ads.content.interchange.qti.reader import SUPPORTED_INTERACTIONS

QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"


def _attrs(*names: str, required: tuple[str, ...] = ()) -> str:
    types = {
        "identifier": "q:identifier",
        "response-identifier": "q:identifier",
        "outcome-identifier": "q:identifier",
        "field-identifier": "q:identifier",
        "shuffle": "xs:boolean",
        "fixed": "xs:boolean",
        "required": "xs:boolean",
        "step-label": "xs:boolean",
        "reverse": "xs:boolean",
        "case-sensitive": "xs:boolean",
        "substring": "xs:boolean",
        "include-lower-bound": "xs:boolean",
        "include-upper-bound": "xs:boolean",
        "max-choices": "xs:nonNegativeInteger",
        "min-choices": "xs:nonNegativeInteger",
        "max-associations": "xs:nonNegativeInteger",
        "min-associations": "xs:nonNegativeInteger",
        "match-max": "xs:nonNegativeInteger",
        "match-min": "xs:nonNegativeInteger",
        "expected-length": "xs:nonNegativeInteger",
        "expected-lines": "xs:nonNegativeInteger",
        "max-strings": "xs:nonNegativeInteger",
        "min-strings": "xs:nonNegativeInteger",
        "base": "xs:int",
        "step": "xs:int",
        "index": "xs:int",
        "power-form": "xs:boolean",
        "figures": "xs:int",
        "n": "q:intOrVariableRef",
        "number-repeats": "q:intOrVariableRef",
        "min": "xs:int",
        "max": "xs:int",
        "lower-bound": "xs:double",
        "upper-bound": "xs:double",
        "default-value": "xs:double",
        "mapped-value": "xs:double",
        "normal-maximum": "xs:double",
        "normal-minimum": "xs:double",
        "mastery-value": "xs:double",
        "orientation": "q:orientation",
        "shape": "q:shape",
        "coords": "q:coords",
        "cardinality": "q:cardinality",
        "base-type": "q:baseType",
        "tolerance-mode": "q:toleranceMode",
        "rounding-mode": "q:roundingMode",
        "tolerance": "q:doubles",
        "show-hide": "q:showHide",
        "autostart": "xs:boolean",
        "loop": "xs:boolean",
        "count-attempt": "xs:boolean",
        "min-plays": "xs:nonNegativeInteger",
        "max-plays": "xs:nonNegativeInteger",
        "external-scored": "q:externalScored",
        "format": "q:textFormat",
        "template": "xs:anyURI",
        "href": "xs:anyURI",
    }
    out = []
    for name in names:
        use = ' use="required"' if name in required else ""
        out.append(f'<xs:attribute name="{name}" type="{types.get(name, "xs:string")}"{use}/>')
    return "".join(out)


_COMMON = ("class", "id", "label", "data-catalog-idref")
_EXPRESSIONS_EMPTY_ID = (
    "qti-variable",
    "qti-correct",
    "qti-default",
    "qti-map-response",
    "qti-map-response-point",
)
_UNARY = (
    "qti-is-null",
    "qti-not",
    "qti-container-size",
    "qti-integer-to-float",
    "qti-round",
    "qti-truncate",
    "qti-random",
)
_BINARY = (
    "qti-match",
    "qti-member",
    "qti-contains",
    "qti-delete",
    "qti-subtract",
    "qti-divide",
    "qti-power",
    "qti-integer-divide",
    "qti-integer-modulus",
    "qti-duration-lt",
    "qti-duration-gte",
    "qti-gt",
    "qti-gte",
    "qti-lt",
    "qti-lte",
)
_NARY = ("qti-and", "qti-or", "qti-sum", "qti-product", "qti-max", "qti-min", "qti-gcd", "qti-lcm")
_ANY_NUMBER = ("qti-multiple", "qti-ordered")
_WITH_ATTRS = {
    "qti-pattern-match": ("unary", _attrs("pattern", required=("pattern",))),
    "qti-index": ("unary", _attrs("n", required=("n",))),
    "qti-field-value": ("unary", _attrs("field-identifier", required=("field-identifier",))),
    "qti-inside": ("unary", _attrs("shape", "coords", required=("shape",))),
    "qti-round-to": ("unary", _attrs("rounding-mode", "figures", required=("figures",))),
    "qti-string-match": ("binary", _attrs("case-sensitive", "substring", required=("case-sensitive",))),
    "qti-substring": ("binary", _attrs("case-sensitive")),
    "qti-equal": ("binary", _attrs("tolerance-mode", "tolerance", "include-lower-bound", "include-upper-bound")),
    "qti-equal-rounded": ("binary", _attrs("rounding-mode", "figures", required=("figures",))),
    "qti-any-n": ("nary", _attrs("min", "max", required=("min", "max"))),
    "qti-repeat": ("nary", _attrs("number-repeats", required=("number-repeats",))),
}  # fmt: skip
_MATH_FUNCTIONS = (
    "sin", "cos", "tan", "sec", "csc", "cot", "asin", "acos", "atan", "atan2", "asec", "acsc",
    "acot", "sinh", "cosh", "tanh", "sech", "csch", "coth", "log", "ln", "exp", "abs", "signum",
    "floor", "ceil", "toDegrees", "toRadians",
)  # fmt: skip
_STATS_FUNCTIONS = ("mean", "sampleVariance", "sampleSD", "popVariance", "popSD")


def _named(element: str, args: str, names: tuple[str, ...]) -> str:
    """An expression whose required ``name`` attribute is one of ``names``."""
    options = "".join(f'<xs:enumeration value="{n}"/>' for n in names)
    return (
        f'<xs:element name="{element}"><xs:complexType>{args}<xs:attribute name="name" use="required">'
        f'<xs:simpleType><xs:restriction base="xs:string">{options}</xs:restriction></xs:simpleType>'
        "</xs:attribute></xs:complexType></xs:element>"
    )


_ARGS = {
    "unary": '<xs:group ref="q:expression"/>',
    "binary": '<xs:sequence><xs:group ref="q:expression"/><xs:group ref="q:expression"/></xs:sequence>',
    "nary": '<xs:group ref="q:expression" maxOccurs="unbounded"/>',
    "any": '<xs:group ref="q:expression" minOccurs="0" maxOccurs="unbounded"/>',
}


def _expression_elements() -> str:
    out = []
    for name in _EXPRESSIONS_EMPTY_ID:
        out.append(
            f'<xs:element name="{name}"><xs:complexType>{_attrs("identifier", required=("identifier",))}</xs:complexType></xs:element>'
        )
    out.append('<xs:element name="qti-null"><xs:complexType/></xs:element>')
    # Template processing only: random values (empty elements with their bounds).
    out.append(
        f'<xs:element name="qti-random-integer"><xs:complexType>{_attrs("min", "max", "step", required=("min", "max"))}</xs:complexType></xs:element>'
    )
    out.append(
        '<xs:element name="qti-random-float"><xs:complexType>'
        '<xs:attribute name="min" type="xs:double" use="required"/>'
        '<xs:attribute name="max" type="xs:double" use="required"/></xs:complexType></xs:element>'
    )
    out.append(
        '<xs:element name="qti-base-value"><xs:complexType><xs:simpleContent><xs:extension base="xs:string">'
        f"{_attrs('base-type', required=('base-type',))}</xs:extension></xs:simpleContent></xs:complexType></xs:element>"
    )
    out.append(
        '<xs:element name="qti-math-constant"><xs:complexType><xs:attribute name="name" use="required">'
        '<xs:simpleType><xs:restriction base="xs:string"><xs:enumeration value="pi"/><xs:enumeration value="e"/>'
        "</xs:restriction></xs:simpleType></xs:attribute></xs:complexType></xs:element>"
    )
    for kind, members in (
        ("unary", _UNARY),
        ("binary", _BINARY),
        ("nary", _NARY),
        ("any", _ANY_NUMBER),
    ):
        for name in members:
            out.append(
                f'<xs:element name="{name}"><xs:complexType>{_ARGS[kind]}</xs:complexType></xs:element>'
            )
    for name, (kind, attrs) in _WITH_ATTRS.items():
        out.append(
            f'<xs:element name="{name}"><xs:complexType>{_ARGS[kind]}{attrs}</xs:complexType></xs:element>'
        )
    # atan2 takes two sub-expressions, the other functions one
    out.append(
        _named("qti-math-operator", '<xs:group ref="q:expression" maxOccurs="2"/>', _MATH_FUNCTIONS)
    )
    out.append(_named("qti-stats-operator", _ARGS["unary"], _STATS_FUNCTIONS))
    names = [*_EXPRESSIONS_EMPTY_ID, "qti-null", "qti-random-integer", "qti-random-float",
             "qti-base-value", "qti-math-constant", "qti-math-operator", "qti-stats-operator", *_UNARY,
             *_BINARY, *_NARY, *_ANY_NUMBER, *_WITH_ATTRS]  # fmt: skip
    refs = "".join(f'<xs:element ref="q:{n}"/>' for n in names)
    out.append(f'<xs:group name="expression"><xs:choice>{refs}</xs:choice></xs:group>')
    return "".join(out)  # fmt: skip


def _enum(name: str, *values: str) -> str:
    options = "".join(f'<xs:enumeration value="{v}"/>' for v in values)
    return f'<xs:simpleType name="{name}"><xs:restriction base="xs:string">{options}</xs:restriction></xs:simpleType>'


_ANY = (
    '<xs:sequence><xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>'
)
_PROMPT = '<xs:element ref="q:qti-prompt" minOccurs="0"/>'
_GRAPHIC = (
    '<xs:choice minOccurs="0"><xs:element name="img"><xs:complexType mixed="true">'
    f'{_ANY}<xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>'
    f'<xs:element name="object"><xs:complexType mixed="true">{_ANY}'
    '<xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>'
    f'<xs:element name="picture"><xs:complexType mixed="true">{_ANY}'
    '<xs:anyAttribute processContents="skip"/></xs:complexType></xs:element></xs:choice>'
)

_MEDIA = (
    "<xs:choice>"
    + "".join(
        f'<xs:element name="{name}"><xs:complexType mixed="true">{_ANY}'
        '<xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>'
        for name in ("audio", "video", "object")
    )
    + "</xs:choice>"
)


def _content_element(name: str, *attrs: str, required: tuple[str, ...] = ()) -> str:
    return (
        f'<xs:element name="{name}"><xs:complexType mixed="true">{_ANY}'
        f"{_attrs(*attrs, *_COMMON, required=required)}</xs:complexType></xs:element>"
    )


def _interaction(name: str, content: str, *attrs: str) -> str:
    return (
        f'<xs:element name="{name}"><xs:complexType>{content}'
        f"{_attrs('response-identifier', *attrs, *_COMMON, required=('response-identifier',))}"
        "</xs:complexType></xs:element>"
    )


def _schema() -> str:
    seq = "<xs:sequence>{}</xs:sequence>".format
    return f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:q="{QTI3}"
    targetNamespace="{QTI3}" elementFormDefault="qualified">
  <xs:simpleType name="identifier"><xs:restriction base="xs:string"><xs:pattern value="\\S+"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="intOrVariableRef"><xs:union memberTypes="xs:int"><xs:simpleType><xs:restriction base="xs:string"><xs:pattern value="[A-Za-z_][A-Za-z0-9_.\\-]*"/></xs:restriction></xs:simpleType></xs:union></xs:simpleType>
  <xs:simpleType name="coords"><xs:restriction base="xs:string"><xs:pattern value="(-?[0-9.]+(,-?[0-9.]+)*)?"/></xs:restriction></xs:simpleType>
  <xs:simpleType name="doubles"><xs:list itemType="xs:double"/></xs:simpleType>
  {_enum("cardinality", "single", "multiple", "ordered", "record")}
  {_enum("baseType", "identifier", "boolean", "integer", "float", "string", "point", "pair",
         "directedPair", "duration", "file", "uri", "intOrIdentifier")}
  {_enum("shape", "circle", "rect", "poly", "ellipse", "default")}
  {_enum("orientation", "horizontal", "vertical")}
  {_enum("toleranceMode", "exact", "absolute", "relative")}
  {_enum("roundingMode", "significantFigures", "decimalPlaces")}
  {_enum("showHide", "show", "hide")}
  {_enum("externalScored", "human", "externalMachine")}
  {_enum("textFormat", "plain", "preformatted", "xhtml")}
  <xs:complexType name="values">
    <xs:sequence><xs:element name="qti-value" maxOccurs="unbounded"><xs:complexType>
      <xs:simpleContent><xs:extension base="xs:string">{_attrs("field-identifier", "base-type")}</xs:extension></xs:simpleContent>
    </xs:complexType></xs:element></xs:sequence>
  </xs:complexType>
  <xs:element name="qti-assessment-item"><xs:complexType>
    {seq('<xs:element ref="q:qti-context-declaration" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element ref="q:qti-response-declaration" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element ref="q:qti-outcome-declaration" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element ref="q:qti-template-declaration" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element ref="q:qti-template-processing" minOccurs="0"/>'
         '<xs:element ref="q:qti-assessment-stimulus-ref" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element ref="q:qti-stylesheet" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element ref="q:qti-item-body" minOccurs="0"/>'
         '<xs:element ref="q:qti-catalog-info" minOccurs="0"/>'
         '<xs:element ref="q:qti-response-processing" minOccurs="0"/>'
         '<xs:element ref="q:qti-modal-feedback" minOccurs="0" maxOccurs="unbounded"/>')}
    {_attrs("identifier", "title", "label", "tool-name", "tool-version", required=("identifier", "title"))}
    <xs:attribute name="adaptive" type="xs:boolean"/><xs:attribute name="time-dependent" type="xs:boolean"/>
    <xs:anyAttribute namespace="http://www.w3.org/XML/1998/namespace" processContents="skip"/>
  </xs:complexType></xs:element>
  <xs:element name="qti-response-declaration"><xs:complexType>
    {seq('<xs:element name="qti-default-value" type="q:values" minOccurs="0"/>'
         '<xs:element name="qti-correct-response" type="q:values" minOccurs="0"/>'
         '<xs:element name="qti-mapping" minOccurs="0"><xs:complexType>'
         '<xs:sequence><xs:element name="qti-map-entry" maxOccurs="unbounded"><xs:complexType>'
         + _attrs("map-key", "mapped-value", "case-sensitive", required=("map-key", "mapped-value"))
         + '</xs:complexType></xs:element></xs:sequence>'
         + _attrs("default-value", "lower-bound", "upper-bound") + '</xs:complexType></xs:element>'
         '<xs:element name="qti-area-mapping" minOccurs="0"><xs:complexType>'
         '<xs:sequence><xs:element name="qti-area-map-entry" maxOccurs="unbounded"><xs:complexType>'
         + _attrs("shape", "coords", "mapped-value", required=("shape", "coords", "mapped-value"))
         + '</xs:complexType></xs:element></xs:sequence>'
         + _attrs("default-value", "lower-bound", "upper-bound") + '</xs:complexType></xs:element>')}
    {_attrs("identifier", "cardinality", "base-type", required=("identifier", "cardinality"))}
  </xs:complexType></xs:element>
  <xs:element name="qti-context-declaration"><xs:complexType>
    {seq('<xs:element name="qti-default-value" type="q:values" minOccurs="0"/>')}
    {_attrs("identifier", "cardinality", "base-type", required=("identifier", "cardinality"))}
  </xs:complexType></xs:element>
  <xs:element name="qti-outcome-declaration"><xs:complexType>
    {seq('<xs:element name="qti-default-value" type="q:values" minOccurs="0"/>'
         '<xs:choice minOccurs="0">'
         '<xs:element name="qti-match-table"><xs:complexType>'
         '<xs:sequence><xs:element name="qti-match-table-entry" maxOccurs="unbounded"><xs:complexType>'
         '<xs:attribute name="source-value" type="xs:int" use="required"/>'
         '<xs:attribute name="target-value" type="xs:string" use="required"/>'
         '</xs:complexType></xs:element></xs:sequence>'
         '<xs:attribute name="default-value" type="xs:string"/></xs:complexType></xs:element>'
         '<xs:element name="qti-interpolation-table"><xs:complexType>'
         '<xs:sequence><xs:element name="qti-interpolation-table-entry" maxOccurs="unbounded"><xs:complexType>'
         '<xs:attribute name="source-value" type="xs:double" use="required"/>'
         '<xs:attribute name="include-boundary" type="xs:boolean"/>'
         '<xs:attribute name="target-value" type="xs:string" use="required"/>'
         '</xs:complexType></xs:element></xs:sequence>'
         '<xs:attribute name="default-value" type="xs:string"/></xs:complexType></xs:element>'
         '</xs:choice>')}
    {_attrs("identifier", "cardinality", "base-type", "normal-maximum", "normal-minimum", "mastery-value",
            "external-scored", "view", "interpretation", "long-interpretation",
            required=("identifier", "cardinality"))}
  </xs:complexType></xs:element>
  <xs:element name="qti-template-declaration"><xs:complexType>
    {seq('<xs:element name="qti-default-value" type="q:values" minOccurs="0"/>')}
    {_attrs("identifier", "cardinality", "base-type", required=("identifier", "cardinality", "base-type"))}
    <xs:attribute name="param-variable" type="xs:boolean"/><xs:attribute name="math-variable" type="xs:boolean"/>
  </xs:complexType></xs:element>
  <xs:element name="qti-template-processing"><xs:complexType>
    <xs:group ref="q:template-rules" maxOccurs="unbounded"/>
  </xs:complexType></xs:element>
  <xs:group name="template-rules"><xs:choice><xs:element ref="q:qti-template-condition"/>
    <xs:element ref="q:qti-set-template-value"/><xs:element ref="q:qti-set-correct-response"/>
    <xs:element ref="q:qti-set-default-value"/><xs:element ref="q:qti-template-constraint"/>
    <xs:element ref="q:qti-exit-template"/></xs:choice></xs:group>
  <xs:complexType name="template-branch"><xs:sequence><xs:group ref="q:expression"/>
    <xs:group ref="q:template-rules" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
  <xs:element name="qti-template-condition"><xs:complexType><xs:sequence>
    <xs:element name="qti-template-if" type="q:template-branch"/>
    <xs:element name="qti-template-else-if" type="q:template-branch" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="qti-template-else" minOccurs="0"><xs:complexType>
      <xs:group ref="q:template-rules" minOccurs="0" maxOccurs="unbounded"/></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="qti-set-template-value"><xs:complexType><xs:group ref="q:expression"/>
    {_attrs("identifier", required=("identifier",))}</xs:complexType></xs:element>
  <xs:element name="qti-set-correct-response"><xs:complexType><xs:group ref="q:expression"/>
    {_attrs("identifier", required=("identifier",))}</xs:complexType></xs:element>
  <xs:element name="qti-set-default-value"><xs:complexType><xs:group ref="q:expression"/>
    {_attrs("identifier", required=("identifier",))}</xs:complexType></xs:element>
  <xs:element name="qti-template-constraint"><xs:complexType><xs:group ref="q:expression"/></xs:complexType></xs:element>
  <xs:element name="qti-exit-template"><xs:complexType/></xs:element>
  <xs:element name="qti-printed-variable"><xs:complexType>
    {_attrs("identifier", "base", "index", "delimiter", "field", "power-form", "mapping-indicator", *_COMMON, required=("identifier",))}
    <xs:attribute name="format" type="xs:string"/>
    <xs:anyAttribute namespace="http://www.w3.org/XML/1998/namespace" processContents="skip"/>
  </xs:complexType></xs:element>
  {_content_element("qti-template-block", "template-identifier", "identifier", "show-hide", required=("template-identifier", "identifier", "show-hide"))}
  {_content_element("qti-template-inline", "template-identifier", "identifier", "show-hide", required=("template-identifier", "identifier", "show-hide"))}
  <xs:element name="qti-assessment-stimulus-ref"><xs:complexType>{_attrs("identifier", "href", "title", required=("identifier", "href"))}</xs:complexType></xs:element>
  <xs:element name="qti-assessment-stimulus"><xs:complexType>
    {seq('<xs:element ref="q:qti-stylesheet" minOccurs="0" maxOccurs="unbounded"/>'
         '<xs:element name="qti-stimulus-body"><xs:complexType mixed="true"><xs:sequence>'
         '<xs:any namespace="##any" processContents="lax" minOccurs="0" maxOccurs="unbounded"/>'
         '</xs:sequence></xs:complexType></xs:element>')}
    {_attrs("identifier", "title", required=("identifier", "title"))}
    <xs:anyAttribute namespace="http://www.w3.org/XML/1998/namespace" processContents="skip"/>
  </xs:complexType></xs:element>
  <xs:element name="qti-stylesheet"><xs:complexType>{_attrs("href", "type", "media", "title", required=("href", "type"))}</xs:complexType></xs:element>
  <xs:element name="qti-item-body"><xs:complexType mixed="true">{_ANY}<xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>
  <xs:complexType name="html-content" mixed="true">{_ANY}</xs:complexType>
  <xs:complexType name="card-content"><xs:sequence>
    <xs:element name="qti-html-content" type="q:html-content" minOccurs="0"/>
    <xs:element name="qti-file-href" type="xs:anyURI" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType>
  <xs:element name="qti-catalog-info"><xs:complexType><xs:sequence>
    <xs:element name="qti-catalog" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="qti-card" maxOccurs="unbounded"><xs:complexType><xs:choice>
        <xs:sequence>
          <xs:element name="qti-html-content" type="q:html-content" minOccurs="0"/>
          <xs:element name="qti-file-href" type="xs:anyURI" minOccurs="0" maxOccurs="unbounded"/>
        </xs:sequence>
        <xs:element name="qti-card-entry" maxOccurs="unbounded"><xs:complexType><xs:complexContent>
          <xs:extension base="q:card-content"><xs:attribute name="default" type="xs:boolean"/>
          <xs:anyAttribute namespace="http://www.w3.org/XML/1998/namespace" processContents="skip"/></xs:extension>
        </xs:complexContent></xs:complexType></xs:element>
      </xs:choice><xs:attribute name="support" type="xs:NMTOKEN" use="required"/></xs:complexType></xs:element>
    </xs:sequence><xs:attribute name="id" type="xs:ID" use="required"/></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="qti-modal-feedback"><xs:complexType>
    <xs:sequence><xs:element ref="q:qti-content-body"/></xs:sequence>
    {_attrs("outcome-identifier", "identifier", "show-hide", "title", required=("outcome-identifier", "identifier", "show-hide"))}
  </xs:complexType></xs:element>
  {_content_element("qti-content-body")}
  {_content_element("qti-rubric-block", "use", "view", required=("use", "view"))}
  <xs:element name="qti-response-processing"><xs:complexType>
    <xs:group ref="q:rules" minOccurs="0" maxOccurs="unbounded"/>{_attrs("template", "template-location")}
  </xs:complexType></xs:element>
  <xs:group name="rules"><xs:choice><xs:element ref="q:qti-response-condition"/>
    <xs:element ref="q:qti-set-outcome-value"/><xs:element ref="q:qti-lookup-outcome-value"/>
    <xs:element ref="q:qti-exit-response"/></xs:choice></xs:group>
  <xs:complexType name="branch"><xs:sequence><xs:group ref="q:expression"/>
    <xs:group ref="q:rules" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>
  <xs:element name="qti-response-condition"><xs:complexType><xs:sequence>
    <xs:element name="qti-response-if" type="q:branch"/>
    <xs:element name="qti-response-else-if" type="q:branch" minOccurs="0" maxOccurs="unbounded"/>
    <xs:element name="qti-response-else" minOccurs="0"><xs:complexType>
      <xs:group ref="q:rules" minOccurs="0" maxOccurs="unbounded"/></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="qti-set-outcome-value"><xs:complexType><xs:group ref="q:expression"/>
    {_attrs("identifier", required=("identifier",))}</xs:complexType></xs:element>
  <xs:element name="qti-lookup-outcome-value"><xs:complexType><xs:group ref="q:expression"/>
    {_attrs("identifier", required=("identifier",))}</xs:complexType></xs:element>
  <xs:element name="qti-exit-response"><xs:complexType/></xs:element>
  {_expression_elements()}
  {_content_element("qti-prompt")}
  {_content_element("qti-simple-choice", "identifier", "fixed", "template-identifier", "show-hide", required=("identifier",))}
  {_content_element("qti-inline-choice", "identifier", "fixed", "template-identifier", "show-hide", required=("identifier",))}
  {_content_element("qti-simple-associable-choice", "identifier", "fixed", "match-max", "match-min", "template-identifier", "show-hide", required=("identifier", "match-max"))}
  {_content_element("qti-gap-text", "identifier", "fixed", "match-max", "match-min", "template-identifier", "show-hide", required=("identifier", "match-max"))}
  {_content_element("qti-gap-img", "identifier", "fixed", "match-max", "match-min", "object-label", "template-identifier", "show-hide", required=("identifier", "match-max"))}
  {_content_element("qti-hottext", "identifier", "template-identifier", "show-hide", required=("identifier",))}
  {_content_element("qti-hotspot-choice", "identifier", "shape", "coords", "hotspot-label", "template-identifier", "show-hide", required=("identifier", "shape", "coords"))}
  {_content_element("qti-associable-hotspot", "identifier", "shape", "coords", "hotspot-label", "match-max", "match-min", "template-identifier", "show-hide", required=("identifier", "shape", "coords", "match-max"))}
  <xs:element name="qti-gap"><xs:complexType>{_attrs("identifier", "required", *_COMMON, required=("identifier",))}</xs:complexType></xs:element>
  {_interaction("qti-choice-interaction", seq(_PROMPT + '<xs:element ref="q:qti-simple-choice" maxOccurs="unbounded"/>'),
                "shuffle", "max-choices", "min-choices", "orientation")}
  {_interaction("qti-order-interaction", seq(_PROMPT + '<xs:element ref="q:qti-simple-choice" maxOccurs="unbounded"/>'),
                "shuffle", "max-choices", "min-choices", "orientation")}
  {_interaction("qti-inline-choice-interaction", seq('<xs:element ref="q:qti-inline-choice" maxOccurs="unbounded"/>'),
                "shuffle", "required")}
  {_interaction("qti-associate-interaction", seq(_PROMPT + '<xs:element ref="q:qti-simple-associable-choice" maxOccurs="unbounded"/>'),
                "shuffle", "max-associations", "min-associations")}
  {_interaction("qti-match-interaction", seq(_PROMPT + '<xs:element name="qti-simple-match-set" minOccurs="2" maxOccurs="2">'
                '<xs:complexType><xs:sequence><xs:element ref="q:qti-simple-associable-choice" minOccurs="0" maxOccurs="unbounded"/>'
                '</xs:sequence></xs:complexType></xs:element>'), "shuffle", "max-associations", "min-associations")}
  {_interaction("qti-gap-match-interaction", '<xs:sequence><xs:any processContents="lax" maxOccurs="unbounded"/></xs:sequence>',
                "shuffle", "max-associations", "min-associations")}
  {_interaction("qti-hottext-interaction", '<xs:sequence><xs:any processContents="lax" maxOccurs="unbounded"/></xs:sequence>',
                "max-choices", "min-choices")}
  {_interaction("qti-hotspot-interaction", seq(_PROMPT + _GRAPHIC + '<xs:element ref="q:qti-hotspot-choice" maxOccurs="unbounded"/>'),
                "max-choices", "min-choices")}
  {_interaction("qti-select-point-interaction", seq(_PROMPT + _GRAPHIC), "max-choices", "min-choices")}
  {_interaction("qti-graphic-order-interaction", seq(_PROMPT + _GRAPHIC + '<xs:element ref="q:qti-hotspot-choice" maxOccurs="unbounded"/>'),
                "max-choices", "min-choices")}
  {_interaction("qti-graphic-associate-interaction", seq(_PROMPT + _GRAPHIC + '<xs:element ref="q:qti-associable-hotspot" maxOccurs="unbounded"/>'),
                "max-associations", "min-associations")}
  {_interaction("qti-graphic-gap-match-interaction", seq(_PROMPT + _GRAPHIC
                + '<xs:choice maxOccurs="unbounded"><xs:element ref="q:qti-gap-img"/><xs:element ref="q:qti-gap-text"/></xs:choice>'
                + '<xs:element ref="q:qti-associable-hotspot" maxOccurs="unbounded"/>'),
                "max-associations", "min-associations")}
  {_interaction("qti-drawing-interaction", seq(_PROMPT + _GRAPHIC))}
  {_interaction("qti-position-object-interaction", seq(_GRAPHIC), "center-point", "max-choices", "min-choices")}
  <xs:element name="qti-position-object-stage"><xs:complexType>{seq(_GRAPHIC + '<xs:element ref="q:qti-position-object-interaction" maxOccurs="unbounded"/>')}
    {_attrs(*_COMMON)}</xs:complexType></xs:element>
  {_interaction("qti-end-attempt-interaction", "", "title", "count-attempt")}
  <xs:element name="qti-media-interaction"><xs:complexType>{seq(_PROMPT + _MEDIA)}
    {_attrs("response-identifier", "autostart", "min-plays", "max-plays", "loop", *_COMMON, required=("response-identifier", "autostart"))}
  </xs:complexType></xs:element>
  {_interaction("qti-text-entry-interaction", "", "base", "string-identifier", "expected-length", "pattern-mask",
                "placeholder-text", "format")}
  {_interaction("qti-extended-text-interaction", seq(_PROMPT), "base", "string-identifier", "expected-length",
                "pattern-mask", "placeholder-text", "format", "max-strings", "min-strings", "expected-lines")}
  {_interaction("qti-upload-interaction", seq(_PROMPT), "type")}
  {_interaction("qti-slider-interaction", seq(_PROMPT), "lower-bound", "upper-bound", "step", "step-label",
                "orientation", "reverse")}
  <xs:element name="qti-portable-custom-interaction"><xs:complexType>{seq(
      '<xs:element name="qti-interaction-modules" minOccurs="0"><xs:complexType><xs:sequence>'
      '<xs:element name="qti-interaction-module" maxOccurs="unbounded"><xs:complexType>'
      '<xs:attribute name="id" type="xs:string" use="required"/>'
      '<xs:attribute name="primary-path" type="xs:string"/><xs:attribute name="fallback-path" type="xs:string"/>'
      '</xs:complexType></xs:element></xs:sequence>'
      '<xs:attribute name="primary-configuration" type="xs:string"/><xs:attribute name="fallback-configuration" type="xs:string"/>'
      '</xs:complexType></xs:element>'
      '<xs:element name="qti-context-variable" minOccurs="0" maxOccurs="unbounded"><xs:complexType>'
      '<xs:attribute name="identifier" type="q:identifier" use="required"/>'
      '<xs:attribute name="pci-identifier" type="xs:string"/></xs:complexType></xs:element>'
      '<xs:element name="qti-template-variable" minOccurs="0" maxOccurs="unbounded"><xs:complexType>'
      '<xs:attribute name="template-identifier" type="q:identifier" use="required"/>'
      '<xs:attribute name="pci-identifier" type="xs:string"/></xs:complexType></xs:element>'
      '<xs:element ref="q:qti-stylesheet" minOccurs="0" maxOccurs="unbounded"/>'
      '<xs:element name="qti-interaction-markup"><xs:complexType mixed="true"><xs:sequence>'
      '<xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>')}
    <xs:attribute name="response-identifier" type="q:identifier" use="required"/>
    <xs:attribute name="custom-interaction-type-identifier" type="xs:string" use="required"/>
    <xs:attribute name="module" type="xs:string"/>
    <!-- data-* attributes are the PCI's configuration (XSD 1.0 cannot name a prefix). -->
    <xs:anyAttribute processContents="skip"/>
  </xs:complexType></xs:element>
</xs:schema>"""  # fmt: skip


SCHEMA = etree.XMLSchema(etree.fromstring(_schema().encode()))
_LAX_CONTENT = {
    "qti-gap-match-interaction": ("qti-prompt", "qti-gap-text", "qti-gap-img"),
    "qti-hottext-interaction": ("qti-prompt",),
}


def check_qti3(document: bytes) -> None:
    """Validate a written item (or shared stimulus): the whole document, then every
    interaction on its own (the schema cannot see into XHTML), then the order of the lax
    content models. A stimulus's body holds no interaction."""
    root = etree.fromstring(document)
    assert root.nsmap.get(None) == QTI3
    SCHEMA.assertValid(root)
    if etree.QName(root).localname == "qti-assessment-stimulus":
        assert not any(
            isinstance(e.tag, str) and etree.QName(e).localname.endswith("-interaction")
            for e in root.iter()
        )
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if local in SUPPORTED_INTERACTIONS or local in ("qti-hottext", "qti-gap", "qti-prompt"):
            SCHEMA.assertValid(etree.fromstring(etree.tostring(element, with_tail=False)))
        if local in _LAX_CONTENT:
            names = [etree.QName(c).localname for c in element if isinstance(c.tag, str)]
            leading = [n for n in names if n in _LAX_CONTENT[local]]
            assert names[: len(leading)] == leading, names  # prompt and options come first
            if "qti-prompt" in names:
                assert names.index("qti-prompt") == 0
        assert not local.startswith("qti-") or "_" not in local

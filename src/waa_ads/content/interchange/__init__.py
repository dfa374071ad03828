"""Item formats in and out: QTI 2.x/3.0 XML, IMS content packages, the native YAML/JSON.

Everything here turns bytes into :class:`~waa_ads.content.item.definition.ItemDefinition`
values and back, refusing hostile or malformed input with an ``ItemFormatError`` or
``PackageError``; storing what was read is the bank service's work (``content.transfer``).
"""

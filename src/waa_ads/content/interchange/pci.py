"""Portable custom interactions (PCI, QTI 3.0 ``qti-portable-custom-interaction``).

A PCI is code the item brings: AMD modules (JavaScript) that register with
``qtiCustomInteractionContext`` and draw the interaction themselves. The bank reads what it
needs to run one (:class:`~waa_ads.content.item.definition.PortableCustom`), keeps its
module files as the item's media (they must come from the package), and the candidate's
player runs it in a sandboxed frame (docs/player.md, "Portable custom interactions").

This module holds what is not XML reading: where a module's files are, checking a module
file and reading a module configuration file (``primary-configuration``,
``fallback-configuration``: RequireJS ``paths`` in JSON). The player turns a PCI's
response (QTI's JSON binding) into the bank's response shape (static/interaction-pci.js).
"""

from __future__ import annotations

import json
import posixpath
from urllib.parse import unquote, urlsplit

from waa_ads.content.item.definition import PciModule
from waa_ads.content.media.check import MediaCheck, UnrecognizedMedia, content_address

#: The type module files are stored and served as.
MODULE_TYPE = "text/javascript"
#: The type module configuration files written in JSON (``.json``) are stored as; one
#: named ``.js`` is stored as a module file is. The frame never loads either.
CONFIGURATION_TYPE = "application/json"
#: The type a PCI's own style sheets (``.css``) are stored and served as.
STYLESHEET_TYPE = "text/css"
#: Largest module file accepted (and module configuration, and style sheet).
MAX_MODULE_BYTES = 2 * 1024 * 1024


def module_paths(module: PciModule) -> list[str]:
    """The paths a module may be found at, primary first (as written in the item)."""
    return [p for p in (module.primary_path, module.fallback_path) if p]


def is_outside(path: str) -> bool:
    """Whether a module path points outside the package (a URL, an absolute path)."""
    parts = urlsplit(path)
    return bool(parts.scheme or parts.netloc or path.startswith(("/", "\\")))


def candidates_for(path: str) -> list[str]:
    """The file names a module path may stand for: itself and, written without an
    extension as AMD paths often are, with ``.js`` added."""
    clean = unquote(urlsplit(path).path)
    if posixpath.splitext(clean)[1].lower() == ".js":
        return [clean]
    return [clean, clean + ".js"]


def check_module(data: bytes, *, filename: str) -> MediaCheck:
    """Check a module file: not empty, not too large, UTF-8 text. Raises
    :class:`~waa_ads.content.media.check.UnrecognizedMedia` naming the file."""
    if not data:
        raise UnrecognizedMedia(f"PCI module file {filename!r} is empty")
    if len(data) > MAX_MODULE_BYTES:
        raise UnrecognizedMedia(
            f"PCI module file {filename!r} is larger than {MAX_MODULE_BYTES // 1024 // 1024} MiB"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnrecognizedMedia(f"PCI module file {filename!r} is not UTF-8 text") from None
    return MediaCheck(sha256=content_address(data), size=len(data), content_type=MODULE_TYPE)


def is_module_file(name: str) -> bool:
    """Whether a stored file of an item is checked as a PCI file (a module, a module
    configuration, a style sheet) rather than as media: ``.js``, ``.json`` and ``.css``."""
    return name.lower().endswith((".js", ".json", ".css"))


def check_file(data: bytes, *, filename: str) -> MediaCheck:
    """Check a PCI file by its name: a ``.json`` module configuration (valid, see
    :func:`configuration_paths`), a ``.css`` style sheet (UTF-8 text) or a module file."""
    if filename.lower().endswith(".css"):
        check = check_module(data, filename=filename)
        return MediaCheck(sha256=check.sha256, size=check.size, content_type=STYLESHEET_TYPE)
    if filename.lower().endswith(".json"):
        configuration_paths(data, filename=filename)
        check = check_module(data, filename=filename)
        return MediaCheck(sha256=check.sha256, size=check.size, content_type=CONFIGURATION_TYPE)
    return check_module(data, filename=filename)


def configuration_paths(data: bytes, *, filename: str) -> dict[str, str]:
    """The ``paths`` of a module configuration file (``{"paths": {"id": "path"}}``, as
    RequireJS writes it; other keys such as ``waitSeconds`` are ignored): module id ->
    path, as written. Raises :class:`~waa_ads.content.media.check.UnrecognizedMedia`
    naming the file when it is not such JSON."""
    check_module(data, filename=filename)
    try:
        config = json.loads(data.decode("utf-8"))
    except ValueError:
        raise UnrecognizedMedia(
            f"PCI module configuration {filename!r} is not JSON "
            '({"paths": {"module id": "path"}})'
        ) from None
    paths = config.get("paths") if isinstance(config, dict) else None
    if not isinstance(paths, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in paths.items()
    ):
        raise UnrecognizedMedia(
            f'PCI module configuration {filename!r} has no "paths" object mapping module '
            "ids to paths"
        )
    return {str(k): str(v) for k, v in paths.items()}

"""Offline validation of Digital Calibration Certificates against the shipped DCC 3.3.0 schema.

The official schema files live in ``schemas/`` inside this package (see its README). Their
``xs:import`` locations point at ptb.de; a resolver maps those URLs to the local copies and
the parser refuses the network, so validation never depends on a web site and a missing file
is an error, not a download.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from labctl.errors import IntegrityError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

#: The import locations written in dcc.xsd / SI_Format.xsd, mapped to the shipped files.
_LOCAL_IMPORTS: dict[str, Path] = {
    "https://ptb.de/si/v2.2.1/SI_Format.xsd": SCHEMA_DIR / "SI_Format.xsd",
    "https://www.ptb.de/si/v2.2.1/SI_Format.xsd": SCHEMA_DIR / "SI_Format.xsd",
    "https://www.ptb.de/si/v2.2.1/qudt/quantitykind.xsd": SCHEMA_DIR / "qudt" / "quantitykind.xsd",
    "https://ptb.de/si/v2.2.1/qudt/quantitykind.xsd": SCHEMA_DIR / "qudt" / "quantitykind.xsd",
    "https://www.ptb.de/dcc/d-sig/xmldsig-core-schema.xsd": SCHEMA_DIR / "xmldsig-core-schema.xsd",
    "https://ptb.de/dcc/d-sig/xmldsig-core-schema.xsd": SCHEMA_DIR / "xmldsig-core-schema.xsd",
}

#: How many schema messages an IntegrityError quotes (the full list is on ``.errors``).
_MAX_QUOTED = 10

# lxml's XMLSchema objects are not documented as thread-safe for concurrent validate() calls
# (the error log is per object), and the API server validates from a thread pool.
_validate_lock = threading.Lock()


class _LocalImports(etree.Resolver):  # type: ignore[misc]  # lxml ships no stubs here
    """Resolve the schema imports to the package copies; anything else stays unresolved."""

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        path = _LOCAL_IMPORTS.get(system_url)
        return self.resolve_filename(str(path), context) if path is not None else None


def secure_parser() -> etree.XMLParser:
    """An lxml parser for untrusted certificate XML: no network, no entities, no DTD loading."""
    return etree.XMLParser(
        no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False,
        remove_blank_text=False,
    )


_compile_lock = threading.Lock()
_compiled: list[etree.XMLSchema] = []


def dcc_schema() -> etree.XMLSchema:
    """The compiled DCC 3.3.0 schema (built once per process, ~0.2 s, offline).

    Compiling while other threads start using lxml fails now and then ("The QName value ...
    does not resolve to a type definition": the imports go through lxml's resolver, and
    other threads' first parses disturb it) -- the first issues through a freshly started
    API worker answered 500 (in 1 of 4 benchmark runs; in 2 of 6 fresh interpreters where
    four threads validated at once). So the API server compiles it at start-up, before it
    serves (``labctl.api``), and a compile here takes a lock.
    """
    if not _compiled:
        with _compile_lock:
            if not _compiled:
                parser = etree.XMLParser(no_network=True, resolve_entities=False)
                parser.resolvers.add(_LocalImports())
                _compiled.append(etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "dcc.xsd"),
                                                             parser)))
    return _compiled[0]


class DccSchemaError(IntegrityError):
    """A DCC does not conform to the DCC 3.3.0 schema.

    ``errors`` holds every schema message as ``(line, element path, message)``.
    """

    def __init__(self, errors: list[tuple[int, str, str]]) -> None:
        self.errors = errors
        quoted = "; ".join(f"line {line}, {path}: {msg}"
                           for line, path, msg in errors[:_MAX_QUOTED])
        more = f" (and {len(errors) - _MAX_QUOTED} more)" if len(errors) > _MAX_QUOTED else ""
        super().__init__(f"DCC is not valid against DCC 3.3.0 schema: {quoted}{more}")


def parse_untrusted(xml: bytes) -> etree._Element:
    """Parse certificate XML from outside: well-formed, and no DOCTYPE at all.

    A DCC never needs a DTD; refusing one rules out entity expansion and external entity
    tricks instead of relying on each parser's settings.
    """
    try:
        root = etree.fromstring(xml, secure_parser())
    except etree.XMLSyntaxError as exc:
        raise DccSchemaError([(exc.lineno or 0, "(document)", f"not well-formed XML: {exc.msg}")]
                             ) from None
    if root.getroottree().docinfo.doctype:
        raise DccSchemaError([(1, "(document)", "a DOCTYPE declaration is not allowed in a DCC")])
    return root


def validate_dcc(xml: bytes) -> None:
    """Check ``xml`` against the DCC 3.3.0 / D-SI 2.2.1 schema; return quietly when valid.

    Raises :class:`DccSchemaError` (an :class:`~labctl.errors.IntegrityError`) quoting the
    schema's messages with line and element, or when ``xml`` is not well-formed XML or
    carries a DOCTYPE.
    """
    validate_dcc_tree(parse_untrusted(xml))


def validate_dcc_tree(tree: etree._Element) -> None:
    """:func:`validate_dcc` for a document already in memory (built here, or parsed with
    :func:`parse_untrusted`)."""
    schema = dcc_schema()
    with _validate_lock:
        try:
            if schema.validate(tree):
                return
        except etree.XMLSchemaValidateError as exc:  # libxml2 gave up on the document
            raise DccSchemaError([(0, "(document)", f"schema validation failed: {exc}")]
                                 ) from None
        errors = [(e.line, e.path or "", e.message) for e in schema.error_log]
    raise DccSchemaError(errors)

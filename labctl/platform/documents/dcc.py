"""PTB Digital Calibration Certificate (DCC 3.3.0, D-SI 2.2.1) built from a CertificateDocument.

The XML is generated with lxml from the typed model, in the element order the schema fixes,
and validated against the shipped schema before it is returned. Structure chosen:

* ``administrativeData``: software, core data (number, dates, amendment), item,
  laboratory, responsible persons, customer and the statements (ISO/IEC 17025 7.8.4.3
  remark, place, traceability, decision rule and overall conformity, remarks, amendment).
* ``measurementResults/measurementResult``: the method and the GUM/ILAC-P14 uncertainty
  statement, one ``measuringEquipment`` per standard (its calibration certificate as an
  identification), one ``influenceCondition`` per environmental quantity (min, max, mean)
  and one ``result`` per results table. A table is a ``dcc:list`` of points; each point is a
  ``dcc:list`` of four ``dcc:quantity`` holding ``si:real``: nominal, reference value,
  indicated value and error. The error carries the expanded uncertainty (U, k, p) and, when
  a specification applies, ``basic_conformity`` metadata with its limits; when posted, its
  effective degrees of freedom and its uncertainty budget (labctl metadata, one list per
  input quantity; an estimate with a known unit as ``si:real`` with ``si:standardMU``).

Values are written with exactly the digits of the model's Decimals, so the PDF and the DCC
state the same numbers.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import metadata
from typing import Literal

from lxml import etree

from labctl.errors import ValidationError
from labctl.platform.documents._format import (
    dcc_conformity,
    dsi_unit,
    plain,
    stated_dof,
    worst_verdict,
)
from labctl.platform.documents.checks import check_document
from labctl.platform.documents.model import (
    CertificateDocument,
    Condition,
    Party,
    ResultPoint,
    ResultTable,
    StandardUsed,
)
from labctl.platform.documents.schema import validate_dcc

DCC_NS = "https://ptb.de/dcc"
SI_NS = "https://ptb.de/si"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"dcc": DCC_NS, "si": SI_NS, "xsi": XSI_NS}
SCHEMA_VERSION = "3.3.0"
SCHEMA_LOCATION = "https://ptb.de/dcc https://ptb.de/dcc/v3.3.0/dcc.xsd"

#: The ILAC-P14:09/2020 sentence on the expanded uncertainty, also printed on the PDF.
UNCERTAINTY_STATEMENT = (
    "The reported expanded uncertainty of measurement is stated as the standard uncertainty "
    "of measurement multiplied by the coverage factor k such that the coverage probability "
    "corresponds to approximately 95 %. The standard uncertainty of measurement has been "
    "determined in accordance with the Guide to the Expression of Uncertainty in Measurement "
    "(GUM, JCGM 100:2008)."
)

#: ISO/IEC 17025:2017 7.8.2.1 remark stated on every certificate.
VALIDITY_STATEMENT = (
    "The results relate only to the item calibrated and are valid at the time of calibration. "
    "This certificate shall not be reproduced except in full without the written approval of "
    "the calibration laboratory."
)

#: refType stems for the environmental quantities labctl records. ``basic_`` tags are PTB's
#: (as used in its examples: ``…Min``/``…Max``); the rest are labctl's own, declared in
#: ``refTypeDefinitions`` rather than passed off as PTB vocabulary.
_CONDITION_REFTYPES: dict[str, str] = {
    "temperature": "basic_temperature",
    "relative humidity": "basic_humidityRelative",
    "humidity": "basic_humidityRelative",
    "pressure": "labctl_pressureAmbient",
    "air pressure": "labctl_pressureAmbient",
}

#: labctl's refType tags, with what they mean (written into refTypeDefinitions when used).
LABCTL_REFTYPES: dict[str, str] = {
    "labctl_procedure": "the laboratory's calibration procedure (id, version, description)",
    "labctl_performanceLocation": "free-text place where the calibration was performed",
    "labctl_traceability": "metrological traceability statement (ISO/IEC 17025 7.8.4.1 f)",
    "labctl_remark": "remark or opinion of the laboratory",
    "labctl_amendment": "what this revision replaces and why (ISO/IEC 17025 7.8.8)",
    "labctl_calibrationTable": "a results table: one list per calibration point",
    "labctl_calibrationPoint": "one calibration point: nominal, reference, indicated value, "
                               "error with U, and conformity",
    "labctl_effectiveDegreesOfFreedom": "effective degrees of freedom of the error's "
                                        "expanded uncertainty (Welch–Satterthwaite)",
    "labctl_uncertaintyBudget": "the uncertainty budget of a point's error (GUM 8): one list "
                                "per input quantity",
    "labctl_budgetLine": "one input quantity of an uncertainty budget",
    "labctl_budgetEstimate": "an input quantity's estimate, standard uncertainty and "
                             "distribution",
    "labctl_budgetSensitivity": "an input quantity's sensitivity coefficient",
    "labctl_budgetContribution": "an input quantity's contribution |c·u| to the standard "
                                 "uncertainty of the result, in the result's unit",
    "labctl_budgetDegreesOfFreedom": "an input quantity's degrees of freedom",
    "labctl_pressureAmbient": "ambient air pressure during the calibration",
    "labctl_pressureAmbientMin": "minimum ambient air pressure",
    "labctl_pressureAmbientMax": "maximum ambient air pressure",
    "labctl_pressureAmbientMean": "mean ambient air pressure",
    "labctl_temperatureMean": "mean ambient temperature",
    "labctl_humidityRelativeMean": "mean relative humidity",
    "labctl_condition": "another influence condition",
    "labctl_conditionMin": "minimum of another influence condition",
    "labctl_conditionMax": "maximum of another influence condition",
    "labctl_conditionMean": "mean of another influence condition",
}
LABCTL_REFTYPE_NAMESPACE = "labctl"
LABCTL_REFTYPE_LINK = "urn:labctl:refType"

UncertaintyForm = Literal["expandedUnc", "expandedMU"]


def _d(tag: str) -> str:
    return f"{{{DCC_NS}}}{tag}"


def _s(tag: str) -> str:
    return f"{{{SI_NS}}}{tag}"


@cache
def labctl_release() -> str:
    """labctl's version as a DCC software release string (``v0.1.0``; PTB wants a letter first)."""
    try:
        return "v" + metadata.version("labctl")
    except metadata.PackageNotFoundError:  # running from a source tree without installation
        return "v0.0.0+source"


class _Builder:
    """Stateful helper: knows the document's language for the texts it writes."""

    def __init__(self, doc: CertificateDocument, uncertainty_form: UncertaintyForm) -> None:
        self.doc = doc
        self.lang = doc.language
        self.form = uncertainty_form
        self.used_ref_types: set[str] = set()

    # --- small building blocks ------------------------------------------------------------

    def el(self, parent: etree._Element, tag: str, text: str | None = None,
           **attrs: str) -> etree._Element:
        node = etree.SubElement(parent, _d(tag), attrs)
        ref_type = attrs.get("refType")
        if ref_type:
            self.used_ref_types.update(t for t in ref_type.split() if t.startswith("labctl_"))
        if text is not None:
            node.text = text
        return node

    def text(self, parent: etree._Element, tag: str, content: str, *, fixed_en: bool = False,
             **attrs: str) -> etree._Element:
        """A ``textType``/``richContentType``: one ``content`` tagged with its language.

        ``fixed_en`` marks labctl's own English labels; everything else comes from the
        document and is in the document's language.
        """
        node = self.el(parent, tag, **attrs)
        self.el(node, "content", " ".join(content.split()), lang="en" if fixed_en else self.lang)
        return node

    def lines(self, parent: etree._Element, tag: str, lines: list[str]) -> etree._Element:
        node = self.el(parent, tag)
        for line in lines:
            self.el(node, "content", " ".join(line.split()), lang=self.lang)
        return node

    def identification(self, parent: etree._Element, issuer: str, value: str, name: str) -> None:
        ident = self.el(parent, "identification")
        self.el(ident, "issuer", issuer)
        self.el(ident, "value", " ".join(value.split()))
        self.text(ident, "name", name, fixed_en=True)

    def real(self, parent: etree._Element, value: Decimal, unit: str, *, field: str,
             uncertainty: tuple[Decimal, Decimal, Decimal] | None = None) -> etree._Element:
        """``si:real`` with an optional expanded uncertainty ``(U, k, p)``."""
        real = etree.SubElement(parent, _s("real"))
        etree.SubElement(real, _s("value")).text = plain(value, field=field)
        etree.SubElement(real, _s("unit")).text = dsi_unit(unit, field=f"{field}.unit")
        if uncertainty is not None:
            U, k, p = uncertainty
            if self.form == "expandedMU":
                mu = etree.SubElement(real, _s("measurementUncertaintyUnivariate"))
                exp = etree.SubElement(mu, _s("expandedMU"))
                etree.SubElement(exp, _s("valueExpandedMU")).text = plain(U, field=f"{field}.U")
            else:
                exp = etree.SubElement(real, _s("expandedUnc"))
                etree.SubElement(exp, _s("uncertainty")).text = plain(U, field=f"{field}.U")
            etree.SubElement(exp, _s("coverageFactor")).text = plain(k, field=f"{field}.k")
            etree.SubElement(exp, _s("coverageProbability")).text = plain(p, field=f"{field}.p")
            etree.SubElement(exp, _s("distribution")).text = "normal"
        return real

    def quantity(self, parent: etree._Element, name: str, value: Decimal, unit: str, *,
                 ref_type: str, field: str,
                 uncertainty: tuple[Decimal, Decimal, Decimal] | None = None) -> etree._Element:
        q = self.el(parent, "quantity", refType=ref_type)
        self.text(q, "name", name, fixed_en=True)
        self.real(q, value, unit, field=field, uncertainty=uncertainty)
        return q

    def contact(self, parent: etree._Element, tag: str, party: Party) -> etree._Element:
        """A ``contactType``: name, e-mail, and the address as free lines plus the country."""
        node = self.el(parent, tag)
        self.text(node, "name", party.name)
        if party.email.strip():
            self.el(node, "eMail", party.email.strip())
        location = self.el(node, "location")
        address = [line.strip() for line in party.address.splitlines() if line.strip()]
        if address:
            # The model keeps postal addresses unstructured; guessing street/city from lines
            # would be wrong for half the world, so they go verbatim into ``further``.
            self.lines(location, "further", address)
        if party.country_code:
            self.el(location, "countryCode", party.country_code)
        if not address and not party.country_code:
            self.text(location, "further", "address not stated", fixed_en=True)
        return node

    # --- administrativeData ---------------------------------------------------------------

    def administrative(self, root: etree._Element) -> None:
        doc = self.doc
        adm = self.el(root, "administrativeData")
        software = self.el(self.el(adm, "dccSoftware"), "software")
        self.text(software, "name", "labctl", fixed_en=True)
        self.el(software, "release", labctl_release())
        self.el(software, "type", "application")

        core = self.el(adm, "coreData")
        self.el(core, "countryCodeISO3166_1", doc.laboratory.country_code)
        for lang in sorted({"en", self.lang}):
            self.el(core, "usedLangCodeISO639_1", lang)
        self.el(core, "mandatoryLangCodeISO639_1", self.lang)
        self.el(core, "uniqueIdentifier", document_identifier(doc))
        idents = self.el(core, "identifications")
        self.identification(idents, "calibrationLaboratory", doc.number, "Certificate number")
        self.identification(idents, "calibrationLaboratory", str(doc.revision), "Revision")
        if doc.customer.identifier.strip():
            self.identification(idents, "customer", doc.customer.identifier, "Customer number")
        for key, value in doc.extra.items():
            if key.strip() and value.strip():
                self.identification(idents, "other", value, key)
        if doc.receipt_date is not None:
            self.el(core, "receiptDate", doc.receipt_date.isoformat())
        self.el(core, "beginPerformanceDate", _date(doc.calibration_begin).isoformat())
        self.el(core, "endPerformanceDate", _date(doc.calibration_end).isoformat())
        self.el(core, "performanceLocation", doc.performance_location)
        self.el(core, "issueDate", doc.issue_date.isoformat())
        if doc.revision > 0 and doc.replaces:
            amended = self.el(core, "reportAmendedSubstituted")
            self.el(amended, "typeOfChange", "amended")
            self.el(amended, "replacedUniqueIdentifier", " ".join(doc.replaces.split()))

        items = self.el(adm, "items")
        item = self.el(items, "item")
        self.text(item, "name", doc.item.description)
        if doc.item.condition_on_receipt.strip():
            desc = self.el(item, "description")
            self.text(desc, "name", "Condition on receipt", fixed_en=True)
            self.el(desc, "content", " ".join(doc.item.condition_on_receipt.split()),
                    lang=self.lang)
        if doc.item.manufacturer.strip():
            self.text(self.el(item, "manufacturer"), "name", doc.item.manufacturer)
        if doc.item.model.strip():
            self.el(item, "model", " ".join(doc.item.model.split()))
        item_ids = self.el(item, "identifications")
        self.identification(item_ids, "manufacturer", doc.item.serial_number, "Serial number")
        if doc.item.identifier.strip():
            self.identification(item_ids, "customer", doc.item.identifier, "Asset number")

        lab = self.el(adm, "calibrationLaboratory")
        if doc.laboratory.identifier.strip():
            self.el(lab, "calibrationLaboratoryCode", " ".join(doc.laboratory.identifier.split()))
        self.contact(lab, "contact", doc.laboratory)
        # labctl seals every DCC with the laboratory's key (signing.sign_dcc), an electronic
        # seal of the organisation rather than a personal signature.
        self.el(lab, "cryptElectronicSeal", "true")

        persons = self.el(adm, "respPersons")
        signatories = doc.signatories or ()
        main = _main_signer(doc)
        for signatory in signatories:
            rp = self.el(persons, "respPerson")
            self.text(self.el(rp, "person"), "name", signatory.name)
            if signatory.signed_at is not None:
                self.text(rp, "description",
                          f"{signatory.role}, signed {_iso_utc(signatory.signed_at)}",
                          fixed_en=True)
            self.el(rp, "role", " ".join(signatory.role.split()))
            if signatory is main:
                self.el(rp, "mainSigner", "true")
        if not signatories:
            # respPersons needs one entry; an unsigned draft names the laboratory instead.
            rp = self.el(persons, "respPerson")
            self.text(self.el(rp, "person"), "name", doc.laboratory.name)
            self.el(rp, "role", "issuing laboratory")

        self.contact(adm, "customer", doc.customer)
        self.statements(adm)

    def statements(self, adm: etree._Element) -> None:
        doc = self.doc
        statements = self.el(adm, "statements")

        st = self.el(statements, "statement")
        self.el(st, "norm", "ISO/IEC 17025:2017")
        self.el(st, "reference", "7.8.2.1")
        self.text(st, "declaration", VALIDITY_STATEMENT, fixed_en=True)

        st = self.el(statements, "statement", refType="labctl_performanceLocation")
        self.text(st, "declaration", f"Place of calibration: {doc.location}")

        st = self.el(statements, "statement", refType="labctl_traceability")
        self.el(st, "traceable", "true")
        self.text(st, "declaration", doc.traceability_statement)

        verdicts = [dcc_conformity(p.conformity, field="conformity")
                    for table in doc.results for p in table.points if p.conformity is not None]
        overall = worst_verdict(verdicts)
        if overall is not None:
            st = self.el(statements, "statement", refType="basic_conformity")
            self.el(st, "norm", "ILAC-G8:09/2019")
            self.text(st, "declaration", doc.decision_rule or
                      "Statement of conformity per point, see the results.", fixed_en=False)
            self.el(st, "conformity", overall)

        for remark in doc.statements:
            if remark.strip():
                st = self.el(statements, "statement", refType="labctl_remark")
                self.text(st, "declaration", remark)

        if doc.revision > 0:
            st = self.el(statements, "statement", refType="labctl_amendment")
            self.text(st, "declaration",
                      f"This certificate replaces {doc.replaces} because: {doc.amendment_reason}")

    # --- measurementResults ---------------------------------------------------------------

    def results(self, root: etree._Element) -> None:
        doc = self.doc
        mrs = self.el(root, "measurementResults")
        mr = self.el(mrs, "measurementResult")
        self.text(mr, "name", doc.title)

        methods = self.el(mr, "usedMethods")
        m = self.el(methods, "usedMethod", refType="labctl_procedure")
        self.text(m, "name", doc.method)
        m = self.el(methods, "usedMethod", refType="basic_uncertainty")
        self.text(m, "name", "Expanded measurement uncertainty", fixed_en=True)
        self.text(m, "description", UNCERTAINTY_STATEMENT, fixed_en=True)
        self.el(m, "norm", "JCGM 100:2008")
        self.el(m, "norm", "ILAC-P14:09/2020")

        if doc.standards:
            equipments = self.el(mr, "measuringEquipments")
            for std in doc.standards:
                self.standard(equipments, std)
        if doc.conditions:
            conditions = self.el(mr, "influenceConditions")
            for c, cond in enumerate(doc.conditions):
                self.condition(conditions, cond, f"conditions[{c}]")

        results = self.el(mr, "results")
        for t, table in enumerate(doc.results):
            self.table(results, table, t)

    def standard(self, parent: etree._Element, std: StandardUsed) -> None:
        eq = self.el(parent, "measuringEquipment", refType="basic_normalUsed")
        self.text(eq, "name", std.description)
        if std.calibration_date or std.due_date:
            parts = []
            if std.calibration_date:
                parts.append(f"calibrated {std.calibration_date.isoformat()}")
            if std.due_date:
                parts.append(f"due {std.due_date.isoformat()}")
            self.text(eq, "description", ", ".join(parts), fixed_en=True)
        if std.manufacturer.strip():
            self.text(self.el(eq, "manufacturer"), "name", std.manufacturer)
        if std.model.strip():
            self.el(eq, "model", " ".join(std.model.split()))
        ids = self.el(eq, "identifications")
        if std.serial_number.strip():
            self.identification(ids, "manufacturer", std.serial_number, "Serial number")
        if std.identifier.strip():
            self.identification(ids, "calibrationLaboratory", std.identifier, "Equipment id")
        # The standard's own certificate: dcc:certificate (hashType) would need a hash of that
        # document, which the register does not hold, so it is stated as an identification.
        issuer = f" ({std.certificate_issuer})" if std.certificate_issuer.strip() else ""
        self.identification(ids, "other", f"{std.certificate_number}{issuer}",
                            "Calibration certificate")

    def condition(self, parent: etree._Element, cond: Condition, field: str) -> None:
        key = " ".join(cond.quantity.lower().split())
        ref = _CONDITION_REFTYPES.get(key)
        attrs = {"refType": ref} if ref else {}
        ic = self.el(parent, "influenceCondition", **attrs)
        self.text(ic, "name", cond.quantity)
        data = self.el(ic, "data")
        stem = ref or "labctl_condition"
        U = None
        if cond.uncertainty is not None:
            # The model states the monitoring sensor's U at k = 2 (about 95 %).
            U = (cond.uncertainty, Decimal(2), Decimal("0.95"))
        self.quantity(data, f"{cond.quantity} minimum", cond.minimum, cond.unit,
                      ref_type=f"{stem}Min", field=f"{field}.minimum")
        self.quantity(data, f"{cond.quantity} maximum", cond.maximum, cond.unit,
                      ref_type=f"{stem}Max", field=f"{field}.maximum")
        # PTB's vocabulary has min and max tags; the mean is labctl's.
        mean_tag = "labctl_" + stem.split("_", 1)[1] + "Mean"
        self.quantity(data, f"{cond.quantity} mean", cond.mean, cond.unit,
                      ref_type=mean_tag, field=f"{field}.mean", uncertainty=U)

    def table(self, parent: etree._Element, table: ResultTable, t: int) -> None:
        result = self.el(parent, "result")
        self.text(result, "name", table.title)
        if table.note.strip():
            self.text(result, "description", table.note)
        data = self.el(result, "data")
        rows = self.el(data, "list", refType="labctl_calibrationTable")
        for i, point in enumerate(table.points):
            self.point(rows, point, f"results[{t}].points[{i}]", i + 1)

    def point(self, parent: etree._Element, p: ResultPoint, field: str, n: int) -> None:
        row = self.el(parent, "list", refType="labctl_calibrationPoint")
        label = f"Point {n}" + (f", {p.range_label}" if p.range_label.strip() else "")
        self.text(row, "name", label, fixed_en=True)
        self.quantity(row, f"{p.quantity}, nominal value", p.nominal, p.unit,
                      ref_type="basic_calibrationValue", field=f"{field}.nominal")
        self.quantity(row, f"{p.quantity}, reference value", p.reference_value, p.unit,
                      ref_type="basic_referenceValue", field=f"{field}.reference_value")
        self.quantity(row, f"{p.quantity}, indicated value", p.measured_value, p.unit,
                      ref_type="basic_measuredValue", field=f"{field}.measured_value")
        err = self.quantity(
            row, "Measurement error", p.error, p.unit, ref_type="basic_measurementError",
            field=f"{field}.error",
            uncertainty=(p.expanded_uncertainty, p.coverage_factor, p.coverage_probability))
        stated = not (p.conformity is None and p.lower_limit is None and p.upper_limit is None)
        if not stated and p.dof is None and not p.budget:
            return
        metas = self.el(err, "measurementMetaData")
        if stated:
            self.conformity(metas, p, field)
        if p.dof is not None or p.budget:  # a point with a budget states its dof, ∞ too
            self.dof(metas, p.dof, field)
        if p.budget:
            self.budget(metas, p, field)

    def conformity(self, metas: etree._Element, p: ResultPoint, field: str) -> None:
        meta = self.el(metas, "metaData", refType="basic_conformity")
        # The decision rule itself is stated once, in administrativeData/statements.
        self.text(meta, "declaration", "Conformity of the error with the acceptance limits",
                  fixed_en=True)
        if p.conformity is not None:
            self.el(meta, "conformity", dcc_conformity(p.conformity, field=f"{field}.conformity"))
        if p.lower_limit is not None or p.upper_limit is not None:
            limits = self.el(meta, "data")
            if p.lower_limit is not None:
                self.quantity(limits, "Lower acceptance limit", p.lower_limit, p.unit,
                              ref_type="basic_acceptanceLimitLower", field=f"{field}.lower_limit")
            if p.upper_limit is not None:
                self.quantity(limits, "Upper acceptance limit", p.upper_limit, p.unit,
                              ref_type="basic_acceptanceLimitUpper", field=f"{field}.upper_limit")

    def dof(self, metas: etree._Element, dof: Decimal | None, field: str) -> None:
        """The effective degrees of freedom of the error's U (``None``: infinite)."""
        meta = self.el(metas, "metaData", refType="labctl_effectiveDegreesOfFreedom")
        what = ("Effective degrees of freedom of the expanded uncertainty of the error "
                "(Welch–Satterthwaite, GUM G.4.1)")
        if dof is None:
            self.text(meta, "declaration", f"{what}: infinite", fixed_en=True)
            return
        self.text(meta, "declaration", f"{what}, truncated to an integer (GUM G.6.4)",
                  fixed_en=True)
        self.quantity(self.el(meta, "data"), "Effective degrees of freedom", stated_dof(dof),
                      "1", ref_type="labctl_effectiveDegreesOfFreedom", field=f"{field}.dof")

    def budget(self, metas: etree._Element, p: ResultPoint, field: str) -> None:
        """The error's uncertainty budget: one list per input quantity (estimate with its
        standard uncertainty and distribution, sensitivity coefficient, contribution in the
        unit of the result, degrees of freedom), with the digits it was posted with."""
        meta = self.el(metas, "metaData", refType="labctl_uncertaintyBudget")
        self.text(meta, "declaration", "Uncertainty budget of the error (GUM 8, EA-4/02 "
                  "M:2022 clause 7): per input quantity its estimate and standard uncertainty, "
                  "the distribution assumed, the sensitivity coefficient, the contribution to "
                  "the standard uncertainty of the error and the degrees of freedom",
                  fixed_en=True)
        table = self.el(self.el(meta, "data"), "list", refType="labctl_uncertaintyBudget")
        for i, b in enumerate(p.budget):
            where = f"{field}.budget[{i}]"
            row = self.el(table, "list", refType="labctl_budgetLine")
            self.text(row, "name", b.name, fixed_en=True)  # the model's symbol
            est = self.el(row, "quantity", refType="labctl_budgetEstimate")
            self.text(est, "name", "Estimate and standard uncertainty", fixed_en=True)
            if b.unit is not None:
                real = self.real(est, b.estimate, b.unit, field=f"{where}.estimate")
                mu = etree.SubElement(etree.SubElement(
                    real, _s("measurementUncertaintyUnivariate")), _s("standardMU"))
                etree.SubElement(mu, _s("valueStandardMU")).text = plain(
                    b.standard_uncertainty, field=f"{where}.standard_uncertainty")
                etree.SubElement(mu, _s("distribution")).text = b.distribution
            else:  # D-SI needs a unit: without one, the numbers as text
                self.text(est, "noQuantity", f"estimate {plain(b.estimate, field=where)}, "
                          f"standard uncertainty "
                          f"{plain(b.standard_uncertainty, field=where)}, {b.distribution} "
                          "distribution (unit not stated)", fixed_en=True)
            sens = self.el(row, "quantity", refType="labctl_budgetSensitivity")
            self.text(sens, "name", "Sensitivity coefficient", fixed_en=True)
            if b.unit is not None and b.unit == p.unit:
                self.real(sens, b.sensitivity, "1", field=f"{where}.sensitivity")
            elif b.unit == "1":  # a dimensionless input: the sensitivity is in the result's
                self.real(sens, b.sensitivity, p.unit, field=f"{where}.sensitivity")
            else:
                self.text(sens, "noQuantity", f"{plain(b.sensitivity, field=where)} (unit of "
                          "the result per unit of the input quantity)", fixed_en=True)
            self.quantity(row, "Contribution to the standard uncertainty", b.contribution,
                          p.unit, ref_type="labctl_budgetContribution",
                          field=f"{where}.contribution")
            if b.dof is None:
                dof = self.el(row, "quantity", refType="labctl_budgetDegreesOfFreedom")
                self.text(dof, "name", "Degrees of freedom", fixed_en=True)
                self.text(dof, "noQuantity", "infinite", fixed_en=True)
            else:
                self.quantity(row, "Degrees of freedom", b.dof, "1",
                              ref_type="labctl_budgetDegreesOfFreedom", field=f"{where}.dof")

    def ref_type_definitions(self, root: etree._Element) -> None:
        """Declare labctl's own refType tags (administrativeData is xs:all: order is free)."""
        if not self.used_ref_types:
            return
        adm = root.find(_d("administrativeData"))
        definitions = self.el(adm, "refTypeDefinitions")
        definition = self.el(definitions, "refTypeDefinition")
        self.text(definition, "name", "labctl refTypes", fixed_en=True)
        description = self.el(definition, "description")
        for tag in sorted(self.used_ref_types):
            self.el(description, "content", f"{tag}: {LABCTL_REFTYPES[tag]}", lang="en")
        self.el(definition, "namespace", LABCTL_REFTYPE_NAMESPACE)
        self.el(definition, "link", LABCTL_REFTYPE_LINK)
        self.el(definition, "release", labctl_release())

    def document(self, root: etree._Element, pdf: bytes) -> None:
        node = self.el(root, "document")
        self.text(node, "name", "Calibration certificate (PDF)", fixed_en=True)
        self.el(node, "fileName", f"{_safe_file_stem(document_identifier(self.doc))}.pdf")
        self.el(node, "mimeType", "application/pdf")
        self.el(node, "dataBase64", base64.b64encode(pdf).decode("ascii"))


def document_identifier(doc: CertificateDocument) -> str:
    """The DCC ``uniqueIdentifier``: the number, plus ``rev n`` for an amendment.

    The format matches ``CertificateDocument.replaces`` (``"<number> rev <n>"``), so a
    replaced identifier can be looked up verbatim.
    """
    return doc.number.strip() if doc.revision == 0 else f"{doc.number.strip()} rev {doc.revision}"


def _main_signer(doc: CertificateDocument) -> object | None:
    """The authorised signatory: the one who approved, else the last one listed."""
    for s in doc.signatories:
        if "approv" in s.role.lower() or "authori" in s.role.lower():
            return s
    return doc.signatories[-1] if doc.signatories else None


def _date(moment: datetime) -> date:
    return moment.date()


def _iso_utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _safe_file_stem(identifier: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in identifier)


def build_dcc(doc: CertificateDocument, *, pdf: bytes | None = None,
              uncertainty_form: UncertaintyForm = "expandedUnc") -> bytes:
    """The DCC 3.3.0 XML of ``doc`` as UTF-8 bytes, checked against the shipped schema.

    ``pdf`` (the rendered certificate) is embedded base64 in ``dcc:document`` so that a
    signature over the DCC also covers the human-readable copy. ``uncertainty_form`` picks
    the D-SI element for U: ``"expandedUnc"`` (D-SI 1.x form, read by every DCC tool; marked
    deprecated in D-SI 2.x) or ``"expandedMU"`` (the D-SI 2.x
    ``measurementUncertaintyUnivariate/expandedMU``).

    Raises :class:`~labctl.errors.ValidationError` for a bad document and
    :class:`~labctl.errors.IntegrityError` if the result failed schema validation (a bug).
    """
    xml = bytes(etree.tostring(build_dcc_tree(doc, pdf=pdf, uncertainty_form=uncertainty_form),
                               xml_declaration=True, encoding="UTF-8")) + b"\n"
    validate_dcc(xml)
    return xml


def build_dcc_tree(doc: CertificateDocument, *, pdf: bytes | None = None,
                   uncertainty_form: UncertaintyForm = "expandedUnc") -> etree._Element:
    """The root element of :func:`build_dcc`'s XML, indented, *not yet validated*.

    For callers that validate and sign the tree in memory instead of parsing the bytes
    again (see :func:`~labctl.platform.documents.signing.build_signed_dcc`).
    """
    check_document(doc)
    if pdf is not None and not (isinstance(pdf, bytes) and pdf.startswith(b"%PDF-")):
        raise ValidationError("pdf", pdf[:16] if isinstance(pdf, bytes) else type(pdf).__name__,
                              "the bytes of a PDF document (starting with %PDF-), or None")
    if uncertainty_form not in ("expandedUnc", "expandedMU"):
        raise ValidationError("uncertainty_form", uncertainty_form, "'expandedUnc' or 'expandedMU'")
    builder = _Builder(doc, uncertainty_form)
    root = etree.Element(_d("digitalCalibrationCertificate"), nsmap=NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    root.set("schemaVersion", SCHEMA_VERSION)
    builder.administrative(root)
    builder.results(root)
    builder.ref_type_definitions(root)
    if pdf is not None:
        builder.document(root, pdf)
    etree.indent(root)  # what pretty_print=True writes, kept in the tree
    return root

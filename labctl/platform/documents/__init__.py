"""Certificate documents: the PDF report and the PTB Digital Calibration Certificate (DCC).

The input is one frozen :class:`~labctl.platform.documents.model.CertificateDocument` built by
the certificate workflow from stored records; this package renders, validates, signs and
verifies, and never touches the database.
"""

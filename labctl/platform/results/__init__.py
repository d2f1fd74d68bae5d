"""What a certificate states, read back and judged: its revisions and points, each point as
reported (rounded per EA-4/02, conformity decided), the standards used with the validity of
each link at its time of use, and the corrections a certificate's errors imply.

- :mod:`~labctl.platform.results.records`: revisions, points, standards used, link validity;
- :mod:`~labctl.platform.results.reporting`: points as reported and decided;
- :mod:`~labctl.platform.results.corrections`: error lines fitted through a certificate.

Certificates (issuing), traceability (chains, reverse impact) and stations (a standard's
corrections at the bench) all read certificates through this package.
"""

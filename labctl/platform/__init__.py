"""The calibration platform: storage, registry, traceability, certificates, workflows.

Packages, top to bottom (each imports only those below it; ``pyproject.toml`` holds the
import-linter contract):

- ``routes`` — the HTTP API (FastAPI routers), over the services below;
- ``admin`` — what the command line does to the database (create admin, audit, migrate);
- ``stations`` — benches and stations: the runner's register, a run → a draft certificate;
- ``certificates`` — the certificate workflow, rendering and signing, public verification;
- ``traceability`` — chains up to the national primary standards, reverse impact, a
  standard's status changes;
- ``results`` — a certificate's points as reported and decided, standards used, corrections;
- ``registry`` — standards and CMCs, their review, calibrations, search;
- ``accounts`` — people, organisations, stations, tokens, and the policy of who may act;
- ``audit`` — the hash-chained, sealed audit trail and its checkpoints;
- ``documents`` — PDF and DCC rendering, signing, schema validation (no database);
- ``models`` — tables and API schemas;
- ``db``, ``settings`` — engines, sessions, migrations; configuration from the environment.
"""

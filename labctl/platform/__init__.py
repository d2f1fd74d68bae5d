"""The calibration platform: storage, registry, traceability, certificates, workflows."""

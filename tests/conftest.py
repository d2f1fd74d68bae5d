"""Shared test configuration.

Fixtures live in ``tests/fixtures/`` by subject (the simulated bench, the databases) and are
loaded here as plugins, so every test folder can use them.
"""

import os

# Every account the suite makes and every sign-in it does would hash with RFC 9106's argon2id
# parameters (64 MiB, about 0.15 s a hash here): over half the time of the platform tests. The
# suite hashes with the cheapest parameters; one test checks the product's default
# (tests/security/test_password_hashing.py). Set before labctl is imported, and inherited by
# the labctl processes the tests start.
os.environ.setdefault("LABCTL_PASSWORD_HASHING", "insecure-fast-for-tests")

pytest_plugins = [
    "tests.fixtures.bench",
    "tests.fixtures.db",
]

"""The argon2id parameters of password hashes: RFC 9106's by default, the cheap ones only
where ``LABCTL_PASSWORD_HASHING`` asks for them (this test suite does, see tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from labctl.errors import ValidationError
from labctl.platform.accounts.auth import password_hasher


@pytest.mark.timeout(60)
def test_without_the_variable_new_hashes_get_rfc_9106_parameters() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABCTL_PASSWORD_HASHING"}
    out = subprocess.run(
        [sys.executable, "-c", "from labctl.platform.accounts.auth import hash_password;"
                               "print(hash_password('correct horse battery staple'))"],
        env=env, capture_output=True, text=True, timeout=50, check=True).stdout
    assert out.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), out


def test_a_hash_verifies_whichever_parameters_the_server_now_uses() -> None:
    strong, cheap = password_hasher({}), password_hasher(
        {"LABCTL_PASSWORD_HASHING": "insecure-fast-for-tests"})
    made_cheap = cheap.hash("s3cret-enough")
    assert made_cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert strong.verify(made_cheap, "s3cret-enough")  # the parameters travel in the hash
    assert strong.check_needs_rehash(made_cheap)


@pytest.mark.parametrize("value", ["md5", "RFC9106", "cheapest"])
def test_an_unknown_setting_is_refused_naming_the_variable_and_the_choices(value: str) -> None:
    with pytest.raises(ValidationError) as err:
        password_hasher({"LABCTL_PASSWORD_HASHING": value})
    assert err.value.field == "LABCTL_PASSWORD_HASHING"
    assert "rfc9106-low-memory" in str(err.value)

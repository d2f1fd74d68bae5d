"""The platform's audit key (kept in ``LABCTL_KEYS_DIR``, outside the database): which engines
seal their events with it, signing and checking seals."""

from __future__ import annotations

import base64
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session

from labctl.errors import ValidationError
from labctl.platform.documents.signing import LaboratoryKeyStore, SigningIdentity

#: The key-store name of the platform's audit key (laboratory codes are upper case: no clash).
AUDIT_KEY_NAME = "labctl-audit"


#: By default a checkpoint is signed in the transaction of every event whose id is a
#: multiple of this (see :func:`use_key`).
CHECKPOINT_EVERY = 500


@dataclass(frozen=True)
class _Sealer:
    identity: SigningIdentity
    checkpoint_every: int


_KEYS: weakref.WeakKeyDictionary[Any, _Sealer] = weakref.WeakKeyDictionary()


def audit_identity(keys_dir: str | Path, *, create: bool = True) -> SigningIdentity:
    """The platform's audit key and certificate in ``keys_dir`` (made on first use)."""
    store = LaboratoryKeyStore(keys_dir)
    if create:
        return store.get_or_create(AUDIT_KEY_NAME, "labctl platform audit trail")
    return store.get(AUDIT_KEY_NAME)


def audit_certificate(keys_dir: str | Path | None) -> x509.Certificate | None:
    """The audit key's certificate in ``keys_dir``, if there (the private key is not needed:
    an auditor checks seals and checkpoints with a directory holding only the certificate)."""
    if keys_dir is None:
        return None
    path = Path(keys_dir) / f"{AUDIT_KEY_NAME}.cert.pem"
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValidationError("audit certificate", str(path), f"a readable PEM ({exc})") from None


def use_key(engine: sa.Engine, keys_dir: str | Path, *,
            checkpoint_every: int = CHECKPOINT_EVERY) -> SigningIdentity:
    """Seal the events written through ``engine`` (and its read view) with the audit key,
    and sign a checkpoint in the transaction of every ``checkpoint_every``-th event."""
    if checkpoint_every < 1:
        raise ValidationError("checkpoint_every", checkpoint_every, "an integer >= 1")
    identity = audit_identity(keys_dir)
    _KEYS[engine.pool] = _Sealer(identity, checkpoint_every)
    return identity


def sealer_for(session: Session) -> _Sealer | None:
    bind = session.get_bind()
    pool = getattr(bind, "pool", None)
    return _KEYS.get(pool) if pool is not None else None


def sign(identity: SigningIdentity, data: bytes) -> str:
    return base64.b64encode(identity.private_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def signature_holds(certificate: x509.Certificate, signature: str, data: bytes) -> bool:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True

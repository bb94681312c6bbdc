#!/usr/bin/env python3
"""Writes a new private key for signing Vigil's Security Event Tokens (ssf.signing_keys) as PKCS#8 PEM.

    scripts/ssf-key.py RS256 keys/ssf-2026.pem     # RSA 2048 bits, what Okta accepts
    scripts/ssf-key.py ES256 keys/ssf-2026-ec.pem  # P-256

The file is created readable by its owner only. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`
does the same where OpenSSL is installed.
"""
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("RS256", "ES256"):
        print(__doc__, file=sys.stderr)
        return 2
    algorithm, path = sys.argv[1], sys.argv[2]
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Verifies Security Event Tokens as a receiver would, with an implementation independent of Vigil's (joserfc).

    scripts/verify-set.py JWKS_FILE TOKENS_FILE ISSUER

TOKENS_FILE holds one compact JWS per line. Each token must verify against the JWKS key its header's kid
names and follow SSF 1.0 / RFC 8417: header typ secevent+jwt and a kid; claims iss (== ISSUER), iat and jti,
a top-level sub_id with a format, exactly one event, no sub and no exp. Prints each token's header and
claims as one JSON line; exits 1 with the reasons when any token fails.
"""
import json
import sys

from joserfc import jws
from joserfc.jwk import KeySet


def check(token: str, keys: KeySet, issuer: str) -> tuple[dict, dict, list[str]]:
    problems = []
    try:
        verified = jws.deserialize_compact(token, keys, algorithms=["RS256", "ES256"])
    except Exception as error:  # noqa: BLE001 - any failure is the verdict
        return {}, {}, [f"signature does not verify: {error!r}"]
    header = verified.headers()
    claims = json.loads(verified.payload)
    if header.get("typ") != "secevent+jwt":
        problems.append(f"typ is {header.get('typ')!r}")
    if not header.get("kid"):
        problems.append("no kid")
    if claims.get("iss") != issuer:
        problems.append(f"iss is {claims.get('iss')!r}")
    for name in ("iat", "jti", "sub_id", "events"):
        if name not in claims:
            problems.append(f"no {name}")
    for name in ("sub", "exp"):
        if name in claims:
            problems.append(f"{name} must not be present")
    if not isinstance(claims.get("iat"), int):
        problems.append("iat is not an integer NumericDate")
    if not isinstance(claims.get("sub_id"), dict) or "format" not in claims["sub_id"]:
        problems.append("sub_id has no format")
    events = claims.get("events")
    if not isinstance(events, dict) or len(events) != 1:
        problems.append("not exactly one event")
    return header, claims, problems


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as handle:
        keys = KeySet.import_key_set(json.load(handle))
    failed = False
    with open(sys.argv[2]) as handle:
        for number, line in enumerate(handle, 1):
            token = line.strip()
            if not token:
                continue
            header, claims, problems = check(token, keys, sys.argv[3])
            if problems:
                failed = True
                print(f"token {number}: " + "; ".join(problems), file=sys.stderr)
            print(json.dumps({"header": header, "claims": claims}, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

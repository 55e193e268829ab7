"""A tiny OIDC issuer on loopback for tests: a real HTTP server publishing its discovery document and JWKS
(Keycloak's paths), its own RSA and EC keys, and ID tokens with Keycloak-style claims.

    with LoopbackIssuer() as idp:
        token = idp.id_token(roles=["department"], agency_code="11360704MB1C000102")

`requests` counts what was fetched (discovery, certs); `down` makes every answer a 503.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwk, jwt

REALM_PATH = "/realms/hcp"
AUDIENCE = "hcp-hub"


@functools.cache
def _keys() -> tuple[jwk.RSAKey, jwk.ECKey]:
    """The issuer's own keys, made once per test run (2048-bit RSA takes a while on a shared machine)."""
    return (jwk.RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                  {"kid": "rsa-1", "use": "sig", "alg": "RS256"}),
            jwk.ECKey.import_key(ec.generate_private_key(ec.SECP256R1()),
                                 {"kid": "ec-1", "use": "sig", "alg": "ES256"}))  # fmt: skip


class LoopbackIssuer:
    def __init__(self) -> None:
        self.rsa, self.ec = _keys()
        self.published = [self.rsa, self.ec]
        self.requests: Counter[str] = Counter()
        self.down = False
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests[self.path] += 1
                documents = {
                    f"{REALM_PATH}/.well-known/openid-configuration": {
                        "issuer": issuer.issuer, "jwks_uri": issuer.jwks_url,
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    },
                    f"{REALM_PATH}/protocol/openid-connect/certs": {
                        "keys": [k.as_dict(private=False) for k in issuer.published]
                    },
                }  # fmt: skip
                document = documents.get(self.path)
                status = 503 if issuer.down else 200 if document is not None else 404
                body = json.dumps(document if status == 200 else {"error": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.base + REALM_PATH
        self.jwks_url = self.issuer + "/protocol/openid-connect/certs"
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-idp", daemon=True)

    def __enter__(self) -> LoopbackIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A Keycloak ID token's claims: realm roles nested, the scope as flat attribute claims."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": AUDIENCE, "azp": AUDIENCE, "typ": "ID", "sub": "f1c2a7e0-kc-user",
            "preferred_username": "zhang.san", "iat": now, "exp": now + 300, "auth_time": now,
            "realm_access": {"roles": ["offline_access", "department"]}, "agency_code": "11360704MB1C000102",
        }  # fmt: skip
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(self, key: Any = None, header: dict[str, Any] | None = None, **overrides: Any) -> str:
        key = key or self.rsa
        alg = "ES256" if key is self.ec else "RS256"
        return jwt.encode(header or {"alg": alg, "kid": key.kid, "typ": "JWT"}, self.claims(**overrides), key,
                          algorithms=[header["alg"]] if header else None)  # fmt: skip

"""Verify a person's OIDC ID token against any issuer's JWKS: Cognito, a province's 统一身份认证, a Keycloak.

The hub's Lambda authorizer (functions/authorizer.py) calls `OidcVerifier.verify` with the
`Authorization` header. It checks what API Gateway's Cognito authorizer checked, for any issuer:

- the algorithm is one the hub accepts (RS256, ES256) — never `none`, never an HMAC "signed" with a
  public key — and matches the key the header's `kid` names in the issuer's JWKS;
- the signature; `iss` is the configured issuer; `aud` holds the configured audience (the client id);
  `exp` and `nbf` against the clock with a small leeway; an access token is not an ID token.

The JWKS is fetched over HTTPS (plain HTTP only from a loopback host: the local cloud, tests) with a
bounded timeout, cached, and fetched again at most every `refresh_seconds` when a token names a
`kid` the cache does not hold (the issuer rotated its keys). The role and scope claims are read by
the names the settings give (dotted for nested claims: Keycloak's `realm_access.roles`) and handed
on in `Identity.context()`, the strings API Gateway passes to the functions (functions/account.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from infra.settings import SignInSettings

__all__ = ["ACCEPTED_ALGORITHMS", "Identity", "IssuerUnavailable", "JwksCache", "OidcVerifier", "TokenRefused"]

ACCEPTED_ALGORITHMS = ("RS256", "ES256")
_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
MAX_DOCUMENT_BYTES = 1 << 20  # a JWKS or discovery document larger than this is not one
MAX_TOKEN_BYTES = 16 << 10  # API Gateway refuses larger headers anyway

Fetch = Callable[[str, float], bytes]


class TokenRefused(Exception):
    """The token cannot sign anyone in: `code` is TOKEN_MISSING, TOKEN_INVALID or TOKEN_EXPIRED (hub.errors)."""

    def __init__(self, code: str, detail: str = "", detail_zh: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.detail_zh = detail_zh or detail


class IssuerUnavailable(RuntimeError):
    """The issuer's JWKS could not be fetched: not the person's fault, so not a refusal of their token."""


def fetch_https(url: str, timeout: float) -> bytes:
    """GET `url` (HTTPS; HTTP only on a loopback host) within `timeout` seconds, at most 1 MiB."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")):
        raise IssuerUnavailable(f"{url}: the JWKS must be fetched over https")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme is checked above
            body: bytes = response.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        raise IssuerUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if len(body) > MAX_DOCUMENT_BYTES:
        raise IssuerUnavailable(f"{url}: larger than {MAX_DOCUMENT_BYTES} bytes")
    return body


class JwksCache:
    """The issuer's signing keys, fetched on first use, kept `ttl_seconds`, and fetched again early (at most
    once per `refresh_seconds`) when a token names a key id the cached set does not hold."""

    def __init__(self, settings: SignInSettings, fetch: Fetch = fetch_https,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.settings = settings
        self._fetch = fetch
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._jwks_url = settings.jwks_url
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str | None) -> Any | None:
        """The key `kid` names (the only key when the set holds one and the token names none), or None."""
        with self._lock:
            now = self._clock()
            if self._keys is None or now - self._fetched_at >= self.settings.jwks_ttl_seconds:
                self._load(now)
            found = self._find(kid)
            if found is None and now - self._fetched_at >= self.settings.jwks_refresh_seconds:
                self._load(now)  # the issuer may have rotated its keys since
                found = self._find(kid)
            return found

    def _find(self, kid: str | None) -> Any | None:
        assert self._keys is not None
        if kid is None:
            return self._keys.keys[0] if len(self._keys.keys) == 1 else None
        return next((k for k in self._keys.keys if k.kid == kid), None)

    def _load(self, now: float) -> None:
        url = self._jwks_url or self._discover()
        try:
            document = json.loads(self._fetch(url, self.settings.jwks_timeout_seconds))
            keys = KeySet.import_key_set({"keys": [k for k in document["keys"] if _usable(k)]})
        except (ValueError, KeyError, TypeError, JoseError) as exc:
            raise IssuerUnavailable(f"{url}: not a JWKS ({type(exc).__name__})") from exc
        self._jwks_url = url
        self._keys, self._fetched_at = keys, now
        self.fetches += 1

    def _discover(self) -> str:
        """OIDC discovery: the issuer's `jwks_uri` from `{issuer}/.well-known/openid-configuration`."""
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = json.loads(self._fetch(url, self.settings.jwks_timeout_seconds))
            jwks_uri = document["jwks_uri"]
        except (ValueError, KeyError, TypeError) as exc:
            raise IssuerUnavailable(f"{url}: no jwks_uri ({type(exc).__name__})") from exc
        if not isinstance(jwks_uri, str):
            raise IssuerUnavailable(f"{url}: jwks_uri is not a URL")
        return jwks_uri


def _usable(key: Mapping[str, Any]) -> bool:
    """Signing keys of the types the accepted algorithms use (a JWKS may also list encryption keys)."""
    return key.get("kty") in _KEY_TYPES.values() and key.get("use", "sig") == "sig"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the verified token names, in the hub's terms: account id, roles, agency codes, region."""

    subject: str
    username: str
    roles: tuple[str, ...]
    agency_codes: tuple[str, ...]
    region_code: str
    issuer: str

    def context(self) -> dict[str, str]:
        """What the authorizer hands API Gateway, which passes it to the functions (strings only)."""
        return {"sub": self.subject, "username": self.username, "roles": ",".join(self.roles),
                "agency_code": ",".join(self.agency_codes), "region_code": self.region_code,
                "issuer": self.issuer}  # fmt: skip


class OidcVerifier:
    """Verifies ID tokens of the one issuer the settings name; see the module docstring."""

    def __init__(self, settings: SignInSettings, keys: JwksCache | None = None) -> None:
        self.settings = settings
        self.keys = keys or JwksCache(settings)

    def verify(self, authorization: str | None, now: float) -> Identity:
        """The identity of a valid ID token (raw, or `Bearer <token>`); `TokenRefused` otherwise."""
        token = (authorization or "").strip()
        scheme, _, rest = token.partition(" ")
        if scheme.lower() == "bearer":
            token = rest.strip()
        if not token:
            raise TokenRefused("TOKEN_MISSING", "send `Authorization: Bearer <id token>`",
                               "请登录后以 Authorization: Bearer <ID 令牌> 调用")
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise TokenRefused("TOKEN_INVALID", "not a signed JWT", "不是签名的 JWT 令牌")
        header = _header(token)
        algorithm = header.get("alg")
        if algorithm not in ACCEPTED_ALGORITHMS:
            shown = str(algorithm)[:16]
            raise TokenRefused("TOKEN_INVALID", f"algorithm {shown} is not accepted (RS256, ES256)",
                               f"不接受签名算法 {shown}（仅 RS256、ES256）")
        kid = header.get("kid")
        key = self.keys.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise TokenRefused("TOKEN_INVALID", "signed with a key the issuer does not publish (unknown kid)",
                               "签名密钥不是身份认证平台公布的密钥（kid 未知）")
        if key.key_type != _KEY_TYPES[algorithm] or key.get("alg", algorithm) != algorithm:
            raise TokenRefused("TOKEN_INVALID", f"algorithm {algorithm} does not fit the issuer's key",
                               f"签名算法 {algorithm} 与身份认证平台的密钥不符")
        try:
            claims = dict(jwt.decode(token, key, algorithms=[algorithm]).claims)
        except (JoseError, ValueError, TypeError):
            raise TokenRefused("TOKEN_INVALID", "the signature does not match the issuer's key",
                               "签名与身份认证平台的密钥不符（令牌被篡改或伪造）") from None
        self._check(claims, now)
        return self._identity(claims)

    def _check(self, claims: Mapping[str, Any], now: float) -> None:
        s = self.settings
        if claims.get("iss") != s.issuer:
            raise TokenRefused("TOKEN_INVALID", "issued by another identity provider",
                               "令牌不是本系统配置的身份认证平台签发的")
        if claims.get("token_use", "id") != "id":
            use = str(claims.get("token_use"))[:16]
            raise TokenRefused("TOKEN_INVALID", f"a {use} token; send the ID token", f"这是 {use} 令牌，请使用 ID 令牌")
        audience = claims.get("aud")
        audiences = set(audience) if isinstance(audience, list) else {audience}
        if not audiences & set(s.audiences):
            raise TokenRefused("TOKEN_INVALID", "issued to a client this API does not know (aud)",
                               "令牌签发给了其他应用（aud 不符）")
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not _number(expires):
            raise TokenRefused("TOKEN_INVALID", "the token has no expiry (exp)", "令牌没有有效期（exp）")
        if expires + s.leeway_seconds <= now:
            raise TokenRefused("TOKEN_EXPIRED")
        if not_before is not None and (not _number(not_before) or not_before - s.leeway_seconds > now):
            raise TokenRefused("TOKEN_INVALID", "the token is not valid yet (nbf)", "令牌尚未生效（nbf）")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenRefused("TOKEN_INVALID", "the token names no subject (sub)", "令牌未标明用户（sub）")

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        s = self.settings
        username = claim(claims, s.username_claim) or claims.get("preferred_username") or ""
        region = _values(claim(claims, s.region_claim))
        return Identity(
            subject=str(claims["sub"]),
            username=str(username),
            roles=tuple(_values(claim(claims, s.roles_claim))),
            agency_codes=tuple(_values(claim(claims, s.agency_claim))),
            region_code=region[0] if region else "",
            issuer=s.issuer,
        )


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name; a dotted name (`realm_access.roles`) reaches into nested objects, unless a claim
    of that very name exists (`custom:agency_code` and URL-named claims are flat)."""
    if name in claims:
        return claims[name]
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _values(value: Any) -> list[str]:
    """A claim as a list of strings: a JSON list, or a string of values separated by commas or spaces."""
    if value is None or isinstance(value, bool | dict):
        return []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else str(value).replace(",", " ").split()
    return [text for text in (str(item).strip() for item in items) if text]


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _header(token: str) -> dict[str, Any]:
    part = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, TypeError):
        raise TokenRefused("TOKEN_INVALID", "not a signed JWT", "不是签名的 JWT 令牌") from None
    if not isinstance(header, dict):
        raise TokenRefused("TOKEN_INVALID", "not a signed JWT", "不是签名的 JWT 令牌")
    return header

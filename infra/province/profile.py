"""A province's gateway as one JSON document: `ProvinceProfile`, and the codec both ends share.

A profile adds to the field-level `ProvincialMapping` what real 好差评 gateways differ in beyond fields:
  - code tables the rating does not carry (userProp's whole table, promiseTime's direction), constants
    (dataSource), a projectNo prefix, areaCode padded to 12 digits;
  - the envelope: `plain` (the mapping's own, signed as `mapping.signature` says; records or the whole body
    optionally SM2-encrypted) or `epoint` (Shandong, and the same in Yunnan, Shaanxi, Jiangsu code:
    `{"txnBodyCom": {"sign", "params": {<list>: [SM2(record)]}, "time", "appMark"}, "txnCommCom": {}}`,
    a `C-Tenancy-Id` header, the answer read from `C-Response-Desc` / `C-Response-Body`);
  - SM2 as data (`infra.province.sm2`): cipher order, 04 prefix, text encoding, user id;
  - two steps (the service record 办件服务, keyed by projectNo and assessNumber, before the evaluation);
  - which answers mean "you sent this already" (评价数据不可重复), a success for an idempotent sender.

Profiles ship in `infra/province/profiles/` and are chosen by name (`PROVINCE_PROFILE`, the template's
`ProvinceProfile`); a path works too. Everything is checked when the profile is loaded — an unknown field,
a key not on the curve, an unknown cipher order — with the path of each problem, never at the first send.
Secrets (our SM2 private key, the app word) are not in a profile: they are in the province secret.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.rating import RaterType, Rating
from infra.province import sm2
from infra.province.mapping import DEFAULT, ProvincialMapping, national_record
from infra.province.payload import ProvincialRating

PROFILES_DIR = Path(__file__).with_name("profiles")
REPEAT_MESSAGE = "评价数据不可重复"
_BEIJING_OFFSET = timedelta(hours=8)

RecordKind = Literal["evaluate", "service"]
# National fields of the service record (办件服务): the case, its agency, and its key (projectNo, assessNumber).
SERVICE_FIELDS: tuple[str, ...] = (
    "projectNo", "assessNumber", "taskCode", "taskName", "deptCode", "deptName", "areaCode", "handleTime", "userProp",
)  # fmt: skip


class ProfileError(ValueError):
    """A profile that does not load; `problems` are (path, message) pairs, every one of them."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source, self.problems = source, problems
        lines = "; ".join(f"{path}: {message}" for path, message in problems)
        super().__init__(f"profile {source} is invalid: {lines}")


class EnvelopeError(ValueError):
    """A body or an answer that does not fit the profile's envelope, or does not decrypt. Never holds the body."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SM2Settings(_Config):
    """How the province uses SM2. The province's public key is public and may sit here; ours is a secret."""

    province_public_key: str | None = Field(
        None, description="hex/base64 of 04‖x‖y, or PEM; the secret's `province_public_key` overrides it"
    )
    order: sm2.CipherOrder = "C1C3C2"
    prefix: bool = Field(True, description="C1 written as 04‖x‖y")
    encoding: sm2.TextEncoding = "hex"
    user_id: str = sm2.DEFAULT_USER_ID
    signature_format: sm2.SignatureFormat = "der"

    @field_validator("province_public_key")
    @classmethod
    def _on_curve(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                sm2.load_public_key(value)
            except sm2.SM2Error as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def cipher(self) -> sm2.CipherFormat:
        return sm2.CipherFormat(self.order, self.prefix, self.encoding)


class PlainEnvelope(_Config):
    """The mapping's own envelope and signature headers; SM2 optional, per record or of the whole body."""

    kind: Literal["plain"] = "plain"
    encrypt: Literal["none", "records", "body"] = "none"
    body_key: str = Field("data", description="with encrypt=body: the body is {body_key: SM2(json)}")


class EpointEnvelope(_Config):
    """The Epoint gateway: records SM2-encrypted in `txnBodyCom.params`, "sign" an SM2 *encryption*."""

    kind: Literal["epoint"] = "epoint"
    tenancy_header: str = "C-Tenancy-Id"
    tenancy_id: Annotated[str, Field(pattern=r"^\d{6}$", description="the province's division code, e.g. 370000")]
    evaluate_key: str = "evaluate"
    service_key: str = "project"
    time_format: Literal["yyyyMMddHHmmss"] = "yyyyMMddHHmmss"
    max_skew_seconds: int = Field(300, ge=1)
    desc_field: str = "C-Response-Desc"
    body_field: str = "C-Response-Body"
    success_desc: str = "success"
    auth_failed_descs: tuple[str, ...] = Field(
        ("签名错误", "签名验证失败", "sign error"),
        description="descriptions meaning our appMark/appWord or keys are wrong: retried, never parked",
    )
    result_key: str = Field("result", description="the list in C-Response-Body, each item SM2-encrypted JSON")


class PromiseTime(_Config):
    """承诺类型: the code of 即办件 (immediate) and of 承诺件 (promised); the direction differs by province."""

    immediate: str
    promised: str
    default: Literal["immediate", "promised"] = Field(
        "promised", description="the hub's rating does not say; a case with a time limit is the common one"
    )


class CodeTables(_Config):
    user_prop: dict[RaterType, str] = Field(default_factory=lambda: {RaterType.PERSON: "1", RaterType.COMPANY: "2"})
    user_prop_table: dict[str, str] = Field(
        default_factory=lambda: {"1": "自然人", "2": "法人"}, description="the province's whole table, code → meaning"
    )
    promise_time: PromiseTime | None = None

    @model_validator(mode="after")
    def _within_table(self) -> CodeTables:
        outside = sorted(set(self.user_prop.values()) - set(self.user_prop_table))
        if outside:
            raise ValueError(f"user_prop codes {outside} are not in user_prop_table")
        missing = sorted(set(RaterType) - set(self.user_prop))
        if missing:
            raise ValueError(f"user_prop misses {missing}")
        return self


class ServiceStep(_Config):
    """Two steps: the service record (办件服务) first, then the evaluation that refers to it."""

    path: str = Field("/service", description="appended to the endpoint for a plain envelope")
    fields: tuple[str, ...] = SERVICE_FIELDS

    @field_validator("fields")
    @classmethod
    def _national(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(ProvincialRating.model_fields))
        if unknown:
            raise ValueError(f"not national fields: {unknown}")
        if not {"projectNo", "assessNumber"} <= set(value):
            raise ValueError("the service record is keyed by projectNo and assessNumber: both are needed")
        return value


class ProvinceProfile(_Config):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    title: str = Field(description="中文名, e.g. 山东省")
    description: str = ""
    assumptions: list[str] = Field(default_factory=list, description="values not confirmed by the province")
    mapping: ProvincialMapping = DEFAULT
    codes: CodeTables = Field(default_factory=CodeTables)
    constants: dict[str, str] = Field(default_factory=dict, description="fields with one value, e.g. dataSource")
    project_no_prefix: str = ""
    area_code_width: int = Field(12, ge=6, le=12, description="right-padded with 0 to this many digits")
    sm2: SM2Settings | None = None
    envelope: Annotated[PlainEnvelope | EpointEnvelope, Field(discriminator="kind")] = Field(
        default_factory=PlainEnvelope
    )
    service_record: ServiceStep | None = None
    repeat_messages: tuple[str, ...] = (REPEAT_MESSAGE,)

    @model_validator(mode="after")
    def _consistent(self) -> ProvinceProfile:
        clash = sorted(set(self.constants) & (set(ProvincialRating.model_fields) | {"promiseTime"}))
        if clash:
            raise ValueError(f"constants cannot replace record fields: {clash}")
        needs_sm2 = self.envelope.kind == "epoint" or getattr(self.envelope, "encrypt", "none") != "none"
        if needs_sm2 and self.sm2 is None:
            raise ValueError(f"the {self.envelope.kind} envelope encrypts: it needs an sm2 section")
        return self

    # --- loading -----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str) -> ProvinceProfile:
        """A shipped profile by name (`shandong`), or a JSON file by path; `ProfileError` lists every problem."""
        path = Path(name_or_path)
        if not path.suffix:
            path = PROFILES_DIR / f"{name_or_path}.json"
        if not path.is_file():
            shipped = ", ".join(shipped_profiles())
            raise ProfileError(name_or_path, [("(file)", f"no such profile; shipped: {shipped}")])
        return cls.from_json(path.read_bytes(), source=str(path))

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "(text)") -> ProvinceProfile:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = [(".".join(str(p) for p in e["loc"]) or "(profile)", e["msg"]) for e in exc.errors()]
            raise ProfileError(source, problems) from None

    @classmethod
    def configured(cls, name: str = "") -> ProvinceProfile | None:
        """`PROVINCE_PROFILE` (a shipped name or a path). None when blank or `national`: the client then keeps
        the field mapping of `PROVINCE_MAPPING[_FILE]`, as before profiles."""
        name = name.strip()
        return cls.load(name) if name and name != "national" else None

    # --- records -----------------------------------------------------------------------------------------
    def national(self, rating: Rating) -> dict[str, str]:
        """The evaluation under national names with the profile's code tables, prefix, padding and constants."""
        record = national_record(rating, self.mapping)
        record["userProp"] = self.codes.user_prop[rating.rater.type]
        record["areaCode"] = record["areaCode"].ljust(self.area_code_width, "0")
        if self.project_no_prefix and not record["projectNo"].startswith(self.project_no_prefix):
            record["projectNo"] = self.project_no_prefix + record["projectNo"]
        promise = self.codes.promise_time
        if promise is not None:
            record["promiseTime"] = getattr(promise, promise.default)
        record.update(self.constants)
        return record

    def record(self, rating: Rating, kind: RecordKind = "evaluate") -> dict[str, str]:
        """The record under the province's names: the evaluation, or the service record of its case."""
        national = self.national(rating)
        if kind == "service":
            keep = set(self.service_step.fields) | {"promiseTime", *self.constants}
            national = {k: v for k, v in national.items() if k in keep}
        wire = self.mapping.wire_names
        return {wire.get(name, name): value for name, value in national.items()}

    @property
    def service_step(self) -> ServiceStep:
        if self.service_record is None:
            raise ValueError(f"profile {self.name} has no service record step")
        return self.service_record

    @cached_property
    def extra_fields(self) -> dict[str, dict[str, Any]]:
        """JSON-schema properties the profile adds to the national record (constants, promiseTime)."""
        extra: dict[str, dict[str, Any]] = {name: {"const": value} for name, value in self.constants.items()}
        if self.codes.promise_time is not None:
            extra["promiseTime"] = {"enum": [self.codes.promise_time.immediate, self.codes.promise_time.promised]}
        return extra

    def schema(self, kind: RecordKind = "evaluate") -> dict[str, Any]:  # type: ignore[override]  # not pydantic's
        """The profile's contract for one record under national names: the published schema, adjusted."""
        schema = copy.deepcopy(_national_schema())
        props = schema["properties"]
        props["userProp"] = {"enum": sorted(self.codes.user_prop_table), "description": "评价人类型 (profile table)"}
        if self.project_no_prefix:
            props["projectNo"]["pattern"] = "^" + _regex_escape(self.project_no_prefix)
        props.update(self.extra_fields)
        schema["required"] = sorted({*schema["required"], *self.extra_fields})
        if kind == "service":
            keep = set(self.service_step.fields) | set(self.extra_fields)
            schema["properties"] = {k: v for k, v in props.items() if k in keep}
            schema["required"] = [k for k in schema["required"] if k in keep]
        return schema


# `hcp schema export` writes schemas/province-profile.json from this, so editors check a profile as it is typed.
PROFILE_SCHEMAS: dict[str, type[BaseModel]] = {"province-profile.json": ProvinceProfile}


def _regex_escape(text: str) -> str:
    import re

    return re.escape(text)


@cache
def _national_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ProvincialRating.model_json_schema(mode="serialization"),
    }


def shipped_profiles() -> list[str]:
    return sorted(path.stem for path in PROFILES_DIR.glob("*.json"))


# --- the wire --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProfileKeys:
    """Key material one end holds. The hub: the province's public key, its own private key (to read answers).
    The province (or the stub): its private key, the hub's public key (to encrypt answers)."""

    encrypt_to: sm2.PublicKey | None = None
    decrypt_with: sm2.PrivateKey | None = None

    def need_public(self) -> sm2.PublicKey:
        if self.encrypt_to is None:
            raise EnvelopeError("no SM2 public key to encrypt to (profile sm2.province_public_key or the secret)")
        return self.encrypt_to

    def need_private(self) -> sm2.PrivateKey:
        if self.decrypt_with is None:
            raise EnvelopeError("no SM2 private key to decrypt with (the secret's sm2_private_key)")
        return self.decrypt_with


@dataclass(frozen=True, slots=True)
class Answer:
    """What the province said about one push: accepted (possibly as a repeat) or refused with a reason."""

    ok: bool
    duplicate: bool
    reason: str
    receipt_id: str | None = None
    auth_failed: bool = False


def beijing_stamp(moment: datetime) -> str:
    return (moment.astimezone(UTC) + _BEIJING_OFFSET).strftime("%Y%m%d%H%M%S")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class Codec:
    """Both ends of one profile's envelope: `encode_request` (hub), `decode_request` and `encode_answer`
    (the stub, or a province), `decode_answer` (hub). Pure but for SM2's randomness."""

    def __init__(self, profile: ProvinceProfile, keys: ProfileKeys) -> None:
        self.profile, self.keys = profile, keys
        self._fmt = profile.sm2.cipher if profile.sm2 else sm2.CipherFormat()

    # hub → province
    def encode_request(
        self, records: list[dict[str, str]], kind: RecordKind, *, app_mark: str, app_word: str, now: datetime
    ) -> tuple[bytes, dict[str, str]]:
        """The body and the envelope's own headers (a plain envelope's signature headers are the client's)."""
        env = self.profile.envelope
        if isinstance(env, EpointEnvelope):
            stamp = beijing_stamp(now)
            public = self.keys.need_public()
            body = {
                "txnBodyCom": {
                    "sign": sm2.encrypt_text(public, stamp + app_mark + app_word, self._fmt),
                    "params": {
                        (env.evaluate_key if kind == "evaluate" else env.service_key): [
                            sm2.encrypt_text(public, _dumps(record), self._fmt) for record in records
                        ]
                    },
                    "time": stamp,
                    "appMark": app_mark,
                },
                "txnCommCom": {},
            }
            return _dumps(body).encode("utf-8"), {env.tenancy_header: env.tenancy_id}
        (record,) = records
        content: Any = record
        if env.encrypt == "records":
            content = sm2.encrypt_text(self.keys.need_public(), _dumps(record), self._fmt)
        wrapped = _wrap(content, self.profile.mapping)
        if env.encrypt == "body":
            wrapped = {env.body_key: sm2.encrypt_text(self.keys.need_public(), _dumps(wrapped), self._fmt)}
        return _dumps(wrapped).encode("utf-8"), {}

    def decode_request(
        self, body: bytes, headers: Mapping[str, str], kind: RecordKind, *, app_mark: str, app_word: str, now: datetime
    ) -> list[dict[str, Any]]:
        """The records of a pushed body, decrypted; `EnvelopeError` if the envelope, a sign or a record is wrong."""
        env = self.profile.envelope
        data = _loads(body)
        if isinstance(env, EpointEnvelope):
            lower = {k.lower(): v for k, v in headers.items()}
            if lower.get(env.tenancy_header.lower()) != env.tenancy_id:
                raise EnvelopeError(f"header {env.tenancy_header} is not {env.tenancy_id}")
            txn = data.get("txnBodyCom") if isinstance(data, dict) else None
            if not isinstance(txn, dict) or not isinstance(data.get("txnCommCom"), dict):
                raise EnvelopeError("the body is not {txnBodyCom, txnCommCom}")
            stamp, mark, sign = txn.get("time"), txn.get("appMark"), txn.get("sign")
            if not (isinstance(stamp, str) and isinstance(mark, str) and isinstance(sign, str)):
                raise EnvelopeError("txnBodyCom needs time, appMark and sign")
            if mark != app_mark:
                raise EnvelopeError("unknown appMark")
            if self._text(sign) != f"{stamp}{app_mark}{app_word}":
                raise EnvelopeError("the sign does not decrypt to time + appMark + appWord")
            try:
                sent = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC) - _BEIJING_OFFSET
            except ValueError:
                raise EnvelopeError("time is not yyyyMMddHHmmss") from None
            if abs((now - sent).total_seconds()) > env.max_skew_seconds:
                raise EnvelopeError(f"time is more than {env.max_skew_seconds} s from the gateway's clock")
            params = txn.get("params")
            key = env.evaluate_key if kind == "evaluate" else env.service_key
            items = params.get(key) if isinstance(params, dict) else None
            if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
                raise EnvelopeError(f"txnBodyCom.params.{key} is not a list of ciphertexts")
            return [self._record(item) for item in items]
        if env.encrypt == "body":
            if not isinstance(data, dict) or not isinstance(data.get(env.body_key), str):
                raise EnvelopeError(f"the body is not {{{env.body_key}: ciphertext}}")
            data = _loads(self._text(data[env.body_key]).encode("utf-8"))
        content = _unwrap(data, self.profile.mapping)
        if env.encrypt == "records":
            if not isinstance(content, str):
                raise EnvelopeError("the record is not a ciphertext")
            return [self._record(content)]
        if not isinstance(content, dict):
            raise EnvelopeError("the body holds no record")
        return [content]

    # province → hub
    def encode_answer(self, results: list[dict[str, Any]], *, ok: bool, desc: str | None = None) -> dict[str, Any]:
        """An Epoint answer (each result SM2-encrypted to the hub); plain envelopes answer as the stub does."""
        env = self.profile.envelope
        assert isinstance(env, EpointEnvelope)
        public = self.keys.need_public()
        return {
            env.desc_field: desc or (env.success_desc if ok else "failure"),
            env.body_field: {env.result_key: [sm2.encrypt_text(public, _dumps(r), self._fmt) for r in results]},
        }

    def decode_answer(self, status: int, text: str, headers: Mapping[str, str]) -> Answer | None:
        """An Epoint answer read; None for a plain envelope (the client's response config reads those).

        `EnvelopeError` (retried, logged without the body) when the answer is not the envelope or its
        results do not decrypt.
        """
        env = self.profile.envelope
        if not isinstance(env, EpointEnvelope):
            return None
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            raise EnvelopeError("the answer is not JSON") from None
        lower = {k.lower(): v for k, v in headers.items()}
        desc = data.get(env.desc_field) if isinstance(data, dict) else None
        desc = desc if isinstance(desc, str) else lower.get(env.desc_field.lower())
        if not isinstance(desc, str):
            raise EnvelopeError(f"the answer has no {env.desc_field}")
        body = data.get(env.body_field) if isinstance(data, dict) else None
        results: list[dict[str, Any]] = []
        if isinstance(body, dict) and isinstance(body.get(env.result_key), list):
            results = [self._record(item) for item in body[env.result_key] if isinstance(item, str)]
        elif body is not None and not isinstance(body, (dict, str)):
            raise EnvelopeError(f"{env.body_field} is not an object")
        messages = [desc, *(str(r.get("msg", "")) for r in results)]
        if self.is_repeat(" ".join(messages)):
            return Answer(True, True, desc, _receipt(results))
        if desc == env.success_desc and all(str(r.get("code", "200")) in ("0", "200") for r in results):
            return Answer(True, False, desc, _receipt(results))
        reasons = [str(r.get("msg")) for r in results if r.get("msg")]
        auth = any(marker and marker in desc for marker in env.auth_failed_descs)
        return Answer(False, False, "; ".join(reasons) or desc, auth_failed=auth)

    def is_repeat(self, message: str) -> bool:
        return any(marker and marker in message for marker in self.profile.repeat_messages)

    def _text(self, item: str) -> str:
        try:
            return sm2.decrypt_text(self.keys.need_private(), item, self._fmt).decode("utf-8")
        except (sm2.SM2Error, UnicodeDecodeError):
            raise EnvelopeError("a ciphertext does not decrypt with this key and cipher format") from None

    def _record(self, item: str) -> dict[str, Any]:
        record = _loads(self._text(item).encode("utf-8"))
        if not isinstance(record, dict):
            raise EnvelopeError("a decrypted record is not a JSON object")
        return record


def _receipt(results: list[dict[str, Any]]) -> str | None:
    for result in results:
        for name in ("receiptId", "id", "evalId"):
            if result.get(name):
                return str(result[name])
    return None


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise EnvelopeError("not JSON") from None


def _wrap(content: Any, mapping: ProvincialMapping) -> Any:
    env = mapping.envelope
    if env.key is None:
        return content
    return {**env.extra, env.key: [content] if env.as_list else content}


def _unwrap(body: Any, mapping: ProvincialMapping) -> Any:
    env = mapping.envelope
    if env.key is None:
        return body
    if not isinstance(body, dict) or env.key not in body:
        raise EnvelopeError(f"the body has no {env.key!r}")
    content = body[env.key]
    if env.as_list:
        if not isinstance(content, list) or len(content) != 1:
            raise EnvelopeError("one record per request")
        content = content[0]
    return content


__all__ = [
    "PROFILES_DIR",
    "PROFILE_SCHEMAS",
    "REPEAT_MESSAGE",
    "SERVICE_FIELDS",
    "Answer",
    "Codec",
    "EnvelopeError",
    "EpointEnvelope",
    "PlainEnvelope",
    "ProfileError",
    "ProfileKeys",
    "ProvinceProfile",
    "SM2Settings",
    "shipped_profiles",
]

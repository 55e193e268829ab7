"""Masking of personal data (R20) for every output that does not need it in clear."""

from __future__ import annotations

from typing import Any


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def mask_id_number(number: str) -> str:
    return f"{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}" if len(number) > 7 else "****"


def mask_name(name: str) -> str:
    """Keep the surname, hide the rest: 王五 → 王*, 欧阳娜娜 → 欧***; a company keeps its name."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_code(code: str) -> str:
    return f"{code[:4]}{'*' * (len(code) - 8)}{code[-4:]}" if len(code) > 8 else "****"


def masked_person(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A rater or applicant as JSON, with phone, ID number, name and code masked."""
    if data is None:
        return None
    out = dict(data)
    if out.get("phone"):
        out["phone"] = mask_phone(out["phone"])
    if out.get("id_no"):
        out["id_no"] = mask_id_number(out["id_no"])
    if out.get("credit_code"):
        out["credit_code"] = mask_code(out["credit_code"])
    if out.get("name") and out.get("type", "person") == "person":
        out["name"] = mask_name(out["name"])
    return out


def masked_rating(rating_json: dict[str, Any]) -> dict[str, Any]:
    out = dict(rating_json)
    out["rater"] = masked_person(out.get("rater"))
    return out

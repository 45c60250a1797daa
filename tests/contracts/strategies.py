"""Hypothesis strategies for valid contract-terms documents (parsed-JSON form)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from biip.checksums import gs1_standard_check_digit
from hypothesis import strategies as st

from contracts.money import Rounding

#: (code, a valid fixed compensation for it)
CURRENCIES = [("EUR", "40.00"), ("USD", "35.5"), ("JPY", "5000"), ("KWD", "12.345")]

participant_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{1,20}", fullmatch=True)


def decimal_text(
    min_value: int | str = 0, max_value: int | str = 10**6, places: int = 4
) -> st.SearchStrategy[str]:
    """Decimal strings such as "12.5" in ``[min_value, max_value]``."""
    return st.decimals(
        min_value=Decimal(min_value),
        max_value=Decimal(max_value),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    ).map(lambda value: f"{value:f}")


percent_text = decimal_text(0, 100, 2)


@st.composite
def gtins(draw: st.DrawFn) -> str:
    payload = draw(st.from_regex(r"[0-9]{13}", fullmatch=True))
    return payload + str(gs1_standard_check_digit(payload))


@st.composite
def volume_tiers(draw: st.DrawFn) -> dict[str, Any]:
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=10**5), max_size=4)))
    gaps = draw(st.booleans())
    tiers: list[dict[str, Any]] = []
    start = 0
    for bound in bounds:
        if bound <= start:  # a gap after the previous tier reached past this bound
            continue
        tiers.append(
            {
                "from_quantity": str(start),
                "to_quantity": str(bound),
                "unit_price": draw(decimal_text()),
            }
        )
        start = bound + (draw(st.integers(0, 5)) if gaps else 0)
    tiers.append({"from_quantity": str(start), "unit_price": draw(decimal_text())})
    method = draw(st.sampled_from(["graduated", "all_units"]))
    return {"method": method, "gaps_allowed": gaps, "tiers": tiers}


@st.composite
def pricings(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["flat", "tiers", "market"]))
    pricing: dict[str, Any]
    if kind == "flat":
        pricing = {"basis": "agreed", "unit_price": draw(decimal_text())}
    elif kind == "tiers":
        pricing = {"basis": "agreed", "tiers": draw(volume_tiers())}
    else:
        pricing = {
            "basis": "market",
            "market": {
                "source": draw(st.text(min_size=1, max_size=40)),
                "observed_on": draw(st.sampled_from(["delivery_date", "due_date"])),
            },
        }
    if draw(st.booleans()):
        pricing["floor"] = draw(decimal_text())
    pricing["premium"] = draw(decimal_text(0, 100))
    names = draw(st.lists(st.sampled_from(["organic", "shade_grown", "women_led"]), unique=True))
    pricing["differentials"] = [
        {"name": name, "amount": draw(decimal_text(0, 10))} for name in names
    ]
    return pricing


@st.composite
def conditions(draw: st.DrawFn) -> list[dict[str, Any]]:
    measures = draw(st.lists(st.sampled_from(["temperature", "humidity"]), unique=True))
    result = []
    for measure in measures:
        low = draw(st.decimals(min_value=-40, max_value=40, places=1, allow_nan=False))
        width = draw(st.decimals(min_value=0, max_value=20, places=1, allow_nan=False))
        result.append(
            {
                "measure": measure,
                "unit": "CEL" if measure == "temperature" else "P1",
                "minimum": f"{low:f}",
                "maximum": f"{low + width:f}",
                "reduction_percent_per_unit": draw(percent_text),
                "cap_percent": draw(decimal_text(0, 50, 2)),
            }
        )
    return result


@st.composite
def terms_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid terms document with 1–3 products, ≥ 2 suppliers, random optional sections."""
    ids = draw(st.lists(participant_ids, min_size=3, max_size=5, unique=True))
    buyer, suppliers = ids[0], ids[1:]
    currency, compensation = draw(st.sampled_from(CURRENCIES))
    valid_from = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
    product_gtins = draw(st.lists(gtins(), min_size=1, max_size=3, unique=True))
    statutory = draw(st.integers(min_value=1, max_value=120))
    net_days = draw(st.integers(min_value=0, max_value=statutory))
    rate_dates = sorted(
        draw(
            st.sets(
                st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 1, 1)),
                min_size=1,
                max_size=4,
            )
        )
    )
    document: dict[str, Any] = {
        "version": 1,
        "contract_id": draw(participant_ids),
        "parties": [{"id": buyer, "roles": ["buyer"]}]
        + [{"id": supplier, "roles": ["supplier"]} for supplier in suppliers],
        "currency": currency,
        "rounding": {"mode": draw(st.sampled_from([mode.value for mode in Rounding]))},
        "valid_from": valid_from.isoformat(),
        "valid_until": draw(
            st.none() | st.integers(0, 3000).map(lambda d: (valid_from + timedelta(d)).isoformat())
        ),
        "products": [
            {
                "gtin": gtin,
                "unit": draw(st.sampled_from(["KGM", "EA", "LTR"])),
                "pricing": draw(pricings()),
                "conditions": draw(conditions()),
            }
            for gtin in product_gtins
        ],
        "payment": {
            "net_days": net_days,
            "statutory_max_days": statutory,
            "late_interest": {
                "reference": "central bank rate",
                "margin_percent": draw(percent_text),
                "day_count": draw(st.sampled_from(["ACT/365", "ACT/360"])),
                "reference_rates": [
                    {"effective_from": day.isoformat(), "percent": draw(decimal_text(-1, 15, 2))}
                    for day in rate_dates
                ],
            },
            "fixed_compensation": compensation,
        },
    }
    if net_days > 0 and draw(st.booleans()):
        document["payment"]["early_payment"] = {
            "percent": draw(decimal_text("0.01", 10, 2)),
            "within_days": draw(st.integers(0, net_days - 1)),
        }
    if draw(st.booleans()):
        document["late_delivery"] = {
            "percent_per_period": draw(percent_text),
            "period_days": draw(st.integers(1, 30)),
            "cap_percent": draw(percent_text),
            "termination_after_days": draw(st.none() | st.integers(0, 365)),
            "force_majeure_exempt": draw(st.booleans()),
        }
    if draw(st.booleans()):
        each = Decimal(100) / len(suppliers)
        document["revenue_share"] = {
            "payer": buyer,
            "shares": [
                {
                    "supplier": supplier,
                    "percent": draw(decimal_text(0, int(each), 2)),
                }
                for supplier in suppliers
            ],
        }
    return document

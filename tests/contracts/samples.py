"""A realistic terms document shared by the contract tests, built fresh on every call.

A roastery (``roastery-nord``) buys from two coffee farms and a berry grower; an auditor reads.

* green coffee (``GTIN_COFFEE``, KGM): market price with a floor of 3.70 EUR/kg, premium 0.44
  and an organic differential 0.88 (Fairtrade style);
* strawberries (``GTIN_BERRIES``, KGM): agreed 4.20 EUR/kg, kept at 0–4 °C (CEL); 5 % off the
  price per degree outside, capped at 30 %;
* flour (``GTIN_FLOUR``, KGM): graduated volume tiers 0.80 below 1000 kg, 0.75 to 5000 kg,
  0.70 above;
* late delivery: 0.5 % of the goods' value per week late, capped at 5 %, termination after 30
  days, force majeure exempt;
* revenue share to the farms: 2 % and 1.5 %;
* payment: 2/10 net 30 within a declared 60-day maximum, ECB rate + 8 points on ACT/365,
  EUR 40 compensation.
"""

from __future__ import annotations

from typing import Any

from contracts.terms import ContractTerms, parse_terms

GTIN_COFFEE = "07612345000015"
GTIN_BERRIES = "07612345000022"
GTIN_FLOUR = "07612345000039"


def terms_document() -> dict[str, Any]:
    """The sample terms as a parsed JSON object (decimal strings, ISO dates, lists)."""
    return {
        "version": 1,
        "contract_id": "roastery-nord-2026",
        "parties": [
            {"id": "roastery-nord", "roles": ["buyer"]},
            {"id": "finca-aurora", "roles": ["supplier"]},
            {"id": "finca-brisa", "roles": ["supplier"]},
            {"id": "audit.example", "roles": ["auditor"]},
        ],
        "currency": "EUR",
        "rounding": {"mode": "ROUND_HALF_EVEN", "point": "per_line"},
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
        "products": [
            {
                "gtin": GTIN_COFFEE,
                "unit": "KGM",
                "pricing": {
                    "basis": "market",
                    "market": {
                        "source": "ICE Coffee C front-month settlement, EUR/kg",
                        "observed_on": "delivery_date",
                    },
                    "floor": "3.70",
                    "premium": "0.44",
                    "differentials": [{"name": "organic", "amount": "0.88"}],
                },
            },
            {
                "gtin": GTIN_BERRIES,
                "unit": "KGM",
                "pricing": {"basis": "agreed", "unit_price": "4.20"},
                "conditions": [
                    {
                        "measure": "temperature",
                        "unit": "CEL",
                        "minimum": "0",
                        "maximum": "4",
                        "reduction_percent_per_unit": "5",
                        "cap_percent": "30",
                    }
                ],
            },
            {
                "gtin": GTIN_FLOUR,
                "unit": "KGM",
                "pricing": {
                    "basis": "agreed",
                    "tiers": {
                        "method": "graduated",
                        "tiers": [
                            {"from_quantity": "0", "to_quantity": "1000", "unit_price": "0.80"},
                            {
                                "from_quantity": "1000",
                                "to_quantity": "5000",
                                "unit_price": "0.75",
                            },
                            {"from_quantity": "5000", "unit_price": "0.70"},
                        ],
                    },
                },
            },
        ],
        "late_delivery": {
            "percent_per_period": "0.5",
            "period_days": 7,
            "cap_percent": "5",
            "termination_after_days": 30,
            "force_majeure_exempt": True,
        },
        "revenue_share": {
            "payer": "roastery-nord",
            "shares": [
                {"supplier": "finca-aurora", "percent": "2"},
                {"supplier": "finca-brisa", "percent": "1.5"},
            ],
        },
        "payment": {
            "net_days": 30,
            "statutory_max_days": 60,
            "early_payment": {"percent": "2", "within_days": 10},
            "late_interest": {
                "reference": "ECB main refinancing operations rate",
                "margin_percent": "8",
                "day_count": "ACT/365",
                "reference_rates": [
                    {"effective_from": "2025-06-11", "percent": "2.15"},
                    {"effective_from": "2026-03-18", "percent": "2.40"},
                    {"effective_from": "2026-06-30", "percent": "2.65"},
                ],
            },
            "fixed_compensation": "40.00",
        },
    }


def sample_terms(**changes: Any) -> ContractTerms:
    """The sample terms, with top-level keys replaced by ``changes``."""
    document = terms_document()
    document.update(changes)
    return parse_terms(document)


def set_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set ``document[a][b][0]...`` for the dotted ``path`` ("a.b.0") in place; return it."""
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return document


def changed(path: str, value: Any) -> ContractTerms:
    """The sample terms with ``path`` set to ``value``."""
    return parse_terms(set_path(terms_document(), path, value))

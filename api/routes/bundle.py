"""``GET /v1/lots/bundle``: the offline proof bundle of one lot (DESIGN §8, ``ledger.bundle``).

The bundle (``fairledger-lot-bundle/v1``, canonical JSON) holds every record of the lot's
provenance, their inclusion proofs against one checkpoint, that checkpoint with its witness
cosignatures, and the key records needed to check every signature: ``fairledger verify-lot``
(or ``scripts/verify_lot.py``) checks it with only the operator's vkey. It is served as a
download (``Content-Disposition: attachment``). Lot syntax, errors and access follow
``/v1/lots/provenance``: a malformed lot is a 400 ``malformed-identifier``, a lot no record
names a 404 ``unknown-lot``, and the read needs a signature when provenance is not public.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Response

from api.problems import problem_responses
from api.routes.deps import LedgerDep
from api.routes.lots import LOT_PROBLEMS, LotQuery, ProvenanceReader, lot_errors, normal_lot
from api.schemas import EXAMPLE_CHECKPOINT, EXAMPLE_ORIGIN, EXAMPLE_RECEIPT, EXAMPLE_RECORD_JSON
from api.schemas_trace import EXAMPLE_LOT, EXAMPLE_PROVENANCE
from ledger.bundle import BUNDLE_FORMAT, build_bundle
from ledger.canonical import JSONObject
from ledger.trace.identifiers import parse_lot

router = APIRouter(tags=["lots"])

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: The shape of a bundle, shortened to one record (a real one holds every record proving
#: the lot's provenance, plus genesis and the key records).
EXAMPLE_BUNDLE: JSONObject = {
    "format": BUNDLE_FORMAT,
    "origin": EXAMPLE_ORIGIN,
    "lot": EXAMPLE_LOT,
    "checkpoint": EXAMPLE_CHECKPOINT,
    "records": [
        {
            "record": EXAMPLE_RECORD_JSON["record"],
            "entry_hash": EXAMPLE_RECORD_JSON["entry_hash"],
            "inclusion_proof": [h.hex() for h in EXAMPLE_RECEIPT.inclusion_proof],
        }
    ],
    "provenance": EXAMPLE_PROVENANCE,
}


def bundle_filename(lot: str) -> str:
    """A safe download name for the bundle of ``lot`` (normal form):
    ``lot-<gtin>-<lot number>.bundle.json``, unsafe characters replaced by ``_``."""
    parsed = parse_lot(lot)
    number = _UNSAFE.sub("_", parsed.lot)[:80]
    return f"lot-{parsed.gtin.value}-{number}.bundle.json"


@router.get(
    "/v1/lots/bundle",
    response_class=Response,
    responses={
        200: {
            "description": "The lot's proof bundle (fairledger-lot-bundle/v1), as a download",
            "content": {"application/json": {"example": EXAMPLE_BUNDLE}},
        },
        **problem_responses(*LOT_PROBLEMS),
    },
)
def get_bundle(lot: LotQuery, ledger: LedgerDep, reader: ProvenanceReader) -> Response:
    """Offline proof bundle of one lot: its provenance records, their inclusion proofs, a
    (witness-cosigned when possible) checkpoint and the key records."""
    name = normal_lot(lot)
    with lot_errors():
        data = build_bundle(ledger, name)
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{bundle_filename(name)}"'},
    )

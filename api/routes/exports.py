"""``GET /v1/exports/epcis`` and ``GET /v1/exports/fsma204``: traceability exports (DESIGN §4).

Both select the ``trace.event`` records of a lot's provenance (``lot``), of a participant
(``party``, its id or its party GLN URI: the records it made or that name it as the other
side of a shipment or receipt) and/or an
event-time range ``[since, until)``; the filters combine, and none at all selects every
trace record. Times without an offset are UTC.

* ``/v1/exports/epcis``: one EPCIS 2.0 ``EPCISDocument`` valid against the official schema,
  as ``application/ld+json`` (or ``application/json`` when the ``Accept`` header asks for
  that and not JSON-LD); exact decimal quantities.
* ``/v1/exports/fsma204``: the FDA FSMA 204 electronic sortable spreadsheet, CSV by default,
  XLSX with ``format=xlsx``; product descriptions from ``ApiSettings.product_names``.

They are as public as provenance (``ApiSettings.public_provenance``).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response

from api.problems import InvalidRequestError, NotFoundError, problem_responses
from api.routes.deps import LedgerDep, NowDep, SettingsDep
from api.routes.lots import SIGNATURE_PROBLEMS, ProvenanceReader, lot_errors, normal_lot
from api.schemas_trace import EXAMPLE_EPCIS_DOCUMENT, EXAMPLE_FSMA_CSV, EXAMPLE_LOT
from api.spreadsheet import XLSX_MEDIA_TYPE, write_fsma_xlsx
from ledger.log import Ledger
from ledger.trace import dumps_epcis
from ledger.trace.errors import MalformedIdentifierError
from ledger.trace.fsma import write_fsma_csv
from ledger.trace.identifiers import normalize_party
from ledger.trace.rules import party_gln
from ledger.trace.service import export_epcis, export_fsma

__all__ = ["router"]

router = APIRouter(tags=["exports"])

JSON_LD = "application/ld+json"
JSON = "application/json"
CSV = "text/csv; charset=utf-8"

LotFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        description="Export this lot's provenance (LGTIN URN or GS1 Digital Link).",
        examples=[EXAMPLE_LOT],
    ),
]
PartyFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        description="Export the records of this participant (its id), or naming this party "
        "(https://id.gs1.org/417/<gln>) as the other side of a shipment.",
        examples=["farm-hillside"],
    ),
]
SinceFilter = Annotated[
    datetime | None,
    Query(description="Events at or after this time (RFC 3339; UTC if no offset).",
          examples=["2026-11-01T00:00:00Z"]),
]  # fmt: skip
UntilFilter = Annotated[
    datetime | None,
    Query(description="Events before this time (RFC 3339; UTC if no offset).",
          examples=["2026-12-01T00:00:00Z"]),
]  # fmt: skip
FormatQuery = Annotated[
    Literal["csv", "xlsx"],
    Query(
        alias="format",
        description="csv (RFC 4180, UTF-8) or xlsx (one sortable sheet).",
        examples=["xlsx"],
    ),
]

EXPORT_PROBLEMS = (
    "invalid-request",
    "malformed-identifier",
    "unknown-lot",
    "not-found",
    *SIGNATURE_PROBLEMS,
)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class _Selection:
    """The checked filters of one export request."""

    def __init__(
        self,
        ledger: Ledger,
        lot: str | None,
        party: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> None:
        self.lot = None if lot is None else normal_lot(lot)
        self.party = None if party is None else _party(ledger, party)
        self.since, self.until = _utc(since), _utc(until)
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidRequestError(
                "query.until: the range [since, until) is empty: until must be after since",
                field="query.until",
            )

    def filters(self) -> dict[str, Any]:
        return {"lot": self.lot, "party": self.party, "since": self.since, "until": self.until}


def _party(ledger: Ledger, party: str) -> str:
    """A registered participant id as given; a party URI (``.../417/<gln>``, any GS1 form) of
    a registered participant as that participant's id, of anyone else in its normal form."""
    participants = ledger.state().participants
    if party in participants:
        return party
    if ":" not in party:
        raise NotFoundError(f"query.party: no participant {party!r}", field="query.party")
    try:
        normal = normalize_party(party)
    except MalformedIdentifierError as exc:
        raise MalformedIdentifierError(f"query.party: {exc.message}", field="query.party") from exc
    gln = party_gln(normal)
    owner = next((p.id for p in participants.values() if gln is not None and p.gln == gln), None)
    return owner or normal


def _wants_plain_json(accept: str | None) -> bool:
    media = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    return JSON in media and JSON_LD not in media


@router.get(
    "/v1/exports/epcis",
    response_class=Response,
    responses={
        200: {
            "description": "An EPCIS 2.0 EPCISDocument (valid against the official schema)",
            "content": {
                JSON_LD: {"schema": {"type": "object"}, "example": EXAMPLE_EPCIS_DOCUMENT},
                JSON: {"schema": {"type": "object"}, "example": EXAMPLE_EPCIS_DOCUMENT},
            },
        },
        **problem_responses(*EXPORT_PROBLEMS),
    },
)
def export_epcis_document(
    ledger: LedgerDep,
    now: NowDep,
    reader: ProvenanceReader,
    lot: LotFilter = None,
    party: PartyFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """An EPCIS 2.0 document of the selected trace records, in record order."""
    selection = _Selection(ledger, lot, party, since, until)
    with lot_errors():
        document = export_epcis(ledger, created_at=now, **selection.filters())
    media = JSON if _wants_plain_json(accept) else JSON_LD
    return Response(dumps_epcis(document).encode("utf-8"), media_type=media)


@router.get(
    "/v1/exports/fsma204",
    response_class=Response,
    responses={
        200: {
            "description": "The FDA FSMA 204 sortable spreadsheet: one column per Key Data "
            "Element, one row per critical tracking event and per transformation input",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": EXAMPLE_FSMA_CSV},
                XLSX_MEDIA_TYPE: {
                    "schema": {"type": "string", "format": "binary"},
                    "example": "(an XLSX workbook with one sheet, 'FSMA 204')",
                },
            },
        },
        **problem_responses(*EXPORT_PROBLEMS),
    },
)
def export_fsma204(
    ledger: LedgerDep,
    settings: SettingsDep,
    reader: ProvenanceReader,
    lot: LotFilter = None,
    party: PartyFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    file_format: FormatQuery = "csv",
) -> Response:
    """The FSMA 204 spreadsheet of the selected records (CSV, or XLSX with format=xlsx)."""
    selection = _Selection(ledger, lot, party, since, until)
    with lot_errors():
        rows = export_fsma(ledger, products=settings.product_names, **selection.filters())
    if file_format == "xlsx":
        out = io.BytesIO()
        write_fsma_xlsx(rows, out)
        return Response(
            out.getvalue(),
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="fsma204.xlsx"'},
        )
    text = io.StringIO(newline="")
    write_fsma_csv(rows, text)
    return Response(
        text.getvalue().encode("utf-8"),
        media_type=CSV,
        headers={"Content-Disposition": 'attachment; filename="fsma204.csv"'},
    )

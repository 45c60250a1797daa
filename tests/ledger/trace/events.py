"""Small valid EPCIS events and documents for tests, and helpers to damage them."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, Final

from ledger.trace import STANDARD_CONTEXT

EXAMPLE_CONTEXT: Final = {"example": "https://ns.example.com/epcis/"}
LOT_URN: Final = "urn:epc:class:lgtin:4012345.012345.998877"
LOT: Final = "https://id.gs1.org/01/04012345123456/10/998877"


def shipping_event(**changes: Any) -> dict[str, Any]:
    """A farm ships 200.5 kg of one lot to a mill (EPCIS form)."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:1b0c4a52-4b8e-4c0b-9d59-1a2b3c4d5e6f",
        "eventTime": "2026-11-22T10:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "quantityList": [{"epcClass": LOT_URN, "quantity": Decimal("200.5"), "uom": "KGM"}],
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        "bizTransactionList": [{"type": "po", "bizTransaction": "https://farm.example/po/1"}],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00000"}],
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00000"}
        ],
        "example:note": "first harvest",
    }
    event.update(changes)
    return event


def document(*events: dict[str, Any]) -> dict[str, Any]:
    """An EPCISDocument holding ``events`` (a shipping event when none are given)."""
    return {
        "@context": [STANDARD_CONTEXT, EXAMPLE_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-22T10:05:00Z",
        "epcisBody": {"eventList": list(events) or [shipping_event()]},
    }


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()

Path = tuple[str | int, ...]


def mutated(data: dict[str, Any], path: Path, value: object) -> dict[str, Any]:
    """A deep copy of ``data`` with ``path`` set to ``value`` (or removed for DELETE)."""
    result = copy.deepcopy(data)
    node: Any = result
    for part in path[:-1]:
        node = node[part]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return result

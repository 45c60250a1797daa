"""The FDA FSMA 204 sortable spreadsheet as XLSX (the CSV form is ``ledger.trace.fsma``).

XLSX writing lives in ``api/`` because it needs ``openpyxl``, which ``ledger/`` may not
import (DESIGN §1): the rows come from ``ledger.trace.fsma.fsma_rows`` (through
``ledger.trace.service.export_fsma``); this module only lays them out as one sheet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]

from ledger.trace.fsma import FSMA_COLUMNS, FsmaRow

__all__ = ["XLSX_MEDIA_TYPE", "write_fsma_xlsx"]

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "FSMA 204"


def write_fsma_xlsx(rows: Iterable[FsmaRow], out: IO[bytes]) -> int:
    """Write the header and ``rows`` as one sortable XLSX sheet (bold frozen header, an
    auto-filter over the table); quantities are exact decimal numbers, the other cells text
    or integers. Returns the number of rows written."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = SHEET_TITLE
    sheet.append(list(FSMA_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    count = 0
    for fsma in rows:
        sheet.append(["" if v is None else v for v in fsma.values()])
        count += 1
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.save(out)
    return count

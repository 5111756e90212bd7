"""Read a spreadsheet file into a header row and data rows.

CSV encodings are detected, not guessed silently: a BOM, then strict UTF-8,
then charset-normalizer, which tells GBK/GB18030 (Excel on mainland Chinese
Windows), Big5 (Taiwan, Hong Kong) and Shift-JIS/cp932 (Japan) apart by
decoding each and measuring how garbled the text comes out; trying GB18030
alone turned Big5 and Shift-JIS files into silent mojibake.  A file none of
them decodes cleanly is refused.  XLSX is read with openpyxl after a guard
against zip bombs.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from ..errors import CrmError

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 500 * 1024 * 1024
MAX_XLSX_RATIO = 200  # a real sheet compresses ~5-20x; a bomb by thousands
MAX_ROWS = 1_000_000
# charset-normalizer's "chaos" of the best decoding (0: reads as clean text in its language, 0.2: its own
# cut-off).  Clean GBK, Big5 and cp932 sheets measure 0-0.01; a sheet mixing two encodings measured 0.09.
MAX_MESS = 0.05
TIE_MESS = 0.01


@dataclass
class Table:
    """Cells as read: strings for CSV; str, number, date or None for XLSX."""

    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (1-based row number as the user sees it, cells)
    encoding: str = ""
    problems: dict[int, str] = field(default_factory=dict)  # row number -> why it cannot be read


def read_table(path: Path) -> Table:
    if not path.is_file():
        raise CrmError(f"{path} does not exist or is not a file.", "Check the path.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CrmError(f"{path.name} is too large to import ({size // 2**20} MB).",
                       f"Split it into files under {MAX_FILE_BYTES // 2**20} MB.")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    if suffix == ".xls":
        raise CrmError(f"{path.name} is an old Excel .xls file.", "Save it as .xlsx or CSV and import that.")
    return read_csv_bytes(path.read_bytes(), path.name)


def decode(data: bytes, name: str = "the file") -> tuple[str, str]:
    """Bytes -> (text, encoding name)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", name), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16", name), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        not_utf8 = exc.start
    from charset_normalizer import from_bytes  # deferred: only files that are not UTF-8 need it

    matches = from_bytes(data)
    best = matches.best()
    if best is None or best.chaos > MAX_MESS:
        raise CrmError(f"{name} is not UTF-8 text (bad byte at offset {not_utf8}), and no other encoding reads it "
                       "cleanly (it may mix encodings or not be text).",
                       "Save it from your spreadsheet as 'CSV UTF-8' and import again.")
    # A short GBK sheet often reads just as cleanly as Korean or Japanese text: GB18030, what Excel on
    # Chinese Windows writes, wins a tie.  Big5 and Shift-JIS sheets come out garbled in it, so never tie.
    chinese = next((match for match in matches if match.encoding == "gb18030"), None)
    if chinese is not None and chinese.chaos <= best.chaos + TIE_MESS:
        best = chinese
    return str(best), best.encoding


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CrmError(f"{name} says it is {encoding} but has a bad byte at offset {exc.start}.",
                       "Save it again as 'CSV UTF-8' and import again.") from None


def read_csv_bytes(data: bytes, name: str = "the file") -> Table:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CrmError(f"{name} is a binary file, not CSV.", "Export the sheet as CSV or XLSX.")
    text, encoding = decode(data, name)
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    table = Table([], [], encoding)
    try:
        for record in reader:
            number = reader.line_num
            if not table.headers:
                if any(cell.strip() for cell in record):
                    table.headers = [cell.strip() for cell in record]
                continue
            if any(cell.strip() for cell in record):
                table.rows.append((number, record))
            if len(table.rows) > MAX_ROWS:
                raise CrmError(f"{name} has more than {MAX_ROWS} rows.", "Split it into smaller files.")
    except csv.Error as exc:
        raise CrmError(f"{name} line {reader.line_num} is not valid CSV ({exc}).",
                       "Fix the quoting on that line and import again.") from None
    if not table.headers:
        raise CrmError(f"{name} is empty (no header row).", "The first row must name the columns.")
    return table


def read_second_sheet(path: Path) -> Table | None:
    """The workbook's second sheet (a follow-up sheet beside the customers), None when there is none."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return None
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=False)
    try:
        if len(book.worksheets) < 2:
            return None
    finally:
        book.close()
    return read_xlsx(path, sheet=1)


def read_xlsx(path: Path, sheet: int = 0) -> Table:
    _guard_zip(path)
    from openpyxl import load_workbook  # deferred: ~150 ms, only XLSX import needs it

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise CrmError(f"{path.name} cannot be read as an Excel workbook ({type(exc).__name__}).",
                       "Open and save it again in your spreadsheet program, or export CSV.") from None
    try:
        table, formulas = _first_sheet(book, path.name, sheet)
    finally:
        book.close()
    if formulas:
        _fill_formula_values(path, table, formulas, sheet)
    return table


def _first_sheet(book: Any, name: str, index: int = 0) -> tuple[Table, list[tuple[int, int, str]]]:
    sheet = book.worksheets[index]
    table = Table([], [], "xlsx")
    formulas: list[tuple[int, int, str]] = []  # (row number, column index, formula)
    for number, record in enumerate(sheet.iter_rows(), start=1):
        values = []
        for column, cell in enumerate(record):
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", "") == "f":
                formulas.append((number, column, str(value)))
            values.append(value)
        if not table.headers:
            if any(cell_text(v) for v in values):
                table.headers = [cell_text(v) for v in values]
            continue
        if any(cell_text(v) for v in values):
            table.rows.append((number, values))
        if len(table.rows) > MAX_ROWS:
            raise CrmError(f"{name} has more than {MAX_ROWS} rows.", "Split it into smaller files.")
    if not table.headers:
        raise CrmError(f"{name} has an empty first sheet (no header row).", "The first row must name the columns.")
    return table, formulas


def _fill_formula_values(path: Path, table: Table, formulas: list[tuple[int, int, str]], sheet: int = 0) -> None:
    """Replace formula cells by the values the spreadsheet last computed.

    A file written by a program that never computed them (no cached value)
    cannot be imported faithfully: that row is refused with the formula shown.
    """
    from openpyxl import load_workbook

    wanted = {(row, col): formula for row, col, formula in formulas}
    cached: dict[tuple[int, int], Any] = {}
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for number, record in enumerate(book.worksheets[sheet].iter_rows(), start=1):
            for column, cell in enumerate(record):
                if (number, column) in wanted:
                    cached[(number, column)] = getattr(cell, "value", None)
    finally:
        book.close()
    for number, values in table.rows:
        for column in range(len(values)):
            if (number, column) not in wanted:
                continue
            value = cached.get((number, column))
            if value is None:
                header = table.headers[column] if column < len(table.headers) else f"column {column + 1}"
                table.problems[number] = (f"'{header}' holds the formula {wanted[(number, column)]} and no computed "
                                          "value (paste the sheet as values, or save it in a spreadsheet program)")
            values[column] = value


def _guard_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise CrmError(f"{path.name} is not a valid .xlsx file (not a zip archive).",
                       "Save it again as Excel Workbook (.xlsx) or CSV.") from None
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > MAX_XLSX_UNCOMPRESSED or total / packed > MAX_XLSX_RATIO:
        raise CrmError(f"{path.name} unpacks to {total // 2**20} MB from {packed // 1024} KB, "
                       "which looks like a zip bomb; it is not opened.", "Export the sheet as CSV instead.")


def cell_text(value: Any) -> str:
    """A cell as the text a person would read in it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phones typed as numbers come back as 13800138000.0
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour, value.minute) != (0, 0) else value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value).strip()

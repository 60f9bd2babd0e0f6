"""Reading uploaded tables (CSV or XLSX) into rows of text, safely.

This module knows nothing of pupils or employers: it turns the bytes of an
upload into a header and rows of trimmed strings, each with the row number a
spreadsheet program shows (the header is row 1), and refuses files it cannot
read with a :class:`~placement.errors.ValidationError` saying why.

CSV files are read as schools and municipalities export them:
UTF-8 with or without a byte order mark, Windows-1252 (Excel's "Save as CSV"
in a Western locale), or UTF-16 with a byte order mark (Excel's "Unicode
text"); separated by semicolons, commas or tabs, chosen by counting them in
the header line.

An XLSX file is a zip archive of XML.  Before openpyxl sees it, the archive's
central directory is checked against zip bombs: few enough entries, a bounded
total size when unpacked, no entry packed suspiciously tightly.  CPython's
zipfile never inflates an entry beyond the size the directory declares, so
checking the declared sizes bounds the work.  openpyxl then parses the XML with
defusedxml, which refuses entity declarations (no entity expansion, no
external entities).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Literal

import openpyxl
from defusedxml import DefusedXmlException
from openpyxl.utils.exceptions import InvalidFileException

from placement.errors import ValidationError

#: The largest upload accepted, checked before anything else.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: Limits on an XLSX archive, checked before it is parsed, so that a zip bomb is refused unopened.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_ZIP_ENTRIES = 200
#: Spreadsheet XML packs 10-25 times; a zip bomb packs about a thousand times.
MAX_COMPRESSION_RATIO = 100
#: Entries smaller than this unpacked are harmless whatever their ratio.
RATIO_CHECKED_FROM_BYTES = 1024 * 1024
#: Limits on the table itself (data rows, columns).
MAX_ROWS = 20_000
MAX_COLUMNS = 100
#: Empty rows read beside the data rows before a file is refused: rows are counted as they are read,
#: empty or not, so a sheet of a million empty rows is refused after reading this many, not parsed whole.
MAX_EMPTY_ROWS = 1_000

CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
XLSX_SUFFIX = ".xlsx"
ZIP_MAGIC = b"PK\x03\x04"
#: Candidate CSV separators; on a tie the earlier one wins.
DELIMITERS = (";", ",", "\t")

# openpyxl reports a malformed workbook with any of these.
_XLSX_ERRORS = (
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    EOFError,
    zipfile.BadZipFile,
    ET.ParseError,
    DefusedXmlException,
    InvalidFileException,
)

_QUOTED = re.compile(r'"[^"]*"')
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HEADER_SEPARATORS = re.compile(r"[\s_\-.:/*]+")

Format = Literal["csv", "xlsx"]


@dataclasses.dataclass(frozen=True)
class Row:
    """One data row: its spreadsheet row number and its cells by header as written."""

    number: int
    values: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Table:
    """The header (as written, trimmed) and the non-empty data rows of a file."""

    format: Format
    headers: list[str]
    rows: list[Row]


def read_table(data: bytes, filename: str) -> Table:
    """Read a CSV or XLSX upload; the kind is told by the file name's suffix."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"the file is {len(data):,} bytes; at most {MAX_UPLOAD_BYTES:,} bytes ({MAX_UPLOAD_BYTES // 2**20} MB) "
            "can be imported"
        )
    suffix = PurePath(filename).suffix.lower()
    if suffix == XLSX_SUFFIX:
        return _read_xlsx(data)
    if suffix in CSV_SUFFIXES:
        if data.startswith(ZIP_MAGIC):
            raise ValidationError(f"the file is named {suffix} but is a zip archive (an XLSX workbook?)")
        return _read_csv(data)
    if suffix == ".xls":
        raise ValidationError("old Excel files (.xls) cannot be read: save the sheet as .xlsx or CSV")
    raise ValidationError(f'files named "{suffix or filename}" cannot be imported: use CSV or XLSX')


def normalise_header(text: str) -> str:
    """The form in which headers are compared: one case, no accents, single spaces.

    ``" Födelse-år "`` and ``"FODELSEAR"`` differ, but ``"E-post"``, ``"e post"``
    and ``"E_POST"`` all become ``"e post"``, and ``"Kön"`` becomes ``"kon"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _HEADER_SEPARATORS.sub(" ", bare).strip()


def _read_csv(data: bytes) -> Table:
    text = _decode(data)
    if "\x00" in text:
        raise ValidationError("the file contains NUL bytes: it is not a text (CSV) file")
    first_line = _LINE_BREAK.split(text.lstrip("\r\n"), maxsplit=1)[0]
    counts = {d: _QUOTED.sub("", first_line).count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: counts[d])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        return _build_table("csv", reader)
    except csv.Error as exc:
        raise ValidationError(f"the CSV file cannot be read at line {reader.line_num}: {exc}") from exc


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    else:
        encodings = ["utf-8", "cp1252"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("the file's text is not in a known encoding: save it as UTF-8 (or Windows-1252) CSV")


def _read_xlsx(data: bytes) -> Table:
    if not data.startswith(ZIP_MAGIC):
        raise ValidationError("the file is named .xlsx but is not an XLSX workbook (was a CSV file renamed?)")
    _check_archive(data)
    # openpyxl guards against entity expansion only when it parses with defusedxml.
    if not openpyxl.DEFUSEDXML:
        raise RuntimeError("openpyxl is not using defusedxml: install defusedxml and unset OPENPYXL_DEFUSEDXML")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        try:
            sheet = workbook.worksheets[0]
            # The stored dimension may be wrong or hostile ("A1:XFD1048576"): read the cells there are, but
            # no further right than one column past the limit, as a stray cell at XFD would widen every row.
            sheet.reset_dimensions()
            cells = sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True)
            return _build_table("xlsx", ([_cell_text(value) for value in row] for row in cells))
        finally:
            workbook.close()
    except _XLSX_ERRORS as exc:
        cause: BaseException = exc
        while cause.__cause__ is not None:  # openpyxl wraps what its XML parser raised
            cause = cause.__cause__
        if isinstance(cause, DefusedXmlException):
            raise ValidationError("the XLSX workbook declares XML entities, which are refused") from exc
        raise ValidationError(f"the XLSX workbook cannot be read ({type(cause).__name__})") from exc


def _check_archive(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ValidationError("the XLSX workbook is not a valid zip archive") from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ValidationError(f"the XLSX workbook has {len(entries)} parts; at most {MAX_ZIP_ENTRIES} are accepted")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValidationError(
            f"the XLSX workbook unpacks to {unpacked:,} bytes; at most {MAX_UNPACKED_BYTES:,} are accepted"
        )
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= RATIO_CHECKED_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise ValidationError("the XLSX workbook is compressed suspiciously tightly (a zip bomb?)")


def _cell_text(value: object) -> str:
    """A cell as the text a person reads in it: 2012 not "2012.0", dates as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _build_table(fmt: Format, records: Iterable[list[str]]) -> Table:
    """Header and rows from raw records; row 1 is the header, empty rows are skipped."""
    iterator: Iterator[list[str]] = iter(records)
    header_cells = [_clean(cell) for cell in next(iterator, [])]
    while header_cells and not header_cells[-1]:
        header_cells.pop()
    if not header_cells:
        if any(any(_clean(cell) for cell in record) for record in iterator):
            raise ValidationError("row 1 is empty: the first row must hold the column names")
        raise ValidationError("the file is empty" if fmt == "csv" else "the first sheet is empty")
    if len(header_cells) > MAX_COLUMNS:
        raise ValidationError(f"the file has {len(header_cells)} columns; at most {MAX_COLUMNS} are accepted")
    _check_headers(header_cells)
    rows: list[Row] = []
    for number, record in enumerate(iterator, start=2):
        if number > MAX_ROWS + MAX_EMPTY_ROWS + 1:
            raise ValidationError(
                f"the file has more than {MAX_ROWS + MAX_EMPTY_ROWS:,} rows, empty ones included; "
                "delete the empty rows below the data, or split the file into smaller ones"
            )
        cells = [_clean(cell) for cell in record]
        if not any(cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise ValidationError(f"the file has more than {MAX_ROWS:,} rows; split it into smaller files")
        extra = [i for i, cell in enumerate(cells[len(header_cells) :], start=len(header_cells) + 1) if cell]
        if extra:
            raise ValidationError(f"row {number}: column {extra[0]} has a value but no column name in row 1")
        unnamed = [i + 1 for i, (name, cell) in enumerate(zip(header_cells, cells, strict=False)) if cell and not name]
        if unnamed:
            raise ValidationError(f"row {number}: column {unnamed[0]} has a value but no column name in row 1")
        cells += [""] * (len(header_cells) - len(cells))
        rows.append(Row(number, {name: cell for name, cell in zip(header_cells, cells, strict=False) if name}))
    if not rows:
        raise ValidationError("the file has column names but no rows")
    return Table(fmt, [name for name in header_cells if name], rows)


def _check_headers(headers: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in headers:
        if not name:
            continue
        key = normalise_header(name)
        if key in seen:
            raise ValidationError(f'column "{name}" appears twice (also as "{seen[key]}")')
        seen[key] = name


def _clean(cell: str) -> str:
    return unicodedata.normalize("NFC", cell).strip()

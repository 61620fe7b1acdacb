"""In-memory spreadsheets for the fake Sheets API: cells, A1 ranges, rendering, field masks."""

from __future__ import annotations

import ast
import copy
import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

EPOCH = dt.date(1899, 12, 30)
JSON = Any


class ApiError(Exception):
    """An error answered Google-style: {"error": {"code", "message", "status", ...}}."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid(message: str) -> ApiError:
    return ApiError(400, message, "INVALID_ARGUMENT")


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class CellError:
    """A formula's error, as the API gives it in `effectiveValue.errorValue`: a type of the
    ErrorType enum and a message. The cell shows what `ERROR_SHOWN` says (Sheets API
    reference, ErrorType: "Corresponds to the #REF! error", ... "Corresponds to the
    Loading... state")."""

    type: str
    message: str = ""

    @property
    def shown(self) -> str:
        return ERROR_SHOWN[self.type]


ERROR_SHOWN = {
    "ERROR": "#ERROR!",
    "NULL_VALUE": "#NULL!",
    "DIVIDE_BY_ZERO": "#DIV/0!",
    "VALUE": "#VALUE!",
    "REF": "#REF!",
    "NAME": "#NAME?",
    "NUM": "#NUM!",
    "N_A": "#N/A",
    "LOADING": "Loading...",
}


@dataclass(frozen=True)
class PersonChip:
    """A people chip: someone typed `@Anna` and picked her from the list. The cell shows her
    name; the API gives her address only in the cell's chip runs (Sheets API guide "Smart
    chips": the user-entered text holds an `@` placeholder per chip, and "when reading, all
    chipped and non-chipped runs are included"; PersonProperties.email "is always present")."""

    name: str
    email: str


@dataclass
class Cell:
    """One non-empty cell: a value (str, int, float, bool, a formula's error) or a formula,
    and a number format. A people chip's cell shows `value` (the person's name) and carries
    `chip_runs`. A cell `loading` shows Loading... for that many more grid reads (IMPORTRANGE
    fetching, a long formula computing), then its value."""

    value: str | int | float | bool | CellError | None
    formula: str | None = None
    number_format: dict[str, str] | None = None
    chip_runs: list[dict[str, Any]] | None = None
    loading: int = 0


def date_serial(value: dt.date) -> int | float:
    if isinstance(value, dt.datetime):
        delta = value - dt.datetime(1899, 12, 30, tzinfo=value.tzinfo)
        return delta.days + delta.seconds / 86400
    return (value - EPOCH).days


def default_date_pattern(locale: str) -> str:
    return "M/d/yyyy" if locale == "en_US" else "dd/mm/yyyy"


def cell_from_python(value: object, locale: str) -> Cell | None:
    """A cell from a value given by a test (dates become serials with a DATE format)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return Cell(
            date_serial(value),
            number_format={
                "type": "DATE_TIME",
                "pattern": default_date_pattern(locale) + " H:mm:ss",
            },
        )
    if isinstance(value, dt.date):
        return Cell(
            date_serial(value),
            number_format={"type": "DATE", "pattern": default_date_pattern(locale)},
        )
    if isinstance(value, PersonChip):
        return Cell(value.name, chip_runs=[{"chip": {"personProperties": {"email": value.email}}}])
    if isinstance(value, bool | int | float | str | CellError):
        return Cell(value)
    raise TypeError(f"unsupported cell value {value!r}")


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def cell_from_input(value: object, option: str, locale: str) -> Cell | None:
    """A cell from a JSON value written with valueInputOption RAW or USER_ENTERED."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return Cell(value)
    if isinstance(value, int | float):
        return Cell(int(value) if float(value).is_integer() and abs(value) < 2**53 else value)
    text = str(value)
    if option != "USER_ENTERED":
        return Cell(text)
    if text.startswith("'"):
        return Cell(text[1:]) if len(text) > 1 else None
    if text.startswith("=") and len(text) > 1:
        return Cell(None, formula=text)
    stripped = text.strip()
    if _NUMBER.match(stripped):
        number = float(stripped)
        return Cell(int(number) if number.is_integer() and "e" not in stripped.lower() else number)
    if stripped.upper() in ("TRUE", "FALSE"):
        return Cell(stripped.upper() == "TRUE")
    match = _ISO_DATE.match(stripped)
    day: dt.date | None = None
    pattern = "yyyy-mm-dd"
    try:
        if match:
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        elif (match := _SLASH_DATE.match(stripped)) is not None:
            first, second = int(match[1]), int(match[2])
            if locale == "en_US":
                day = dt.date(int(match[3]), first, second)
                pattern = "M/d/yyyy"
            else:
                day = dt.date(int(match[3]), second, first)
                pattern = "dd/mm/yyyy"
    except ValueError:
        day = None
    if day is not None:
        return Cell(date_serial(day), number_format={"type": "DATE", "pattern": pattern})
    return Cell(text)


def _literal_formula(formula: str) -> str | int | float | bool | CellError | None:
    """The value of a formula the fake can evaluate (a literal); otherwise the formula's text."""
    body = formula[1:].strip()
    if len(body) >= 2 and body[0] == body[-1] == '"':
        return body[1:-1].replace('""', '"')
    if _NUMBER.match(body):
        number = float(body)
        return int(number) if number.is_integer() else number
    if body.upper() in ("TRUE", "FALSE"):
        return body.upper() == "TRUE"
    if re.fullmatch(r"[\d.+\-*/() ]+", body):
        try:
            number = _arithmetic(ast.parse(body, mode="eval").body)
        except ZeroDivisionError:
            return CellError("DIVIDE_BY_ZERO", "Function DIVIDE parameter 2 cannot be zero.")
        except (SyntaxError, ValueError):
            return CellError("ERROR", "Formula parse error.")
        return int(number) if float(number).is_integer() else number
    return formula


def _arithmetic(node: ast.expr) -> float:
    """Evaluate +, -, *, / over number literals (formulas such as =4/2)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _arithmetic(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            return left / right
    raise ValueError("not arithmetic")


def cell_value(cell: Cell) -> str | int | float | bool | CellError | None:
    if cell.loading:
        return CellError("LOADING", "Loading...")
    return _literal_formula(cell.formula) if cell.formula is not None else cell.value


def json_number(value: float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def format_date(serial: float, pattern: str) -> str:
    day = EPOCH + dt.timedelta(days=int(serial))
    seconds = round((serial - int(serial)) * 86400)
    out = pattern
    for token, text in (
        ("yyyy", f"{day.year:04d}"),
        ("dd", f"{day.day:02d}"),
        ("mm", f"{day.month:02d}"),
        ("MM", f"{day.month:02d}"),
        ("M", str(day.month)),
        ("d", str(day.day)),
        ("H", str(seconds // 3600)),
        ("ss", f"{seconds % 60:02d}"),
    ):
        out = out.replace(token, text, 1)
    return out.replace(":mm", f":{seconds // 60 % 60:02d}")


def formatted(cell: Cell) -> str:
    value = cell_value(cell)
    if isinstance(value, CellError):
        return value.shown
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if cell.number_format and cell.number_format.get("type") in ("DATE", "DATE_TIME"):
            return format_date(float(value), cell.number_format.get("pattern", "yyyy-mm-dd"))
        return str(json_number(value))
    return "" if value is None else str(value)


def render(cell: Cell | None, value_option: str, date_option: str) -> JSON:
    """A cell as values.get renders it ("" for an empty cell)."""
    if cell is None:
        return ""
    if value_option == "FORMATTED_VALUE":
        return formatted(cell)
    if value_option == "FORMULA" and cell.formula is not None:
        return cell.formula
    value = cell_value(cell)
    if isinstance(value, CellError):
        return value.shown  # values.get gives an error as the text the cell shows
    if isinstance(value, int | float) and not isinstance(value, bool):
        is_date = cell.number_format and cell.number_format.get("type") in ("DATE", "DATE_TIME")
        if is_date and date_option == "FORMATTED_STRING":
            return formatted(cell)
        return json_number(value)
    return value


def extended_value(value: object) -> dict[str, Any]:
    if isinstance(value, CellError):
        return {"errorValue": {"type": value.type, "message": value.message}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": json_number(value)}
    return {"stringValue": "" if value is None else str(value)}


def cell_data(cell: Cell | None) -> dict[str, Any]:
    """A cell as spreadsheets.get renders it in sheets[].data[].rowData[].values[]."""
    if cell is None:
        return {}
    data: dict[str, Any] = {}
    if cell.formula is not None:
        data["userEnteredValue"] = {"formulaValue": cell.formula}
    elif cell.chip_runs:
        data["userEnteredValue"] = {"stringValue": "@"}  # the placeholder of a lone chip
    else:
        data["userEnteredValue"] = extended_value(cell.value)
    data["effectiveValue"] = extended_value(cell_value(cell))
    data["formattedValue"] = formatted(cell)
    if cell.chip_runs:
        data["chipRuns"] = copy.deepcopy(cell.chip_runs)
    if cell.number_format:
        data["userEnteredFormat"] = {"numberFormat": dict(cell.number_format)}
        data["effectiveFormat"] = {"numberFormat": dict(cell.number_format)}
    return data


# --------------------------------------------------------------------------- A1 notation


def column_letters(index0: int) -> str:
    letters = ""
    index = index0 + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index - 1


def quote_sheet(title: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title):
        return title
    return "'" + title.replace("'", "''") + "'"


_CELL = re.compile(r"^([A-Za-z]{0,3})(\d*)$")


@dataclass
class A1:
    """A parsed A1 range; None means open (whole column / row / sheet)."""

    sheet: str | None
    start_row: int | None = None  # 0-based, inclusive
    start_col: int | None = None
    end_row: int | None = None  # 0-based, exclusive
    end_col: int | None = None
    single: bool = False


def split_sheet(text: str) -> tuple[str | None, str | None]:
    """("Sheet", "A1:B2") from "'Sheet'!A1:B2"; (None, text) when there is no sheet part."""
    if text.startswith("'"):
        index = 1
        name = ""
        while index < len(text):
            if text[index] == "'":
                if text[index + 1 : index + 2] == "'":
                    name += "'"
                    index += 2
                    continue
                rest = text[index + 1 :]
                if rest == "":
                    return name, None
                if rest.startswith("!"):
                    return name, rest[1:]
                raise invalid(f"Unable to parse range: {text}")
            name += text[index]
            index += 1
        raise invalid(f"Unable to parse range: {text}")
    if "!" in text:
        sheet, _, cells = text.rpartition("!")
        return sheet, cells
    return None, text


def parse_a1(text: str, sheet_titles: list[str]) -> A1:
    sheet, cells = split_sheet(text)
    if sheet is None and cells in sheet_titles:
        return A1(cells)
    if cells is None or cells == "":
        return A1(sheet)
    parts = cells.split(":")
    if len(parts) > 2:
        raise invalid(f"Unable to parse range: {text}")
    parsed = []
    for part in parts:
        match = _CELL.match(part)
        if not match or (not match[1] and not match[2]):
            raise invalid(f"Unable to parse range: {text}")
        col = column_index(match[1]) if match[1] else None
        row = int(match[2]) - 1 if match[2] else None
        if row is not None and row < 0:
            raise invalid(f"Unable to parse range: {text}")
        parsed.append((row, col))
    (row1, col1) = parsed[0]
    if len(parsed) == 1:
        if row1 is None or col1 is None:
            raise invalid(f"Unable to parse range: {text}")
        return A1(sheet, row1, col1, row1 + 1, col1 + 1, single=True)
    (row2, col2) = parsed[1]
    if row1 is not None and row2 is not None and row2 < row1:
        row1, row2 = row2, row1
    if col1 is not None and col2 is not None and col2 < col1:
        col1, col2 = col2, col1
    return A1(
        sheet,
        row1 if row1 is not None else (0 if row2 is None or col1 is not None else None),
        col1 if col1 is not None else 0,
        row2 + 1 if row2 is not None else None,
        col2 + 1 if col2 is not None else None,
    )


def a1_text(title: str, row0: int, col0: int, row1: int, col1: int) -> str:
    """'Sheet'!A1:B2 for the 0-based half-open box (a single cell reads 'Sheet'!A1)."""
    start = f"{column_letters(col0)}{row0 + 1}"
    end = f"{column_letters(col1 - 1)}{row1}"
    cells = start if (row1 - row0, col1 - col0) == (1, 1) else f"{start}:{end}"
    return f"{quote_sheet(title)}!{cells}"


# --------------------------------------------------------------------------- spreadsheets


@dataclass
class Sheet:
    sheet_id: int
    title: str
    row_count: int
    column_count: int
    rows: list[list[Cell | None]] = field(default_factory=list)
    conditional_formats: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, int]] = field(default_factory=list)  # GridRanges, as the API gives
    frozen_row_count: int = 0
    frozen_column_count: int = 0
    hidden: bool = False
    extra_properties: dict[str, Any] = field(default_factory=dict)
    # sheets[].basicFilter and sheets[].tables, as the API gives them (ranges with all four
    # ends, as Google answers a filter set over open ends: recorded test_basic_filters).
    basic_filter: dict[str, Any] | None = None
    tables: list[dict[str, Any]] = field(default_factory=list)
    # Columns' widths and hidden state set by updateDimensionProperties, by 0-based column.
    columns: dict[int, dict[str, Any]] = field(default_factory=dict)
    # Number formats set on ranges (repeatCell), kept for cells that are empty today:
    # (row0, row1, col0, col1, numberFormat), ends exclusive, None for open ends.
    formats: list[tuple[int, int | None, int, int | None, dict[str, str]]] = field(
        default_factory=list
    )

    def column_metadata(self, col: int) -> dict[str, Any]:
        """A column's DimensionProperties as grid data gives them: its width, always (100
        pixels unless set, as in the recorded traffic), and `hiddenByUser` only when true."""
        properties: dict[str, Any] = {"pixelSize": 100, **self.columns.get(col, {})}
        if not properties.get("hiddenByUser"):
            properties.pop("hiddenByUser", None)
        return properties

    def get(self, row: int, col: int) -> Cell | None:
        """A cell as the API shows it: one under a merged area, but for its top-left one,
        reads empty (gspread issue #1334: a merge is "just one value in the top left cell";
        node-google-spreadsheet issue #400: "reading from a merged cell, other than the
        top-left one - will return empty"). A value written there is kept, unseen."""
        if self.covered(row, col):
            return None
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def covered(self, row: int, col: int) -> bool:
        """Whether a merged area covers the cell (0-based) without starting at it."""
        return any(
            area.get("startRowIndex", 0) <= row < area["endRowIndex"]
            and area.get("startColumnIndex", 0) <= col < area["endColumnIndex"]
            and (row, col) != (area.get("startRowIndex", 0), area.get("startColumnIndex", 0))
            for area in self.merges
        )

    def settle_loading(self) -> None:
        """One grid read has passed: cells still loading are one read nearer their value."""
        for line in self.rows:
            for cell in line:
                if cell is not None and cell.loading:
                    cell.loading -= 1

    def put(self, row: int, col: int, cell: Cell | None) -> None:
        """Set a cell's value; a value written into a formatted range takes its format."""
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= col:
            line.append(None)
        if cell is not None and cell.number_format is None:
            fmt = self.format_at(row, col)
            if fmt is not None:
                cell = replace(cell, number_format=dict(fmt))
        line[col] = cell

    def format_at(self, row: int, col: int) -> dict[str, str] | None:
        for row0, row1, col0, col1, fmt in reversed(self.formats):
            if _within(row, row0, row1) and _within(col, col0, col1):
                return fmt
        return None

    def box(self, ref: A1) -> tuple[int, int, int, int]:
        """The clipped 0-based box (row0, col0, row1, col1) of a range in this sheet."""
        row0 = ref.start_row or 0
        col0 = ref.start_col or 0
        row1 = self.row_count if ref.end_row is None else min(ref.end_row, self.row_count)
        col1 = self.column_count if ref.end_col is None else min(ref.end_col, self.column_count)
        if row0 >= self.row_count or col0 >= self.column_count:
            raise invalid(
                f"Range ({quote_sheet(self.title)}!{column_letters(col0)}{row0 + 1}) exceeds grid"
                f" limits. Max rows: {self.row_count}, max columns: {self.column_count}"
            )
        return row0, col0, row1, col1

    def grid_range(self, area: dict[str, Any]) -> dict[str, Any]:
        """A GridRange with open ends closed at the grid's edges, as Google stores a filter's."""
        return {
            "sheetId": self.sheet_id,
            "startRowIndex": area.get("startRowIndex") or 0,
            "endRowIndex": min(area.get("endRowIndex") or self.row_count, self.row_count),
            "startColumnIndex": area.get("startColumnIndex") or 0,
            "endColumnIndex": min(
                area.get("endColumnIndex") or self.column_count, self.column_count
            ),
        }

    def properties(self, index: int) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_row_count:
            grid["frozenRowCount"] = self.frozen_row_count
        if self.frozen_column_count:
            grid["frozenColumnCount"] = self.frozen_column_count
        props: dict[str, Any] = {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }
        if self.hidden:
            props["hidden"] = True
        props.update(copy.deepcopy(self.extra_properties))
        return props

    def trimmed(self, box: tuple[int, int, int, int], value_option: str, date_option: str) -> list:
        row0, col0, row1, col1 = box
        out: list[list[Any]] = []
        for row in range(row0, min(row1, len(self.rows))):
            line = [
                render(self.get(row, col), value_option, date_option) for col in range(col0, col1)
            ]
            while line and line[-1] == "":
                line.pop()
            out.append(line)
        while out and not out[-1]:
            out.pop()
        return out


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    time_zone: str
    locale: str
    sheets: list[Sheet] = field(default_factory=list)
    shared_with: set[str] | None = None

    def titles(self) -> list[str]:
        return [sheet.title for sheet in self.sheets]

    def sheet(self, title: str | None) -> Sheet:
        if title is None:
            return self.sheets[0]
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        raise invalid(f"Unable to parse range: {quote_sheet(title)}")

    def sheet_by_id(self, sheet_id: int, where: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise invalid(f"Invalid {where}: No grid with id: {sheet_id}")

    def resolve(self, text: str) -> tuple[Sheet, A1]:
        ref = parse_a1(text, self.titles())
        try:
            return self.sheet(ref.sheet), ref
        except ApiError:
            raise invalid(f"Unable to parse range: {text}") from None

    def properties(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "locale": self.locale,
            "autoRecalc": "ON_CHANGE",
            "timeZone": self.time_zone,
            "defaultFormat": copy.deepcopy(DEFAULT_FORMAT),
            "spreadsheetTheme": copy.deepcopy(DEFAULT_THEME),
        }

    def url(self) -> str:
        return f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit"


def _rgb(red: float, green: float, blue: float) -> dict[str, float]:
    return {k: v for k, v in (("red", red), ("green", green), ("blue", blue)) if v}


DEFAULT_FORMAT: dict[str, Any] = {
    "backgroundColor": _rgb(1, 1, 1),
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {},
        "fontFamily": "arial,sans,sans-serif",
        "fontSize": 10,
        "bold": False,
        "italic": False,
        "strikethrough": False,
        "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": _rgb(1, 1, 1)},
}

DEFAULT_THEME: dict[str, Any] = {
    "primaryFontFamily": "Arial",
    "themeColors": [
        {"colorType": kind, "color": {"rgbColor": rgb}}
        for kind, rgb in (
            ("TEXT", {}),
            ("BACKGROUND", _rgb(1, 1, 1)),
            ("ACCENT1", _rgb(0.25882354, 0.52156866, 0.95686275)),
            ("ACCENT2", _rgb(0.91764706, 0.2627451, 0.20784314)),
            ("ACCENT3", _rgb(0.9843137, 0.7372549, 0.015686275)),
            ("ACCENT4", _rgb(0.20392157, 0.65882355, 0.3254902)),
            ("ACCENT5", _rgb(1, 0.42745098, 0.003921569)),
            ("ACCENT6", _rgb(0.27450982, 0.7411765, 0.7764706)),
            ("LINK", _rgb(0.06666667, 0.33333334, 0.8)),
        )
    ],
}


# --------------------------------------------------------------------------- normalising output

_COLOR_KEYS = {"red", "green", "blue", "alpha"}


def strip_defaults(value: Any) -> Any:
    """Drop what the real service omits: zero colour channels and sheetId 0 in grid ranges."""
    if isinstance(value, list):
        return [strip_defaults(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    is_color = bool(value) and set(value) <= _COLOR_KEYS
    for key, item in value.items():
        if is_color and item == 0:
            continue
        if key == "sheetId" and item == 0 and ("startRowIndex" in value or "endRowIndex" in value):
            continue
        out[key] = strip_defaults(item)
    return out


# --------------------------------------------------------------------------- field masks

Mask = dict[str, "Mask"]


def parse_fields(text: str) -> Mask:
    """A field mask such as "properties(timeZone),sheets.properties" as a tree ({} = all)."""
    position = 0

    def parse_list() -> Mask:
        nonlocal position
        tree: Mask = {}
        while position < len(text):
            char = text[position]
            if char == ")":
                return tree
            if char in ", ":
                position += 1
                continue
            match = re.compile(r"[A-Za-z0-9_*]+(?:[./][A-Za-z0-9_*]+)*").match(text, position)
            if not match:
                raise invalid(f"Invalid field selection {text}")
            position = match.end()
            names = re.split(r"[./]", match.group())
            node = tree
            for name in names[:-1]:
                node = node.setdefault(name, {})
            last = names[-1]
            if position < len(text) and text[position] == "(":
                position += 1
                sub = parse_list()
                if position >= len(text) or text[position] != ")":
                    raise invalid(f"Invalid field selection {text}")
                position += 1
                merge(node.setdefault(last, {}), sub)
            else:
                node[last] = {}
                if last == "*":
                    pass
        return tree

    def merge(into: Mask, other: Mask) -> None:
        for key, sub in other.items():
            merge(into.setdefault(key, {}), sub)

    tree = parse_list()
    if position != len(text):
        raise invalid(f"Invalid field selection {text}")
    return tree


def apply_mask(value: Any, mask: Mask) -> Any:
    if not mask or "*" in mask:
        return value
    if isinstance(value, list):
        return [apply_mask(item, mask) for item in value]
    if isinstance(value, dict):
        return {key: apply_mask(value[key], sub) for key, sub in mask.items() if key in value}
    return value


def mask_wants(mask: Mask | None, *path: str) -> bool:
    """Whether a mask selects something at or under path (no mask: everything)."""
    if mask is None:
        return True
    node = mask
    for name in path:
        if not node or "*" in node:
            return True
        if name not in node:
            return False
        node = node[name]
    return True


def _within(index: int, start: int, end: int | None) -> bool:
    return start <= index and (end is None or index < end)

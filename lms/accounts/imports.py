"""Bulk import and export of cadres from Excel workbooks.

Upload → job "accounts.import_preview" reads and checks every row → the administrator sees the
preview → confirms → job "accounts.import_commit" checks every row again and creates every account
in one transaction, or none. The export writes the template's columns, so an edited export can be
imported again (new rows; rows of existing accounts are reported as taken phones).

Row errors are stored as message codes with parameters ({"code": ..., "params": {...}}) and
rendered from lms.messages when shown.
"""
from __future__ import annotations

import math
import os
import re
import secrets
import shutil
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator

import sqlalchemy as sa
from flask import current_app
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.escape import unescape
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from lms import jobs
from lms.accounts.audit import Origin, record
from lms.accounts.models import (CadreImport, CadreProfile, CadreType, EnterpriseType, Gender,
                                 ImportStatus, Role, RoleGrant, User, new_session_nonce)
from lms.accounts.permissions import (admin_scope_paths, is_admin, is_platform_admin,
                                      path_in_scope, require_admin, unit_scope_condition,
                                      visible_phone)
from lms.accounts.services import (CADRE_TYPE_LABELS, ENTERPRISE_TYPE_LABELS, GENDER_LABELS,
                                   UserFilter, check_password_strength, clean_name, clean_phone,
                                   clean_username, generate_initial_password, hash_password,
                                   units_in_scope, users_query)
from lms.db import Paged
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.extensions import db
from lms.jobs import Job, JobStatus
from lms.messages import render
from lms.org.models import Unit, UnitKind

#: most data rows one workbook may hold
MAX_ROWS = 10_000
#: report progress to the polling page every this many rows
PROGRESS_EVERY = 200
#: a workbook whose parts unpack to more than this is refused (a zip bomb is not a name list)
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
#: header rows are looked for among the first rows (a title row above the header is tolerated)
HEADER_SCAN_ROWS = 10
#: rows per INSERT statement when creating the accounts
INSERT_CHUNK = 1000
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

DATA_SHEET = "干部名册"
HELP_SHEET = "填写说明"
UNITS_SHEET = "单位列表"

STATUS_LABELS = {
    ImportStatus.PARSING: "预检中",
    ImportStatus.PREVIEW: "待确认",
    ImportStatus.INVALID: "文件无效",
    ImportStatus.COMMITTING: "导入中",
    ImportStatus.DONE: "已导入",
    ImportStatus.FAILED: "导入失败",
    ImportStatus.CANCELLED: "已取消",
}
ACTIVE_LABELS = {True: "在用", False: "停用"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    #: the header must be present in an uploaded workbook
    required: bool
    #: longest accepted value (characters); None: checked by its own rule
    max_len: int | None
    #: message code of the column's explanation on the 填写说明 sheet
    help_code: str
    width: int = 14


COLUMNS: list[Column] = [
    Column("name", "姓名", True, None, "import_help_name", 10),
    Column("phone", "手机号", True, None, "import_help_phone", 15),
    Column("unit", "单位", True, 100, "import_help_unit", 30),
    Column("position", "职务", True, 50, "import_help_position", 14),
    Column("cadre_type", "专兼职", True, None, "import_help_cadre_type", 9),
    Column("enterprise_type", "企业类型", True, None, "import_help_enterprise_type", 11),
    Column("gender", "性别", True, None, "import_help_gender", 7),
    Column("username", "用户名", False, None, "import_help_username", 14),
    Column("email", "邮箱", False, 120, "import_help_email", 22),
    Column("ethnicity", "民族", False, 20, "import_help_ethnicity", 8),
    Column("education", "学历", False, 20, "import_help_education", 10),
    Column("political_status", "政治面貌", False, 20, "import_help_political_status", 12),
]
BY_KEY = {c.key: c for c in COLUMNS}
#: other headers people write for the same columns
HEADER_ALIASES = {
    "手机": "phone", "手机号码": "phone", "联系电话": "phone", "移动电话": "phone",
    "单位名称": "unit", "所在单位": "unit", "工作单位": "unit", "所属单位": "unit",
    "职位": "position", "专职/兼职": "cadre_type", "专/兼职": "cadre_type",
    "电子邮箱": "email", "邮箱地址": "email", "电子邮件": "email",
    "文化程度": "education",
}
EXPORT_STATUS_HEADER = "账号状态"

CHOICES: dict[str, dict[str, object]] = {
    "cadre_type": {v: k for k, v in CADRE_TYPE_LABELS.items()},
    "enterprise_type": {**{v: k for k, v in ENTERPRISE_TYPE_LABELS.items()},
                        "非公企业": EnterpriseType.NON_PUBLIC, "国有企业": EnterpriseType.STATE_OWNED,
                        "机关事业单位": EnterpriseType.PUBLIC_SECTOR},
    "gender": {**{v: k for k, v in GENDER_LABELS.items()}, "男性": Gender.MALE, "女性": Gender.FEMALE},
}
CHOICE_LISTS = {"cadre_type": list(CADRE_TYPE_LABELS.values()),
                "enterprise_type": list(ENTERPRISE_TYPE_LABELS.values()),
                "gender": list(GENDER_LABELS.values())}
#: a column whose value is needed on every row (others may be left blank)
VALUE_REQUIRED = ("unit", "cadre_type", "enterprise_type")

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HEADER_SUFFIX_RE = re.compile(r"\s*[（(]\s*(必填|选填|可选|可不填)\s*[)）]\s*$")
UNIT_PATH_SPLIT_RE = re.compile(r"\s*[/／]\s*")
#: characters a spreadsheet takes as the start of a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------- small helpers

def _normalise_header(value) -> str:
    text = "" if value is None else str(value)
    text = HEADER_SUFFIX_RE.sub("", text.strip())
    return text.strip().strip("*＊").strip()


def _column_for_header(value) -> str | None:
    text = _normalise_header(value)
    for column in COLUMNS:
        if text == column.header:
            return column.key
    return HEADER_ALIASES.get(text)


def normalise_unit_name(name: str) -> str:
    """Unit names compare after trimming and with either kind of parentheses."""
    return " ".join(name.split()).replace("（", "(").replace("）", ")")


def _cell_text(value) -> str:
    """A cell as text; never evaluated. Formulas come back as their text, starting with "="."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = unescape(value) if "_x" in value else value  # Excel writes control characters as _x0007_
    elif isinstance(value, bool):
        text = "是" if value else "否"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            text = str(int(value))  # a phone number typed as a number
        else:
            text = repr(value)
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    elif isinstance(value, (date, time)):
        text = value.isoformat()
    else:  # array and data-table formulas
        text = str(getattr(value, "text", None) or value)
    text = text.strip()
    # the export's protection of formula-like text, undone
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text


def safe_cell(value):
    """Text that a spreadsheet would take as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def error_text(error: dict) -> str:
    """A stored row error ({"code", "params"}) in Chinese."""
    return render(error["code"], **(error.get("params") or {}))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def import_path(imp: CadreImport, import_dir: Path | str) -> Path:
    return Path(import_dir) / imp.stored_name


# ---------------------------------------------------------------- reading a workbook

@dataclass
class RawRow:
    """One non-blank data row: its row number in Excel and its cells as text, by column key."""
    row: int
    values: dict[str, str]


Progress = Callable[[int, int], None]


def _sniff(path: Path) -> None:
    """File-level refusals that need no spreadsheet parser."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ValidationFailed("import_file_missing") from None
    if size == 0:
        raise ValidationFailed("import_file_empty")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ValidationFailed("import_old_xls")
    if not magic.startswith(b"PK") or not zipfile.is_zipfile(path):
        raise ValidationFailed("import_not_xlsx")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValidationFailed("import_not_xlsx") from None
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/worksheets/") for n in names):
        raise ValidationFailed("import_not_xlsx")
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValidationFailed("import_unpacked_too_large")


def _find_header(rows: Iterator[tuple]) -> tuple[int, dict[str, int]]:
    """(row number of the header, {column key: cell index}) or a refusal naming missing columns."""
    first_seen: dict[str, int] | None = None
    for number, cells in enumerate(rows, start=1):
        mapping: dict[str, int] = {}
        duplicate = None
        for index, cell in enumerate(cells):
            key = _column_for_header(cell)
            if key is None:
                continue
            if key in mapping:
                duplicate = BY_KEY[key].header
            mapping.setdefault(key, index)
        if "name" in mapping or len(mapping) >= 3:
            if duplicate:
                raise ValidationFailed("import_duplicate_column", column=duplicate)
            missing = [c.header for c in COLUMNS if c.required and c.key not in mapping]
            if missing:
                raise ValidationFailed("import_missing_columns", columns="、".join(missing))
            return number, mapping
        if first_seen is None and any(_cell_text(c) for c in cells):
            first_seen = mapping
        if number >= HEADER_SCAN_ROWS:
            break
    if first_seen is None:
        raise ValidationFailed("import_empty")
    missing = [c.header for c in COLUMNS if c.required and c.key not in first_seen]
    raise ValidationFailed("import_missing_columns", columns="、".join(missing))


def read_workbook(path: Path | str, *, max_rows: int = MAX_ROWS,
                  progress: Progress | None = None) -> list[RawRow]:
    """The data rows of a cadre workbook, columns mapped by their header text.

    Refuses (ValidationFailed) a file that is not an .xlsx workbook, one without the required
    columns, without data rows, or with more than `max_rows` of them. Blank rows are skipped;
    nothing is evaluated (read with openpyxl's read-only mode, formulas stay text).
    """
    path = Path(path)
    _sniff(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign zip
        raise ValidationFailed("import_not_xlsx") from None
    try:
        sheets = workbook.worksheets
        if not sheets:
            raise ValidationFailed("import_not_xlsx")
        sheet = workbook[DATA_SHEET] if DATA_SHEET in workbook.sheetnames else sheets[0]
        estimate = max((sheet.max_row or 0) - 1, 0)
        sheet.reset_dimensions()  # a wrong <dimension> must not hide rows
        rows = sheet.iter_rows(values_only=True)
        header_row, mapping = _find_header(rows)
        wanted = sorted(mapping.items(), key=lambda kv: kv[1])
        result: list[RawRow] = []
        count = 0
        for number, cells in enumerate(rows, start=header_row + 1):
            width = len(cells)
            values = {}
            for key, index in wanted:
                if index < width:
                    text = _cell_text(cells[index])
                    if text:
                        values[key] = text
            if not values:
                continue
            count += 1
            if count <= max_rows:
                result.append(RawRow(number, values))
            if progress and count % PROGRESS_EVERY == 0:
                progress(count, max(estimate, count))
    except ValidationFailed:
        raise
    except Exception:  # damaged sheet XML inside a valid zip
        raise ValidationFailed("import_not_xlsx") from None
    finally:
        workbook.close()
    if count == 0:
        raise ValidationFailed("import_empty")
    if count > max_rows:
        raise ValidationFailed("import_too_many_rows", max=max_rows, rows=count)
    return result


# ---------------------------------------------------------------- checking rows

@dataclass
class CheckedRow:
    row: int
    values: dict[str, str]
    errors: list[dict] = field(default_factory=list)
    name: str | None = None
    phone: str | None = None
    username: str | None = None
    unit_id: int | None = None
    position: str | None = None
    cadre_type: CadreType | None = None
    enterprise_type: EnterpriseType | None = None
    gender: Gender | None = None
    email: str | None = None
    ethnicity: str | None = None
    education: str | None = None
    political_status: str | None = None

    def error(self, code: str, **params) -> None:
        self.errors.append({"code": code, "params": params})

    def to_json(self) -> dict:
        return {"row": self.row, "values": self.values, "errors": self.errors,
                "unit_id": self.unit_id, "phone": self.phone}


@dataclass(frozen=True)
class _UnitRow:
    id: int
    name: str
    path: str
    active: bool
    parent_id: int | None


class UnitResolver:
    """Unit names of a workbook to units: exact name (trimmed, either parentheses), or
    "上级单位/单位" to tell apart units of one name. Only units in `scope` can be chosen; a unit
    outside it is refused without saying anything about it."""

    def __init__(self, scope: list[str] | None) -> None:
        rows = db.session.execute(
            sa.select(Unit.id, Unit.name, Unit.path, Unit.active, Unit.parent_id)).all()
        self.scope = scope
        self.by_id = {r.id: _UnitRow(r.id, r.name, r.path, r.active, r.parent_id) for r in rows}
        self.by_name: dict[str, list[_UnitRow]] = defaultdict(list)
        for unit in self.by_id.values():
            self.by_name[normalise_unit_name(unit.name)].append(unit)
        self._cache: dict[str, tuple[int | None, tuple[str, dict] | None]] = {}

    def _candidates(self, key: str) -> list[_UnitRow]:
        found = self.by_name.get(key)
        if found:
            return found
        parts = [p for p in UNIT_PATH_SPLIT_RE.split(key) if p]
        if len(parts) < 2:
            return []
        matches = []
        for unit in self.by_name.get(parts[-1], []):
            node, ok = unit, True
            for ancestor_name in reversed(parts[:-1]):
                node = self.by_id.get(node.parent_id) if node.parent_id else None
                if node is None or normalise_unit_name(node.name) != ancestor_name:
                    ok = False
                    break
            if ok:
                matches.append(unit)
        return matches

    def resolve(self, text: str) -> tuple[int | None, tuple[str, dict] | None]:
        """(unit id, None) or (None, (error code, params))."""
        key = normalise_unit_name(text)
        if key in self._cache:
            return self._cache[key]
        candidates = self._candidates(key)
        in_scope = [u for u in candidates if path_in_scope(u.path, self.scope)]
        active = [u for u in in_scope if u.active]
        if not candidates:
            result = (None, ("import_row_unit_unknown", {"unit": text}))
        elif not in_scope:
            result = (None, ("import_row_unit_out_of_scope", {"unit": text}))
        elif len(active) == 1:
            result = (active[0].id, None)
        elif len(active) > 1:
            result = (None, ("import_row_unit_ambiguous", {"unit": text, "count": len(active)}))
        else:
            result = (None, ("import_row_unit_inactive", {"unit": text}))
        self._cache[key] = result
        return result


def _check_text(row: CheckedRow, key: str) -> str | None:
    value = row.values.get(key)
    if value is None:
        return None
    column = BY_KEY[key]
    value = " ".join(value.split())
    if column.max_len and len(value) > column.max_len:
        row.error("import_row_too_long", column=column.header, max=column.max_len)
        return None
    return value


def _check_row(row: CheckedRow, units: UnitResolver) -> None:
    values = row.values
    formula = {k for k, v in values.items() if v.startswith("=")}
    for key in formula:
        row.error("import_row_formula", column=BY_KEY[key].header)

    if "name" not in formula:
        try:
            row.name = clean_name(values.get("name"))
        except ValidationFailed as exc:
            row.error(exc.code, **exc.params)
    if "phone" not in formula:
        try:
            row.phone = clean_phone(values.get("phone"))
        except ValidationFailed as exc:
            row.error(exc.code, **exc.params)
    if "username" not in formula:
        try:
            row.username = clean_username(values.get("username"))
        except ValidationFailed as exc:
            row.error(exc.code, **exc.params)
    if not values.get("phone") and not values.get("username"):
        row.error("login_required_field")

    for key in VALUE_REQUIRED:
        if key not in values:
            row.error("import_row_required", column=BY_KEY[key].header)
    if "unit" in values and "unit" not in formula:
        text = _check_text(row, "unit")
        if text is not None:
            row.unit_id, problem = units.resolve(text)
            if problem:
                row.error(problem[0], **problem[1])

    for key in ("cadre_type", "enterprise_type", "gender"):
        text = values.get(key)
        if text is None or key in formula:
            continue
        choice = CHOICES[key].get(" ".join(text.split()))
        if choice is None:
            row.error("import_row_choice", column=BY_KEY[key].header, value=text[:20],
                      choices="、".join(CHOICE_LISTS[key]))
        else:
            setattr(row, key, choice)

    for key in ("position", "email", "ethnicity", "education", "political_status"):
        if key not in formula:
            setattr(row, key, _check_text(row, key))
    if row.email and not EMAIL_RE.match(row.email):
        row.error("import_row_email_invalid", email=row.email[:40])
        row.email = None


def _taken(column, values: Iterable[str]) -> set[str]:
    values = sorted(set(values))
    found: set[str] = set()
    for chunk in _chunks(values, 500):
        found.update(db.session.scalars(sa.select(column).where(column.in_(chunk))))
    return found


def _rows_list(numbers: list[int]) -> str:
    shown = "、".join(str(n) for n in numbers[:10])
    return shown + ("…" if len(numbers) > 10 else "")


def validate_rows(raw_rows: list[RawRow], scope: list[str] | None, *,
                  progress: Progress | None = None) -> list[CheckedRow]:
    """Check every row: required values, formats, lengths, allowed values, the unit (known,
    unambiguous, active, inside `scope`), phones and usernames unique in the file and unused
    by existing accounts. Reads only; each row's problems are codes with parameters."""
    units = UnitResolver(scope)
    checked: list[CheckedRow] = []
    total = len(raw_rows)
    for index, raw in enumerate(raw_rows, start=1):
        row = CheckedRow(raw.row, dict(raw.values))
        _check_row(row, units)
        checked.append(row)
        if progress and index % PROGRESS_EVERY == 0:
            progress(index, total)

    for attr, column, dup_code, taken_code in (
            ("phone", User.phone, "import_row_phone_duplicate", "phone_taken"),
            ("username", User.username, "import_row_username_duplicate", "username_taken")):
        seen: dict[str, list[CheckedRow]] = defaultdict(list)
        for row in checked:
            value = getattr(row, attr)
            if value:
                seen[value].append(row)
        for value, rows in seen.items():
            if len(rows) > 1:
                numbers = _rows_list([r.row for r in rows])
                for row in rows:
                    row.error(dup_code, **{attr: value, "rows": numbers})
        for value in _taken(column, seen):
            for row in seen[value]:
                row.error(taken_code, **{attr: value})
    return checked


# ---------------------------------------------------------------- who may see an import

def _scope_unit(actor: User) -> Unit:
    """The importer's scope unit: the district federation for a platform administrator, the
    (first) administered unit for a unit administrator."""
    if is_platform_admin(actor):
        root = db.session.scalar(sa.select(Unit).where(Unit.kind == UnitKind.DISTRICT))
        return root or actor.unit
    paths = admin_scope_paths(actor) or []
    for grant in actor.role_grants:
        if grant.role is Role.UNIT_ADMIN and grant.unit is not None and grant.unit.path == paths[0]:
            return grant.unit
    raise PermissionDenied("forbidden")


def can_view_import(actor: User | None, imp: CadreImport) -> bool:
    """Platform administrators see every import; a unit administrator sees the imports they
    uploaded and those whose scope unit lies in their subtree."""
    if not is_admin(actor):
        return False
    if is_platform_admin(actor) or imp.created_by_id == actor.id:
        return True
    unit = db.session.get(Unit, imp.scope_unit_id)
    return unit is not None and path_in_scope(unit.path, admin_scope_paths(actor))


def get_import(actor: User, import_id: int, *, with_rows: bool = True) -> CadreImport:
    """An import the actor may see; any other is reported as not existing. Without
    `with_rows` the stored rows (megabytes for a large file) are left unread."""
    require_admin(actor)
    options = [] if with_rows else [defer(CadreImport.rows)]
    imp = db.session.get(CadreImport, import_id, options=options)
    if imp is None or not can_view_import(actor, imp):
        raise NotFound("import_not_found")
    return imp


def imports_query(actor: User):
    """Imports the actor may see, newest first (their stored rows left unread)."""
    require_admin(actor)
    stmt = sa.select(CadreImport).options(defer(CadreImport.rows))
    if not is_platform_admin(actor):
        stmt = (stmt.join(Unit, Unit.id == CadreImport.scope_unit_id)
                .where(sa.or_(CadreImport.created_by_id == actor.id,
                              unit_scope_condition(admin_scope_paths(actor)))))
    return stmt.order_by(CadreImport.created_at.desc(), CadreImport.id.desc())


def uploader_names(imports: list[CadreImport]) -> dict[int, str]:
    ids = {i.created_by_id for i in imports}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


@dataclass(frozen=True)
class ImportState:
    """What the page and the polling script show: the status (a failed job counts as the
    import's failure), progress, and the reason of a refusal."""
    status: ImportStatus
    done: int
    total: int
    reason: str | None

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def finished(self) -> bool:
        return self.status not in (ImportStatus.PARSING, ImportStatus.COMMITTING)

    def as_json(self) -> dict:
        return {"status": self.status.value, "label": self.label, "progress_done": self.done,
                "progress_total": self.total, "finished": self.finished}


def import_state(imp: CadreImport) -> ImportState:
    job = db.session.get(Job, imp.job_id) if imp.job_id else None
    status, reason = imp.status, imp.file_error
    if (job is not None and job.status is JobStatus.FAILED
            and status in (ImportStatus.PARSING, ImportStatus.COMMITTING)):
        # the job's own error is for the worker log; people get the catalogue's words
        status = ImportStatus.INVALID if status is ImportStatus.PARSING else ImportStatus.FAILED
        reason = render("import_job_failed")
    done = job.progress_done if job else 0
    total = job.progress_total if job else 0
    return ImportState(status, done, total, reason)


@dataclass
class RowPage(Paged):
    """A page of an import's stored rows, shaped for the `pager` macro."""
    items: list[dict]
    page: int
    per_page: int
    total: int


def row_page(imp: CadreImport, *, page: int = 1, per_page: int = 50,
             only_errors: bool = False) -> RowPage:
    rows = [r for r in (imp.rows or []) if r.get("errors")] if only_errors else (imp.rows or [])
    pages = max(1, math.ceil(len(rows) / per_page))
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page
    return RowPage(rows[start:start + per_page], page, per_page, len(rows))


def unit_counts(imp: CadreImport) -> list[tuple[Unit, int]]:
    """Units of an import's rows with how many rows each, for links to the user list."""
    counts: dict[int, int] = defaultdict(int)
    for row in imp.rows or []:
        if row.get("unit_id"):
            counts[row["unit_id"]] += 1
    if not counts:
        return []
    units = db.session.scalars(sa.select(Unit).where(Unit.id.in_(counts))).all()
    return sorted(((u, counts[u.id]) for u in units), key=lambda p: (-p[1], p[0].path))


# ---------------------------------------------------------------- upload, preview, confirm

def _display_filename(filename: str | None) -> str:
    name = re.split(r"[\\/]", filename or "")[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return (name or "未命名.xlsx")[:255]


def start_import(origin: Origin, stream: IO[bytes], filename: str | None, *,
                 import_dir: Path | str) -> CadreImport:
    """Store an uploaded workbook under a random name and queue its preview. Nothing is
    imported until the administrator confirms."""
    actor = origin.actor
    require_admin(actor)
    scope_unit = _scope_unit(actor)
    stored_name = secrets.token_hex(16) + ".xlsx"
    path = Path(import_dir) / stored_name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        shutil.copyfileobj(stream, fh, 1024 * 1024)
        size = fh.tell()
    imp = CadreImport(created_by_id=actor.id, scope_unit_id=scope_unit.id, created_at=origin.now,
                      filename=_display_filename(filename), stored_name=stored_name,
                      status=ImportStatus.PARSING, rows=[])
    db.session.add(imp)
    db.session.flush()
    job = jobs.enqueue("accounts.import_preview", {"import_id": imp.id}, now=origin.now,
                       max_attempts=2)
    imp.job_id = job.id
    record(origin, "import.upload", "import", imp.id, f"上传干部名册 {imp.filename}",
           unit_path=scope_unit.path, details={"filename": imp.filename, "bytes": size})
    db.session.flush()
    return imp


def _lock_import(import_id: int) -> CadreImport:
    """The import row as it is now, locked until the job commits (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers), so a cancel cannot be overwritten."""
    return db.session.get(CadreImport, import_id, with_for_update=True, populate_existing=True)


def _remove_upload(imp: CadreImport) -> None:
    try:
        import_path(imp, current_app.config["IMPORT_DIR"]).unlink(missing_ok=True)
    except OSError:
        pass


def preview_import(imp: CadreImport, path: Path, *, progress: Progress | None = None
                   ) -> tuple[list[CheckedRow], str | None]:
    """Read and check an uploaded workbook for its uploader's current scope (reads only):
    (checked rows, None) or ([], the file's refusal in Chinese)."""
    actor = db.session.get(User, imp.created_by_id)
    scope = admin_scope_paths(actor) if is_admin(actor) else []
    try:
        raw = read_workbook(path, progress=progress)
    except ValidationFailed as exc:
        return [], exc.message
    return validate_rows(raw, scope), None


def _store_preview(imp: CadreImport, checked: list[CheckedRow], file_error: str | None,
                   now: datetime) -> None:
    if file_error:
        imp.status, imp.file_error = ImportStatus.INVALID, file_error[:300]
        imp.rows, imp.total_rows, imp.valid_rows, imp.error_rows = [], 0, 0, 0
    else:
        imp.status, imp.file_error = ImportStatus.PREVIEW, None
        imp.rows = [r.to_json() for r in checked]
        imp.total_rows = len(checked)
        imp.error_rows = sum(1 for r in checked if r.errors)
        imp.valid_rows = imp.total_rows - imp.error_rows
    imp.finished_at = now
    db.session.flush()


@jobs.register("accounts.import_preview")
def preview_job(ctx: jobs.JobContext) -> None:
    import_id = ctx.payload["import_id"]
    imp = db.session.get(CadreImport, import_id)
    if imp is None or imp.status is not ImportStatus.PARSING:
        return
    path = import_path(imp, current_app.config["IMPORT_DIR"])
    checked, file_error = preview_import(imp, path, progress=ctx.progress)
    ctx.progress(len(checked), len(checked))
    jobs.begin_writes()
    imp = _lock_import(import_id)
    if imp.status is not ImportStatus.PARSING:  # cancelled meanwhile
        return
    _store_preview(imp, checked, file_error, ctx.now)
    _remove_upload(imp)  # the rows are stored; the file is not needed any more


def confirm_import(origin: Origin, imp: CadreImport, password: str | None = None) -> str | None:
    """Queue the import of a preview without errors (all rows or none). The initial password
    is the administrator's (checked for strength) or generated; returns the generated one."""
    actor = origin.actor
    if not can_view_import(actor, imp):
        raise NotFound("import_not_found")
    if imp.status is not ImportStatus.PREVIEW:
        raise Conflict("import_not_ready", status=STATUS_LABELS[imp.status])
    if imp.error_rows:
        raise ValidationFailed("import_has_errors", count=imp.error_rows)
    if not imp.valid_rows:
        raise ValidationFailed("import_empty")
    generated = None
    if password:
        check_password_strength(password)
    else:
        password = generated = generate_initial_password()
    password_hash = hash_password(password)  # once for the whole batch
    claimed = db.session.execute(
        sa.update(CadreImport)
        .where(CadreImport.id == imp.id, CadreImport.status == ImportStatus.PREVIEW)
        .values(status=ImportStatus.COMMITTING))
    if claimed.rowcount != 1:  # confirmed twice at once
        db.session.refresh(imp)
        raise Conflict("import_not_ready", status=STATUS_LABELS[imp.status])
    job = jobs.enqueue("accounts.import_commit",
                       {"import_id": imp.id, "actor_id": actor.id, "ip": origin.ip,
                        "password_hash": password_hash}, now=origin.now)
    imp.status, imp.job_id = ImportStatus.COMMITTING, job.id
    db.session.flush()
    return generated


def cancel_import(origin: Origin, imp: CadreImport) -> CadreImport:
    """Cancel an import not yet confirmed."""
    if not can_view_import(origin.actor, imp):
        raise NotFound("import_not_found")
    result = db.session.execute(
        sa.update(CadreImport)
        .where(CadreImport.id == imp.id,
               CadreImport.status.in_([ImportStatus.PARSING, ImportStatus.PREVIEW]))
        .values(status=ImportStatus.CANCELLED, finished_at=origin.now))
    if result.rowcount != 1:
        db.session.refresh(imp)
        raise Conflict("import_cannot_cancel", status=STATUS_LABELS[imp.status])
    db.session.refresh(imp)
    unit = db.session.get(Unit, imp.scope_unit_id)
    record(origin, "import.cancel", "import", imp.id, f"取消导入 {imp.filename}",
           unit_path=unit.path if unit else None)
    return imp


def _stale_reason(problems: list[CheckedRow]) -> str:
    parts = [render("import_row_at", row=r.row, message=error_text(r.errors[0]).rstrip("。"))
             for r in problems[:3]]
    detail = "；".join(parts)
    if len(problems) > 3:
        detail += render("import_stale_more", count=len(problems))
    return render("import_stale", detail=detail)[:300]


def _insert_accounts(rows: list[CheckedRow], password_hash: str, now: datetime) -> int:
    """All accounts of an import in bulk INSERTs: users, profiles, learner roles."""
    user_ids: list[int] = []
    for chunk in _chunks(rows, INSERT_CHUNK):
        user_ids.extend(db.session.scalars(
            sa.insert(User).returning(User.id, sort_by_parameter_order=True),
            [{"name": r.name, "phone": r.phone, "username": r.username, "unit_id": r.unit_id,
              "password_hash": password_hash, "active": True, "must_change_password": True,
              "session_nonce": new_session_nonce(), "created_at": now, "updated_at": now}
             for r in chunk]).all())
    pairs = list(zip(user_ids, rows))
    for chunk in _chunks(pairs, INSERT_CHUNK):
        db.session.execute(sa.insert(CadreProfile), [
            {"user_id": uid, "position": r.position, "cadre_type": r.cadre_type,
             "enterprise_type": r.enterprise_type, "gender": r.gender, "email": r.email,
             "ethnicity": r.ethnicity, "education": r.education,
             "political_status": r.political_status} for uid, r in chunk])
        db.session.execute(sa.insert(RoleGrant), [
            {"user_id": uid, "role": Role.LEARNER, "unit_id": None, "granted_at": now}
            for uid, _ in chunk])
    return len(user_ids)


def commit_import(imp: CadreImport, actor: User | None, password_hash: str, *,
                  ip: str | None, now: datetime, progress: Progress | None = None) -> None:
    """Check every row again with the confirming administrator's current scope, then create
    all accounts (must change the password at first sign-in) in one transaction; if any row
    fails now (a phone taken since the preview ...) nothing is written and the import fails."""
    scope = admin_scope_paths(actor) if is_admin(actor) else []
    raw = [RawRow(r["row"], r["values"]) for r in imp.rows or []]
    checked = validate_rows(raw, scope, progress=progress)
    if progress:
        progress(len(checked), len(checked))
    import_id = imp.id
    jobs.begin_writes()
    imp = _lock_import(import_id)
    if imp.status is not ImportStatus.COMMITTING:
        return
    problems = [r for r in checked if r.errors]
    if actor is None or not is_admin(actor):
        _fail(imp, render("forbidden"), checked, now)
        return
    if problems:
        _fail(imp, _stale_reason(problems), checked, now)
        return
    try:
        with db.session.begin_nested():
            created = _insert_accounts(checked, password_hash, now)
    except IntegrityError:  # a phone or username taken after the check above
        _fail(imp, render("import_stale", detail=render("import_stale_conflict")), checked, now)
        return
    imp.status, imp.imported_count, imp.finished_at = ImportStatus.DONE, created, now
    imp.rows = [r.to_json() for r in checked]
    unit = db.session.get(Unit, imp.scope_unit_id)
    per_unit: dict[int, int] = defaultdict(int)
    for row in checked:
        per_unit[row.unit_id] += 1
    record(Origin(actor=actor, ip=ip, now=now), "import.commit", "import", imp.id,
           f"导入干部 {created} 人（{imp.filename}）", unit_path=unit.path if unit else None,
           details={"created": created, "rows": imp.total_rows, "filename": imp.filename,
                    "units": {str(k): v for k, v in per_unit.items()}})
    db.session.flush()


def _fail(imp: CadreImport, reason: str, checked: list[CheckedRow], now: datetime) -> None:
    imp.status, imp.file_error, imp.finished_at = ImportStatus.FAILED, reason[:300], now
    imp.rows = [r.to_json() for r in checked]
    imp.error_rows = sum(1 for r in checked if r.errors)
    imp.valid_rows = len(checked) - imp.error_rows
    db.session.flush()


@jobs.register("accounts.import_commit")
def commit_job(ctx: jobs.JobContext) -> None:
    payload = ctx.payload
    imp = db.session.get(CadreImport, payload["import_id"])
    if imp is None or imp.status is not ImportStatus.COMMITTING:
        return
    actor = db.session.get(User, payload["actor_id"])
    commit_import(imp, actor, payload["password_hash"], ip=payload.get("ip"), now=ctx.now,
                  progress=ctx.progress)


# ---------------------------------------------------------------- template and export

def _unit_labels(units: list[Unit]) -> dict[int, str]:
    """How to write each unit in the 单位 column: its name, or "上级/名称" when several units
    of the list share the name."""
    by_id = {u.id: u for u in units}
    counts: dict[str, int] = defaultdict(int)
    for unit in units:
        counts[normalise_unit_name(unit.name)] += 1
    labels = {}
    for unit in units:
        if counts[normalise_unit_name(unit.name)] > 1 and unit.parent_id:
            parent = by_id.get(unit.parent_id) or unit.parent
            labels[unit.id] = f"{parent.name}/{unit.name}" if parent else unit.name
        else:
            labels[unit.id] = unit.name
    return labels


def template_workbook(actor: User, out: IO[bytes]) -> None:
    """The import template: the header row, 填写说明 (each column, allowed values, a sample
    row) and the units the administrator may import into, with drop-down lists."""
    require_admin(actor)
    units = [u for u in units_in_scope(actor) if u.active]
    labels = _unit_labels(units)
    wb = Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    ws.append([c.header for c in COLUMNS])
    bold, red = Font(bold=True), Font(bold=True, color="B3202A")
    fill = PatternFill("solid", fgColor="F0F2F4")
    for index, column in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=index)
        cell.font = red if column.key in ("name", "phone", *VALUE_REQUIRED) else bold
        cell.fill = fill
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        if column.key in ("phone", "username"):
            ws.column_dimensions[letter].number_format = "@"  # keep phones as text
    ws.freeze_panes = "A2"
    last = MAX_ROWS + 1
    for key in ("cadre_type", "enterprise_type", "gender"):
        letter = get_column_letter([c.key for c in COLUMNS].index(key) + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(CHOICE_LISTS[key]) + '"',
                            allow_blank=True, showErrorMessage=True,
                            errorTitle=render("import_dv_error_title"),
                            error=render("import_dv_error", choices="、".join(CHOICE_LISTS[key])))
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)

    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.append([render("import_help_col_header"), render("import_help_col_required"),
                    render("import_help_col_note")])
    for column in COLUMNS:
        required = column.key in ("name", "phone", *VALUE_REQUIRED)
        help_ws.append([column.header, render("import_help_yes" if required else "import_help_no"),
                        render(column.help_code, max=column.max_len or "",
                               max_rows=MAX_ROWS)])
    help_ws.append([])
    help_ws.append([render("import_help_sample")])
    help_ws.append([c.header for c in COLUMNS])
    sample_unit = labels[units[-1].id] if units else "泰达智能装备有限公司工会"
    help_ws.append(["张三", "13800138000", sample_unit, "工会主席", "兼职", "非公", "男",
                    "", "zhangsan@example.com", "汉族", "本科", "中共党员"])
    help_ws.append([])
    help_ws.append([render("import_help_footer", max_rows=MAX_ROWS)])
    for cell in help_ws[1]:
        cell.font, cell.fill = bold, fill
    help_ws.column_dimensions["A"].width = 12
    help_ws.column_dimensions["B"].width = 12
    help_ws.column_dimensions["C"].width = 70
    for row in help_ws.iter_rows(min_row=2, max_row=len(COLUMNS) + 1):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")

    unit_ws = wb.create_sheet(UNITS_SHEET)
    unit_ws.append([render("import_units_header")])
    unit_ws["A1"].font = bold
    unit_ws.column_dimensions["A"].width = 50
    for unit in units:
        unit_ws.append([labels[unit.id]])
    if units:
        letter = get_column_letter([c.key for c in COLUMNS].index("unit") + 1)
        dv = DataValidation(type="list", formula1=f"'{UNITS_SHEET}'!$A$2:$A${len(units) + 1}",
                            allow_blank=True, showErrorMessage=True, errorStyle="warning",
                            errorTitle=render("import_dv_error_title"),
                            error=render("import_dv_unit_error"))
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)
    wb.save(out)


EXPORT_FILTER_FIELDS = ("q", "unit_id", "role", "active", "cadre_type", "enterprise_type")


def export_cadres(origin: Origin, flt: UserFilter, out: IO[bytes]) -> int:
    """Write the cadres the administrator may see (the user list's filter) in the import
    template's columns plus 账号状态; formula-like text is neutralised. Returns the count."""
    actor = origin.actor
    stmt = users_query(actor, flt)  # refuses non-administrators and units outside the scope
    labels = _unit_labels(units_in_scope(actor))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(DATA_SHEET)
    for column in COLUMNS:
        ws.column_dimensions[get_column_letter(COLUMNS.index(column) + 1)].width = column.width
    ws.append([c.header for c in COLUMNS] + [EXPORT_STATUS_HEADER])
    count = 0
    for user in db.session.scalars(stmt.execution_options(yield_per=500)):
        p = user.profile
        ws.append([safe_cell(v) for v in (
            user.name, visible_phone(actor, user), labels.get(user.unit_id, user.unit.name),
            p.position if p else None,
            CADRE_TYPE_LABELS[p.cadre_type] if p else None,
            ENTERPRISE_TYPE_LABELS[p.enterprise_type] if p else None,
            GENDER_LABELS[p.gender] if p and p.gender else None,
            user.username, p.email if p else None, p.ethnicity if p else None,
            p.education if p else None, p.political_status if p else None,
            ACTIVE_LABELS[user.active])])
        count += 1
    wb.save(out)
    unit = db.session.get(Unit, flt.unit_id) if flt.unit_id else _scope_unit(actor)
    filters = {k: getattr(flt, k) for k in EXPORT_FILTER_FIELDS if getattr(flt, k) is not None}
    record(origin, "user.export", "user", None, f"导出干部名册 {count} 人",
           unit_path=unit.path if unit else None,
           details={"count": count, "filter": {k: getattr(v, "value", v) for k, v in filters.items()}})
    return count

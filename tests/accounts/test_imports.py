"""Cadre import and export: the services directly (workbooks generated here with openpyxl),
then the pages through the test client."""
from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import unquote

import openpyxl
import pytest
import sqlalchemy as sa

from lms.accounts import imports
from lms.accounts.audit import Origin
from lms.accounts.models import (AuditEntry, CadreImport, CadreType, EnterpriseType, Gender,
                                 ImportStatus, Role, User)
from lms.accounts.services import UserFilter, verify_password
from lms.db import utcnow
from lms.errors import Conflict, NotFound, ValidationFailed
from lms.extensions import db as ext_db
from lms.jobs import Job, run_pending
from lms.org.models import UnitKind
from lms.org.services import set_unit_active
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_district, make_unit, make_user

HEADERS = [c.header for c in imports.COLUMNS]


# ---------------------------------------------------------------- workbook generator

def make_workbook(rows, headers=None, *, above=(), sheet: str = "干部名册") -> bytes:
    """A workbook as an administrator would fill it: optional rows above the header, the
    header (the template's by default), then the data rows."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for row in above:
        ws.append(row)
    ws.append(HEADERS if headers is None else headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cadre(name, phone, unit, *, position="工会委员", cadre_type="兼职", enterprise="非公",
          gender="女", username=None, email=None, ethnicity="汉族", education="本科",
          political="群众"):
    return [name, phone, unit, position, cadre_type, enterprise, gender, username, email,
            ethnicity, education, political]


def sample_rows(n: int, unit: str, *, first_phone: int = 15000000000):
    return [cadre(f"干部{i}", str(first_phone + i), unit) for i in range(n)]


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture
def tree(db):
    district = make_district()
    zone = make_unit("开发区总工会", UnitKind.ZONE)
    town = make_unit("新城镇总工会", UnitKind.SUBDISTRICT)
    tech = make_unit("泰达智能装备有限公司工会", UnitKind.GRASSROOTS, parent=zone)
    logistics = make_unit("新城物流（天津）有限公司工会", UnitKind.GRASSROOTS, parent=town)
    return SimpleNamespace(district=district, zone=zone, town=town, tech=tech, logistics=logistics)


@pytest.fixture
def admin(tree):
    return make_user(unit=tree.district, roles=(Role.PLATFORM_ADMIN,), name="王建华",
                     phone="13900000001")


@pytest.fixture
def zone_admin(tree):
    return make_user(unit=tree.zone, roles=(Role.UNIT_ADMIN,), name="李秀英", phone="13900000002")


def origin_of(actor, now):
    return Origin(actor=actor, ip="127.0.0.1", now=now)


def upload(app, actor, data: bytes, now, filename="干部名册.xlsx") -> CadreImport:
    imp = imports.start_import(origin_of(actor, now), io.BytesIO(data), filename,
                               import_dir=app.config["IMPORT_DIR"])
    run_pending(lambda: now)
    return ext_db.session.get(CadreImport, imp.id)


def errors_by_row(imp: CadreImport) -> dict[int, list[str]]:
    return {r["row"]: [e["code"] for e in r["errors"]] for r in imp.rows}


def texts_by_row(imp: CadreImport) -> dict[int, list[str]]:
    return {r["row"]: [imports.error_text(e) for e in r["errors"]] for r in imp.rows}


def confirm_and_run(imp, actor, now, password=None):
    generated = imports.confirm_import(origin_of(actor, now), imp, password)
    run_pending(lambda: now)
    return generated, ext_db.session.get(CadreImport, imp.id)


def count_users(**where) -> int:
    stmt = sa.select(sa.func.count()).select_from(User)
    for key, value in where.items():
        stmt = stmt.where(getattr(User, key) == value)
    return ext_db.session.scalar(stmt)


# ---------------------------------------------------------------- the template

def test_template_explains_columns_and_lists_the_admins_units(db, tree, zone_admin):
    out = io.BytesIO()
    imports.template_workbook(zone_admin, out)
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert wb.sheetnames == ["干部名册", "填写说明", "单位列表"]
    assert [c.value for c in wb["干部名册"][1]] == HEADERS
    assert wb["干部名册"].max_row == 1  # no sample row among the data: it would be imported
    help_text = "\n".join(str(c.value) for row in wb["填写说明"].iter_rows() for c in row if c.value)
    for words in ("专职、兼职", "非公、国有、机关事业、其他", "男、女", "张三", "13800138000"):
        assert words in help_text
    required = {r[0]: r[1] for r in wb["填写说明"].iter_rows(min_row=2, max_row=13, values_only=True)}
    assert [k for k, v in required.items() if v == "必填"] == ["姓名", "手机号", "单位", "专兼职", "企业类型"]
    lists = [dv.formula1 for dv in wb["干部名册"].data_validations.dataValidation]
    assert '"专职,兼职"' in lists and '"非公,国有,机关事业,其他"' in lists and '"男,女"' in lists
    units = [r[0] for r in wb["单位列表"].iter_rows(min_row=2, values_only=True)]
    assert units == ["开发区总工会", "泰达智能装备有限公司工会"]  # the unit admin's subtree only


# ---------------------------------------------------------------- preview: good files

def test_preview_maps_columns_by_header_text_in_any_order(app, db, tree, admin, now):
    headers = [" 手机号（必填） ", "单位(必填)", "姓名", "专兼职", "企业类型", "性别", "职务",
               "备注", "邮箱"]
    rows = [
        ["138 0013 8000", "泰达智能装备有限公司工会", "张三", "专职", "非公", "男", "工会主席",
         "无关的列", "zhang@example.com"],
        [13800138001, "新城物流(天津)有限公司工会", "李四", "兼职", "国有企业", "女", None, None, None],
        [13800138002.0, "  开发区总工会 ", "王五", "兼职", "机关事业", None, "干事", None, None],
        [None, None, None, None, None, None, None, None, None],  # blank rows are skipped
        ["+86 138-0013-8003", "新城镇总工会", "赵六", "专职", "其他", "女", "", None, None],
    ]
    imp = upload(app, admin, make_workbook(rows, headers, above=[["2026年工会干部名册"]]), now)
    assert imp.status is ImportStatus.PREVIEW, imp.file_error
    assert (imp.total_rows, imp.valid_rows, imp.error_rows) == (4, 4, 0)
    assert [r["row"] for r in imp.rows] == [3, 4, 5, 7]  # as numbered in Excel
    assert [r["unit_id"] for r in imp.rows] == [tree.tech.id, tree.logistics.id, tree.zone.id,
                                                tree.town.id]
    job = ext_db.session.get(Job, imp.job_id)
    assert job.progress_done == job.progress_total == 4
    # the upload is stored under a random name and removed once its rows are stored
    assert imp.stored_name != "干部名册.xlsx" and len(imp.stored_name) == 37
    assert not (app.config["IMPORT_DIR"] / imp.stored_name).exists()
    assert ext_db.session.scalar(sa.select(AuditEntry).where(
        AuditEntry.action == "import.upload", AuditEntry.object_id == imp.id)) is not None


# ---------------------------------------------------------------- preview: row errors

def test_each_row_problem_is_reported_in_chinese_with_the_excel_row(app, db, tree, admin, now):
    make_user(unit=tree.tech, phone="13700000099")
    make_unit("同名工会", UnitKind.GRASSROOTS, parent=tree.zone)
    make_unit("同名工会", UnitKind.GRASSROOTS, parent=tree.town)
    closed = make_unit("已停用工会", UnitKind.GRASSROOTS, parent=tree.zone)
    set_unit_active(closed, False)
    unit = "泰达智能装备有限公司工会"
    rows = [
        cadre(None, "13800000002", unit),                                    # 2 missing name
        cadre("甲", "1380000000", unit),                                      # 3 bad phone
        cadre("乙", "13800000004", unit),                                     # 4 duplicate ...
        cadre("丙", "138 0000 0004", unit),                                   # 5 ... of row 4
        cadre("丁", "13700000099", unit),                                     # 6 phone taken
        cadre("戊", "13800000007", "不存在的工会"),                            # 7 unknown unit
        cadre("己", "13800000008", "同名工会"),                                # 8 ambiguous
        cadre("庚", "13800000009", "已停用工会"),                              # 9 inactive
        cadre("辛", "13800000010", unit, cadre_type="全职", enterprise="民营",
              gender="未知"),                                                 # 10 bad choices
        cadre("壬" * 51, "13800000011", unit, position="职" * 51,
              ethnicity="族" * 21),                                            # 11 too long
        cadre("张_x0007_三", "13800000012", unit),                            # 12 control char
        cadre("<b>李四</b>", "13800000013", unit),                            # 13 markup
        cadre("癸", "=HYPERLINK(\"http://x\")", "=A1"),                        # 14 formulas
        cadre("子", "13800000015", unit, email="not-an-email"),               # 15 bad e-mail
        cadre("丑", "13800000016", None, cadre_type=None, enterprise=None),   # 16 missing values
        cadre("寅", None, unit),                                              # 17 no login
        cadre("卯", "13800000018", "开发区总工会/同名工会"),                    # 18 disambiguated: ok
    ]
    imp = upload(app, admin, make_workbook(rows), now)
    assert imp.status is ImportStatus.PREVIEW
    codes = errors_by_row(imp)
    texts = texts_by_row(imp)
    assert codes[2] == ["name_required"] and texts[2] == ["请填写姓名。"]
    assert codes[3] == ["phone_invalid"] and "1380000000" in texts[3][0]
    assert codes[4] == codes[5] == ["import_row_phone_duplicate"]
    assert "第 4、5 行" in texts[4][0] and texts[4] == texts[5]
    assert codes[6] == ["phone_taken"] and texts[6] == ["手机号 13700000099 已被其他账号使用。"]
    assert codes[7] == ["import_row_unit_unknown"] and "不存在的工会" in texts[7][0]
    assert codes[8] == ["import_row_unit_ambiguous"] and "有 2 个" in texts[8][0]
    assert codes[9] == ["import_row_unit_inactive"] and "已停用" in texts[9][0]
    assert sorted(codes[10]) == ["import_row_choice"] * 3
    assert "专兼职应填写专职、兼职之一，不能填写“全职”。" in texts[10]
    assert sorted(codes[11]) == ["import_row_too_long", "import_row_too_long", "name_too_long"]
    assert "职务不能超过 50 个字。" in texts[11]
    assert codes[12] == ["name_bad_chars"] and codes[13] == ["name_bad_chars"]
    assert sorted(codes[14]) == ["import_row_formula", "import_row_formula"]
    assert any(t.startswith("手机号以“=”开头") for t in texts[14])
    assert any(t.startswith("单位以“=”开头") for t in texts[14])
    assert codes[15] == ["import_row_email_invalid"]
    assert sorted(codes[16]) == ["import_row_required"] * 3
    assert "请填写单位。" in texts[16] and "请填写专兼职。" in texts[16]
    assert codes[17] == ["login_required_field"]
    assert codes[18] == []
    assert (imp.total_rows, imp.error_rows, imp.valid_rows) == (17, 16, 1)


def test_sql_and_markup_are_data_never_code(app, db, tree, admin, client, now):
    unit = "泰达智能装备有限公司工会"
    rows = [cadre("Robert'); DROP TABLE users;--", "13800000101", unit),
            cadre("SELECT name FROM users", "13800000102", unit,
                  position="<script>alert(1)</script>", political="1 OR 1=1")]
    imp = upload(app, admin, make_workbook(rows), now)
    assert errors_by_row(imp) == {2: ["name_bad_chars"], 3: []}
    login(client, "13900000001", PASSWORD)
    html = client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "Robert&#39;); DROP TABLE users;--" in html

    rows = rows[1:]
    imp = upload(app, admin, make_workbook(rows), now)
    confirm_and_run(imp, admin, now, password="Chushi2026")
    user = ext_db.session.scalar(sa.select(User).where(User.phone == "13800000102"))
    assert user.name == "SELECT name FROM users"
    assert user.profile.position == "<script>alert(1)</script>"
    assert user.profile.political_status == "1 OR 1=1"
    assert count_users() == 2  # the administrator and the new cadre: the table is still there


def test_unit_admin_rows_outside_their_subtree_are_refused_without_details(app, db, tree,
                                                                           zone_admin, now):
    rows = [cadre("张三", "13800000201", "泰达智能装备有限公司工会"),
            cadre("李四", "13800000202", "新城物流（天津）有限公司工会"),
            cadre("王五", "13800000203", "滨海新区总工会")]
    imp = upload(app, zone_admin, make_workbook(rows), now)
    texts = texts_by_row(imp)
    assert texts[2] == []
    assert texts[3] == ["单位“新城物流（天津）有限公司工会”不在您的管理范围内。"]
    assert texts[4] == ["单位“滨海新区总工会”不在您的管理范围内。"]
    assert imp.scope_unit_id == tree.zone.id


def test_a_name_shared_inside_and_outside_the_scope_resolves_inside(app, db, tree, zone_admin, now):
    make_unit("职工之家", UnitKind.GRASSROOTS, parent=tree.zone)
    make_unit("职工之家", UnitKind.GRASSROOTS, parent=tree.town)
    imp = upload(app, zone_admin, make_workbook([cadre("张三", "13800000211", "职工之家")]), now)
    assert errors_by_row(imp) == {2: []}  # the other unit of that name is not mentioned


# ---------------------------------------------------------------- preview: refused files

def _xls_bytes() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("readme.txt", "这不是工作簿")
    return out.getvalue()


def _broken_workbook() -> bytes:
    """A real workbook whose sheet XML is damaged."""
    source = zipfile.ZipFile(io.BytesIO(make_workbook([cadre("张三", "13800000001", "x")])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            zf.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"", "上传的文件是空的"),
    ("姓名,手机号\n张三,13800138000\n".encode("gbk"), "不是有效的 Excel 工作簿"),
    (_xls_bytes(), "旧版 Excel（.xls）"),
    (_zip_bytes(), "不是有效的 Excel 工作簿"),
    (_broken_workbook(), "不是有效的 Excel 工作簿"),
    (make_workbook([cadre("张三", "13800000001", "x")], ["姓名", "手机", "职务"]),
     "缺少必填列：单位、专兼职、企业类型、性别。"),
    (make_workbook([["张三", "13800000001"]], ["名字", "电话"]),
     "缺少必填列：姓名、手机号、单位、职务、专兼职、企业类型、性别。"),
    (make_workbook([], HEADERS + ["姓名"]), "“姓名”列出现了不止一次"),
    (make_workbook([[None] * 12, [" "] * 12]), "工作簿中没有数据行"),
])
def test_files_that_cannot_be_imported_are_refused_whole(app, db, tree, admin, now, data, message):
    imp = upload(app, admin, data, now, filename="名册.xlsx")
    assert imp.status is ImportStatus.INVALID
    assert message in imp.file_error
    assert imp.rows == [] and imports.import_state(imp).label == "文件无效"


def test_a_crashing_check_shows_a_plain_message(app, db, tree, admin, now, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("openpyxl internals")
    monkeypatch.setattr(imports, "read_workbook", crash)
    imp = upload(app, admin, make_workbook([cadre("张三", "13800000001", "开发区总工会")]), now)
    assert imports.import_state(imp).status is ImportStatus.PARSING  # retried later
    run_pending(lambda: now + timedelta(minutes=5))
    state = imports.import_state(imp)
    assert state.status is ImportStatus.INVALID and state.finished
    assert state.reason.startswith("处理时出错，没有导入任何数据") and "openpyxl" not in state.reason


def test_too_many_rows_are_refused(app, db, tree, admin, now):
    data = make_workbook(sample_rows(imports.MAX_ROWS + 1, "开发区总工会"))
    imp = upload(app, admin, data, now)
    assert imp.status is ImportStatus.INVALID
    assert imp.file_error == "一次最多导入 10000 行，当前文件有 10001 行。"


def test_ten_thousand_rows_preview_in_seconds(app, db, tree, admin, now):
    make_user(unit=tree.zone, phone="15000009999")  # the last row's phone is taken
    data = make_workbook(sample_rows(imports.MAX_ROWS, "开发区总工会"))
    started = time.perf_counter()
    imp = upload(app, admin, data, now)
    elapsed = time.perf_counter() - started
    assert imp.status is ImportStatus.PREVIEW
    assert (imp.total_rows, imp.error_rows) == (10_000, 1)
    assert errors_by_row(imp)[10_001] == ["phone_taken"]
    job = ext_db.session.get(Job, imp.job_id)
    assert job.progress_done == job.progress_total == 10_000
    assert elapsed < 30, f"10,000 rows took {elapsed:.1f} s"  # about 2 s on an idle 2-core machine


# ---------------------------------------------------------------- confirm and commit

def test_confirm_is_refused_while_rows_have_errors(app, db, tree, admin, now):
    imp = upload(app, admin, make_workbook([cadre("张三", "13800000301", "开发区总工会"),
                                            cadre(None, "13800000302", "开发区总工会")]), now)
    with pytest.raises(ValidationFailed) as caught:
        imports.confirm_import(origin_of(admin, now), imp)
    assert caught.value.message == "还有 1 行有错误，请修改文件后重新上传。"
    assert imp.status is ImportStatus.PREVIEW and count_users(phone="13800000301") == 0


def test_confirmed_import_creates_all_accounts_with_one_password(app, db, tree, admin, client,
                                                                 now):
    rows = [cadre("张三", "13800000401", "泰达智能装备有限公司工会", cadre_type="专职",
                  enterprise="国有", gender="男", username="zhangsan", email="zs@example.com",
                  position="工会主席", political="中共党员"),
            cadre("李四", "13800000402", "开发区总工会")]
    imp = upload(app, admin, make_workbook(rows), now)
    generated, imp = confirm_and_run(imp, admin, now)
    assert generated and len(generated) == 8
    assert imp.status is ImportStatus.DONE and imp.imported_count == 2
    zhang = ext_db.session.scalar(sa.select(User).where(User.phone == "13800000401"))
    li = ext_db.session.scalar(sa.select(User).where(User.phone == "13800000402"))
    assert zhang.unit_id == tree.tech.id and li.unit_id == tree.zone.id
    assert zhang.username == "zhangsan" and zhang.must_change_password and zhang.active
    assert zhang.password_hash == li.password_hash  # hashed once for the batch
    assert verify_password(zhang.password_hash, generated)
    assert zhang.session_nonce != li.session_nonce
    p = zhang.profile
    assert (p.position, p.cadre_type, p.enterprise_type, p.gender, p.email, p.political_status) == (
        "工会主席", CadreType.FULL_TIME, EnterpriseType.STATE_OWNED, Gender.MALE, "zs@example.com",
        "中共党员")
    assert [g.role for g in zhang.role_grants] == [Role.LEARNER]
    entry = ext_db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "import.commit"))
    assert entry.object_type == "import" and entry.details["created"] == 2
    assert entry.actor_id == admin.id and entry.unit_path == tree.district.path
    # a second confirm is refused: the batch is done
    with pytest.raises(Conflict):
        imports.confirm_import(origin_of(admin, now), imp)
    # an imported cadre must change the password at first sign-in
    resp = login(client, "13800000401", generated)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/password")
    assert client.get("/").headers["Location"].endswith("/password")


def test_the_administrators_password_must_be_strong(app, db, tree, admin, now):
    imp = upload(app, admin, make_workbook([cadre("张三", "13800000501", "开发区总工会")]), now)
    with pytest.raises(ValidationFailed) as caught:
        imports.confirm_import(origin_of(admin, now), imp, "12345678")
    assert "至少 8 位" in caught.value.message and imp.status is ImportStatus.PREVIEW
    generated, imp = confirm_and_run(imp, admin, now, password="Binhai2026")
    assert generated is None and imp.status is ImportStatus.DONE
    user = ext_db.session.scalar(sa.select(User).where(User.phone == "13800000501"))
    assert verify_password(user.password_hash, "Binhai2026")


def test_a_phone_taken_after_the_preview_fails_the_whole_import(app, db, tree, admin, now):
    rows = [cadre("张三", "13800000601", "开发区总工会"), cadre("李四", "13800000602", "开发区总工会")]
    imp = upload(app, admin, make_workbook(rows), now)
    assert imp.status is ImportStatus.PREVIEW and not imp.error_rows
    make_user(unit=tree.town, phone="13800000602")  # meanwhile, someone else took it
    before = count_users()
    _, imp = confirm_and_run(imp, admin, now)
    assert imp.status is ImportStatus.FAILED
    assert imp.file_error.startswith("预览之后数据已发生变化：第 3 行：手机号 13800000602 已被其他账号使用")
    assert count_users() == before and count_users(phone="13800000601") == 0
    assert imports.import_state(imp).label == "导入失败"


def test_a_conflict_at_insert_time_writes_nothing(app, db, tree, admin, now, monkeypatch):
    rows = [cadre("张三", "13800000611", "开发区总工会"), cadre("李四", "13800000612", "开发区总工会")]
    imp = upload(app, admin, make_workbook(rows), now)
    before = count_users()
    original = imports.jobs.begin_writes

    def race():  # another request takes a phone between the check and the insert
        original()
        make_user(unit=tree.town, phone="13800000612")
    monkeypatch.setattr(imports.jobs, "begin_writes", race)
    _, imp = confirm_and_run(imp, admin, now)
    assert imp.status is ImportStatus.FAILED and "刚被其他账号占用" in imp.file_error
    assert count_users() == before + 1 and count_users(phone="13800000611") == 0


def test_cancel_a_preview(app, db, tree, admin, now):
    imp = upload(app, admin, make_workbook([cadre("张三", "13800000701", "开发区总工会")]), now)
    imports.cancel_import(origin_of(admin, now), imp)
    assert imp.status is ImportStatus.CANCELLED
    with pytest.raises(Conflict):
        imports.confirm_import(origin_of(admin, now), imp)
    with pytest.raises(Conflict):
        imports.cancel_import(origin_of(admin, now), imp)


def test_unit_admins_see_only_imports_of_their_scope(app, db, tree, admin, zone_admin, now):
    town_admin = make_user(unit=tree.town, roles=(Role.UNIT_ADMIN,), phone="13900000003")
    mine = upload(app, zone_admin, make_workbook([cadre("张三", "13800000801", "开发区总工会")]), now)
    theirs = upload(app, town_admin, make_workbook([cadre("李四", "13800000802", "新城镇总工会")]), now)
    district = upload(app, admin, make_workbook([cadre("王五", "13800000803", "开发区总工会")]), now)
    visible = ext_db.session.scalars(imports.imports_query(zone_admin)).all()
    assert mine in visible and theirs not in visible and district not in visible
    assert set(ext_db.session.scalars(imports.imports_query(admin))) >= {mine, theirs, district}
    with pytest.raises(NotFound):
        imports.get_import(zone_admin, theirs.id)
    with pytest.raises(NotFound):
        imports.confirm_import(origin_of(zone_admin, now), theirs)


# ---------------------------------------------------------------- export

def read_export(data: bytes) -> list[list]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def test_export_holds_only_the_subtree_and_neutralises_formulas(app, db, tree, zone_admin, now):
    make_user(unit=tree.tech, name="张三", phone="13800000901")
    evil = make_user(unit=tree.tech, name="=HYPERLINK(\"http://evil\")", phone="13800000902")
    evil.profile.position = "+SUM(A1)"
    evil.profile.email = "@cmd"
    make_user(unit=tree.logistics, name="外单位干部", phone="13800000903")
    out = io.BytesIO()
    count = imports.export_cadres(origin_of(zone_admin, now), UserFilter(), out)
    rows = read_export(out.getvalue())
    assert rows[0] == HEADERS + ["账号状态"]
    names = [r[0] for r in rows[1:]]
    assert count == 3 and "外单位干部" not in names and "李秀英" in names  # the admin is in the zone
    bad = next(r for r in rows if r[1] == "13800000902")
    assert bad[0] == "'=HYPERLINK(\"http://evil\")" and bad[3] == "'+SUM(A1)" and bad[8] == "'@cmd"
    assert bad[12] == "在用" and bad[4] == "兼职" and bad[5] == "非公"
    # nothing in the file is a formula
    raw = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert all(c.data_type != "f" for row in raw.worksheets[0].iter_rows() for c in row)
    entry = ext_db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.export"))
    assert entry.details["count"] == 3 and entry.unit_path == tree.zone.path


def test_export_then_reimport_new_rows(app, db, tree, admin, now):
    make_user(unit=tree.tech, name="张三", phone="13800001001")
    make_unit("职工之家", UnitKind.GRASSROOTS, parent=tree.zone)
    twin = make_unit("职工之家", UnitKind.GRASSROOTS, parent=tree.town)
    make_user(unit=twin, name="李四", phone="13800001002", cadre_type=CadreType.FULL_TIME)
    out = io.BytesIO()
    imports.export_cadres(origin_of(admin, now), UserFilter(q="138000010"), out)
    rows = read_export(out.getvalue())
    assert [r[2] for r in rows[1:]] == ["泰达智能装备有限公司工会", "新城镇总工会/职工之家"]

    # exported as it is: every row is an existing account
    imp = upload(app, admin, out.getvalue(), now)
    assert set(sum(errors_by_row(imp).values(), [])) == {"phone_taken"}

    # edited into new people: imported with the same units and attributes
    new = [[f"新{r[0]}", f"1590000{r[1][-4:]}", *r[2:]] for r in rows[1:]]
    imp = upload(app, admin, make_workbook(new, rows[0]), now)
    assert imp.status is ImportStatus.PREVIEW and imp.error_rows == 0, imp.rows
    _, imp = confirm_and_run(imp, admin, now)
    copy = ext_db.session.scalar(sa.select(User).where(User.name == "新李四"))
    assert copy.unit_id == twin.id and copy.profile.cadre_type is CadreType.FULL_TIME


# ---------------------------------------------------------------- pages

def post_upload(client, data: bytes, token: str | None, filename="干部名册.xlsx"):
    form = {"workbook": (io.BytesIO(data), filename)}
    if token:
        form["csrf_token"] = token
    return client.post("/admin/imports/", data=form, content_type="multipart/form-data")


def test_upload_page_preview_and_confirm(app, db, tree, admin, client, now):
    login(client, "13900000001", PASSWORD)
    page = client.get("/admin/imports/")
    assert page.status_code == 200 and "上传干部名册" in page.get_data(as_text=True)
    token = csrf_token(client, "/admin/imports/")
    rows = [cadre("张三", "13800001101", "开发区总工会"), cadre("李四", "13800001102", "开发区总工会")]
    resp = post_upload(client, make_workbook(rows), token)
    assert resp.status_code == 302
    imp = ext_db.session.scalars(sa.select(CadreImport).order_by(CadreImport.id.desc())).first()
    assert resp.headers["Location"].endswith(f"/admin/imports/{imp.id}")
    html = client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)
    assert "正在检查，请稍后刷新" in html and "<progress" in html and "js/imports.js" in html
    status = client.get(f"/admin/imports/{imp.id}/status")
    assert status.json == {"status": "parsing", "label": "预检中", "progress_done": 0,
                           "progress_total": 0, "finished": False}

    run_pending(utcnow)  # the pages enqueue at the real time
    assert client.get(f"/admin/imports/{imp.id}/status").json["finished"] is True
    html = client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)
    assert "确认导入 2 名干部" in html and "张三" in html and "第 2 行" in html

    token = csrf_token(client, f"/admin/imports/{imp.id}")
    resp = client.post(f"/admin/imports/{imp.id}/confirm", data={"csrf_token": token,
                                                                 "password": "short"})
    assert resp.status_code == 422 and "至少 8 位" in resp.get_data(as_text=True)
    resp = client.post(f"/admin/imports/{imp.id}/confirm", data={"csrf_token": token, "password": ""})
    # the generated password is on this response only: not in the cookie, a URL or a flash
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "统一初始密码" in html and "data-hold" in html
    password = html.split("<code>")[1].split("</code>")[0]
    assert password not in resp.headers.get("Set-Cookie", "")
    run_pending(utcnow)  # the pages enqueue at the real time
    html = client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)
    assert "已导入 2 名干部" in html and "/admin/users?unit_id=" in html
    assert "统一初始密码" not in html  # shown once only
    assert verify_password(ext_db.session.scalar(
        sa.select(User.password_hash).where(User.phone == "13800001101")), password)
    listing = client.get("/admin/imports/").get_data(as_text=True)
    assert "已导入" in listing and "干部名册.xlsx" in listing


def test_page_shows_row_errors_and_refuses_confirm(app, db, tree, admin, client, now):
    login(client, "13900000001", PASSWORD)
    rows = [cadre("张三", "13800001201", "开发区总工会"), cadre("李四", "12345", "开发区总工会")]
    imp = upload(app, admin, make_workbook(rows), now)
    html = client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)
    assert "手机号“12345”格式不正确" in html and "请修改文件后重新上传" in html
    assert "确认导入" not in html
    only = client.get(f"/admin/imports/{imp.id}?errors=1").get_data(as_text=True)
    assert "李四" in only and "张三" not in only
    token = csrf_token(client, "/admin/imports/")
    resp = client.post(f"/admin/imports/{imp.id}/confirm", data={"csrf_token": token})
    assert resp.status_code == 422 and count_users(phone="13800001201") == 0
    resp = client.post(f"/admin/imports/{imp.id}/cancel", data={"csrf_token": token})
    assert resp.status_code == 302
    assert "已取消" in client.get(f"/admin/imports/{imp.id}").get_data(as_text=True)


def test_upload_without_csrf_token_is_refused(db, tree, admin, client):
    login(client, "13900000001", PASSWORD)
    resp = post_upload(client, make_workbook([cadre("张三", "13800001301", "开发区总工会")]), None)
    assert resp.status_code == 400
    assert ext_db.session.scalar(sa.select(sa.func.count()).select_from(CadreImport)) == 0


def test_upload_must_be_an_xlsx_file(db, tree, admin, client):
    login(client, "13900000001", PASSWORD)
    token = csrf_token(client, "/admin/imports/")
    resp = post_upload(client, b"old", token, filename="名册.xls")
    assert resp.status_code == 422 and "只接受 .xlsx" in resp.get_data(as_text=True)


def test_learners_are_forbidden(db, tree, client):
    make_user(unit=tree.tech, phone="13800001401")
    login(client, "13800001401", PASSWORD)
    for url in ("/admin/imports/", "/admin/imports/template.xlsx", "/admin/imports/export.xlsx",
                "/admin/imports/1", "/admin/imports/1/status"):
        assert client.get(url).status_code == 403, url


def test_unit_admin_forging_another_scopes_import_gets_404(app, db, tree, admin, zone_admin,
                                                           client, now):
    imp = upload(app, admin, make_workbook([cadre("张三", "13800001501", "新城镇总工会")]), now)
    login(client, "13900000002", PASSWORD)
    token = csrf_token(client, "/admin/imports/")
    assert client.get(f"/admin/imports/{imp.id}").status_code == 404
    assert client.get(f"/admin/imports/{imp.id}/status").status_code == 404
    assert client.post(f"/admin/imports/{imp.id}/confirm", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/imports/{imp.id}/cancel", data={"csrf_token": token}).status_code == 404
    assert ext_db.session.get(CadreImport, imp.id).status is ImportStatus.PREVIEW


def test_template_and_export_downloads(db, tree, admin, zone_admin, client):
    make_user(unit=tree.logistics, name="外单位干部", phone="13800001601")
    login(client, "13900000002", PASSWORD)
    resp = client.get("/admin/imports/template.xlsx")
    assert resp.status_code == 200 and resp.mimetype == imports.XLSX_MIMETYPE
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    assert "干部名册导入模板.xlsx" in unquote(resp.headers["Content-Disposition"])
    resp = client.get("/admin/imports/export.xlsx?cadre_type=part_time&active=1")
    assert resp.status_code == 200
    disposition = unquote(resp.headers["Content-Disposition"])
    assert disposition.startswith('attachment; filename="cadres-') and "干部名册-" in disposition
    names = [r[0] for r in read_export(resp.data)[1:]]
    assert "李秀英" in names and "外单位干部" not in names
    assert client.get(f"/admin/imports/export.xlsx?unit_id={tree.town.id}").status_code == 404
    assert client.get("/admin/imports/export.xlsx?role=king").status_code == 422

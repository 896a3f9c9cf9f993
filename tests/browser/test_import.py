"""Journey: an administrator imports cadres from a workbook on a phone: a first file with a bad
row is refused row by row in Chinese, the corrected file is previewed, confirmed and imported."""
import time

import pytest
import sqlalchemy as sa

from lms.accounts import imports
from lms.accounts.models import Role, User
from lms.org.models import UnitKind
from tests.accounts.test_imports import cadre, make_workbook
from tests.factories import PASSWORD, make_district, make_unit, make_user

pytestmark = pytest.mark.browser

UNIT = "泰达智能装备有限公司工会"


def upload(page, data: bytes, name: str) -> None:
    page.goto("/admin/imports/")
    page.get_by_label("干部名册（.xlsx）").set_input_files(
        files=[{"name": name, "mimeType": imports.XLSX_MIMETYPE, "buffer": data}])
    page.get_by_role("button", name="上传并检查").click()


def test_admin_imports_cadres_from_a_workbook(committed, phone, worker, monkeypatch):
    district = make_district()
    zone = make_unit("开发区总工会", UnitKind.ZONE)
    make_unit(UNIT, UnitKind.GRASSROOTS, parent=zone)
    make_user(unit=district, roles=(Role.PLATFORM_ADMIN,), name="王建华", phone="13900000001")
    committed.session.commit()

    # the check takes a moment, so that the page shows its progress before the preview
    original = imports.preview_import

    def slow_preview(*args, **kwargs):
        time.sleep(1.5)
        return original(*args, **kwargs)
    monkeypatch.setattr(imports, "preview_import", slow_preview)

    phone.goto("/login")
    phone.get_by_label("手机号或用户名").fill("13900000001")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.get_by_role("heading", name="您好，王建华").wait_for()

    rows = [cadre("陈静", "13800138001", UNIT, position="工会主席", cadre_type="专职"),
            cadre("刘洋", "1380013800", UNIT),  # one digit short
            cadre("赵磊", "138 0013 8003", "开发区总工会", gender="男")]
    upload(phone, make_workbook(rows), "干部名册-初稿.xlsx")
    # the progress page, kept up to date by static/js/imports.js, which reloads when done
    phone.get_by_text("完成后本页会自动更新").wait_for()
    assert phone.locator("progress").is_visible()
    phone.get_by_role("heading", name="检查未通过").wait_for()
    assert "还有 1 行有错误，请修改文件后重新上传。" in phone.get_by_role("alert").inner_text()
    bad_row = phone.locator("tr.import-row-bad")
    assert bad_row.count() == 1
    assert "第 3 行" in bad_row.inner_text()
    assert "手机号“1380013800”格式不正确（应为 11 位中国大陆手机号）。" in bad_row.inner_text()
    assert phone.get_by_role("button", name="确认导入").count() == 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360

    rows[1][1] = "13800138002"
    upload(phone, make_workbook(rows), "干部名册-修改后.xlsx")
    phone.get_by_role("heading", name="检查通过，确认导入").wait_for()
    assert "将为 3 名干部创建账号" in phone.locator("main").inner_text()
    phone.get_by_role("button", name="确认导入 3 名干部").click()
    # the generated password is shown once, on the confirmation's own page, which waits for it
    password = phone.locator(".import-password-value code").inner_text().strip()
    assert len(password) == 8
    phone.get_by_role("link", name="查看导入结果").click()
    phone.get_by_role("heading", name="导入完成").wait_for()
    assert "已导入 3 名干部。" in phone.locator("main").inner_text()
    assert password not in phone.content()
    table = phone.locator("table.import-rows").inner_text()
    for name in ("陈静", "刘洋", "赵磊"):
        assert name in table
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360

    committed.session.rollback()  # see what the server committed
    users = committed.session.scalars(
        sa.select(User).where(User.name.in_(["陈静", "刘洋", "赵磊"])).order_by(User.phone)).all()
    assert [u.phone for u in users] == ["13800138001", "13800138002", "13800138003"]
    assert all(u.must_change_password for u in users)

    # the list of imports shows both batches
    phone.get_by_role("link", name="返回批量导入").click()
    listing = phone.locator("table.stack").inner_text()
    assert "干部名册-初稿.xlsx" in listing and "干部名册-修改后.xlsx" in listing
    assert "已导入 3" in listing and "待确认" in listing

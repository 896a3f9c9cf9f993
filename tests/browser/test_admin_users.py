"""Journey: the platform administrator, on a phone, creates a grassroots union under a
functional zone, creates a cadre in it, reads the generated initial password, deactivates the
cadre, and finds all three changes in the audit log."""
import re

import pytest

from lms.accounts.models import Role
from lms.org.models import UnitKind
from tests.factories import PASSWORD, make_district, make_unit, make_user

pytestmark = pytest.mark.browser


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_platform_admin_sets_up_a_union_and_a_cadre_on_a_phone(committed, phone):
    root = make_district()
    zone = make_unit(name="天津经济技术开发区总工会", kind=UnitKind.ZONE)
    make_user(unit=root, roles=(Role.PLATFORM_ADMIN,), name="王建华", phone="13900000001")
    zone_id = zone.id  # read before the commit: afterwards a read would hold SQLite's write lock
    committed.session.commit()
    confirmations = []

    def accept(dialog):
        confirmations.append(dialog.message)
        dialog.accept()

    phone.on("dialog", accept)

    phone.goto("/login")
    phone.get_by_label("手机号或用户名").fill("13900000001")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.get_by_role("heading", name="您好，王建华").wait_for()

    # 单位管理 → 新建单位, from the phone menu
    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("navigation", name="主导航").get_by_role("link", name="单位管理").click()
    phone.get_by_role("heading", name="单位管理").wait_for()
    assert fits_the_phone(phone)
    phone.get_by_role("link", name="新建单位").click()
    phone.get_by_label("单位名称").fill("泰达新材料有限公司工会")
    phone.get_by_label("单位类型").select_option("zone")
    # the script offers only the district as a zone's parent
    assert phone.locator(f'#parent_id option[value="{zone_id}"]').is_disabled()
    phone.get_by_label("单位类型").select_option("grassroots")
    phone.get_by_label("上级单位").select_option(str(zone_id))
    assert fits_the_phone(phone)
    phone.get_by_role("button", name="创建单位").click()
    phone.get_by_role("heading", name="泰达新材料有限公司工会").wait_for()
    assert "已新建单位“泰达新材料有限公司工会”" in phone.get_by_role("status").inner_text()

    # a cadre in the new union, with a generated initial password
    phone.get_by_role("link", name="在此单位新建用户").click()
    phone.get_by_role("heading", name="新建用户").wait_for()
    assert phone.get_by_label("所属单位").input_value() != ""
    phone.get_by_label("姓名").fill("李明")
    phone.get_by_label("手机号").fill("13912340001")
    phone.get_by_label("职务").fill("工会主席")
    phone.get_by_label("专兼职").select_option("full_time")
    assert fits_the_phone(phone)
    phone.get_by_role("button", name="创建用户").click()
    phone.get_by_role("heading", name="已新建用户").wait_for()
    password = phone.locator("#initial-password").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z]{4}[2-9]{4}", password)
    assert password not in phone.url and fits_the_phone(phone)

    # deactivate, confirming the question
    phone.get_by_role("link", name="查看用户").click()
    phone.get_by_role("heading", name=re.compile("李明")).wait_for()
    assert "13912340001" in phone.content()
    phone.get_by_role("button", name="停用").click()
    phone.get_by_text("已停用“李明”").wait_for()
    assert confirmations and "停用“李明”" in confirmations[0]
    assert phone.get_by_role("button", name="启用").is_visible()
    assert password not in phone.content()

    # the list stacks into cards on the phone
    phone.goto("/admin/users?q=李明")
    row = phone.locator("table.stack tbody tr").first
    assert "已停用" in row.inner_text() and fits_the_phone(phone)

    # the audit log has the three changes, newest first
    phone.get_by_role("button", name="菜单").click()
    phone.get_by_role("navigation", name="主导航").get_by_role("link", name="操作日志").click()
    phone.get_by_role("heading", name="操作日志").wait_for()
    log = phone.locator("table.audit tbody").inner_text()
    assert "停用用户 李明" in log and "新建用户 李明（泰达新材料有限公司工会）" in log
    assert "新建单位 泰达新材料有限公司工会（基层工会）" in log
    assert log.index("停用用户 李明") < log.index("新建用户 李明") < log.index("新建单位 泰达")
    assert password not in phone.content() and fits_the_phone(phone)

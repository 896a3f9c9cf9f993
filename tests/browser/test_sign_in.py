"""Journey: a cadre signs in on a phone and sees their home page."""
import pytest

from tests.factories import PASSWORD, make_unit, make_user
from lms.org.models import UnitKind

pytestmark = pytest.mark.browser


def test_cadre_signs_in_on_a_phone_and_sees_home(committed, phone):
    unit = make_unit(name="泰达智能装备有限公司工会", kind=UnitKind.GRASSROOTS)
    make_user(unit=unit, name="陈静", phone="13900000005")
    committed.session.commit()

    phone.goto("/")
    assert "滨海新区工会干部教育培训在线学习平台" in phone.content()
    phone.get_by_role("link", name="登录").click()
    phone.get_by_label("手机号或用户名").fill("13900000005")
    phone.get_by_label("密码").fill("not-the-password1")
    phone.get_by_role("button", name="登录").click()
    assert phone.get_by_role("alert").inner_text().strip() == "账号或密码错误。"

    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.get_by_role("heading", name="您好，陈静").wait_for()
    assert "泰达智能装备有限公司工会" in phone.content()
    # the page fits a 360 px phone: nothing scrolls sideways
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    # the menu opens from its button on a phone
    phone.get_by_role("button", name="菜单").click()
    assert phone.get_by_role("link", name="修改密码").is_visible()

"""The user and audit-log pages: who sees what, forged ids, CSRF, pagination, passwords."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from lms.accounts.audit import Origin, record
from lms.accounts.models import AuditEntry, CadreType, Role, User
from lms.accounts.services import verify_password
from lms.extensions import db as ext_db
from lms.org.models import UnitKind
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_two_zone_tree, make_unit, make_user


@pytest.fixture
def tree(db):
    return make_two_zone_tree()


@pytest.fixture
def admin(tree):
    return make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,), name="王建华",
                     phone="13900000001")


@pytest.fixture
def unit_admin(tree):
    return make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,), name="李秀英", phone="13900000002")


def sign_in(client, user) -> str:
    """Sign in and return a CSRF token (every signed-in page carries one in its logout form)."""
    assert login(client, user.phone, PASSWORD).status_code == 302
    return csrf_token(client, "/")


def text(resp) -> str:
    return resp.get_data(as_text=True)


# ---------------------------------------------------------------- who may open the pages

def test_pages_render_in_chinese_for_a_platform_admin(client, tree, admin):
    cadre = make_user(unit=tree["grassroots"], name="陈静")
    sign_in(client, admin)
    for url, words in [("/admin/users", ["用户管理", "陈静", "甲公司工会", "批量导入", "新建用户"]),
                       ("/admin/users/new", ["新建用户", "初始密码", "所属单位", "专兼职", "企业类型"]),
                       (f"/admin/users/{cadre.id}", ["陈静", "角色", "停用", "重置密码", "编辑", "授予角色"]),
                       (f"/admin/users/{cadre.id}/edit", ["编辑用户", "陈静", "保存"]),
                       ("/admin/audit", ["操作日志", "操作人", "操作类型", "开始日期"])]:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = text(resp)
        assert all(w in html for w in words), (url, [w for w in words if w not in html])
        assert '<html lang="zh-CN">' in html and "<script>" not in html and "style=" not in html


def test_learner_gets_403_everywhere(client, tree):
    learner = make_user(unit=tree["grassroots"])
    other = make_user(unit=tree["grassroots"])
    token = sign_in(client, learner)
    for url in ("/admin/users", "/admin/users/new", f"/admin/users/{other.id}",
                f"/admin/users/{other.id}/edit", "/admin/audit"):
        assert client.get(url).status_code == 403, url
    for url in (f"/admin/users/{other.id}/deactivate", f"/admin/users/{other.id}/reset-password",
                f"/admin/users/{other.id}/roles", "/admin/users/new"):
        resp = client.post(url, data={"csrf_token": token, "role": "platform_admin"})
        assert resp.status_code == 403 and "没有权限" in text(resp), url
    assert other.active


def test_post_without_csrf_token_is_refused(client, tree, admin):
    cadre = make_user(unit=tree["grassroots"])
    sign_in(client, admin)
    resp = client.post(f"/admin/users/{cadre.id}/deactivate")
    assert resp.status_code == 400 and "页面已过期" in text(resp)
    resp = client.post("/admin/users/new", data={"name": "张三", "phone": "13912340000",
                                                 "unit_id": tree["grassroots"].id})
    assert resp.status_code == 400
    assert client.get(f"/admin/users/{cadre.id}").status_code == 200
    assert cadre.active


# ---------------------------------------------------------------- the list

def test_unit_admin_lists_only_their_subtree(client, tree, unit_admin):
    make_user(unit=tree["grassroots"], name="甲员工", phone="13911110001")
    make_user(unit=tree["other_grassroots"], name="乙员工", phone="13911110002")
    sign_in(client, unit_admin)
    html = text(client.get("/admin/users"))
    assert "甲员工" in html and "13911110001" in html  # administers it: full number
    assert "乙员工" not in html and "保税区总工会" not in html  # not even in the unit select
    # forging the filter's unit id of another subtree
    assert client.get(f"/admin/users?unit_id={tree['other_grassroots'].id}").status_code == 404


def test_filters(client, tree, admin):
    make_user(unit=tree["grassroots"], name="张专职", cadre_type=CadreType.FULL_TIME)
    make_user(unit=tree["other_grassroots"], name="张兼职")
    make_user(unit=tree["other_grassroots"], name="李停用", active=False)
    sign_in(client, admin)

    def listed(query: str) -> set[str]:
        html = text(client.get("/admin/users?" + query))
        return {n for n in ("张专职", "张兼职", "李停用", "王建华") if f">{n}<" in html}

    assert listed("q=张") == {"张专职", "张兼职"}
    assert listed("cadre_type=full_time&q=张") == {"张专职"}
    assert listed(f"unit_id={tree['other_grassroots'].id}") == {"张兼职", "李停用"}
    assert listed("status=inactive") == {"李停用"}
    assert listed("status=active&q=李") == set()
    assert listed("role=platform_admin") == {"王建华"}
    assert listed("enterprise_type=state_owned") == set()
    html = text(client.get("/admin/users?q=没有这个人"))
    assert "没有符合筛选条件的用户" in html and "清除全部筛选" in html
    # a malformed filter is ignored, not a server error
    assert client.get("/admin/users?role=king&unit_id=abc&page=-3").status_code == 200


def test_sixty_users_make_three_pages_of_25_without_a_query_per_row(client, db, tree, admin):
    crowded = make_unit(name="大企业工会", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
    for i in range(60):
        make_user(unit=crowded, name=f"员工{i:02d}", roles=(Role.LEARNER, Role.UNIT_ADMIN))
    sign_in(client, admin)
    rows = re.compile(r'<td data-label="姓名">')
    statements = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        first = text(client.get(f"/admin/users?unit_id={crowded.id}"))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert len(rows.findall(first)) == 25 and "第 1 / 3 页，共 60 条" in first
    assert len(statements) < 15, statements  # not one per row (25 rows, 50 grants)
    second = text(client.get(f"/admin/users?unit_id={crowded.id}&page=2"))
    third = text(client.get(f"/admin/users?unit_id={crowded.id}&page=3"))
    assert len(rows.findall(second)) == 25 and len(rows.findall(third)) == 10
    assert "员工59" in third and "员工59" not in first
    assert f"unit_id={crowded.id}" in re.search(r'href="([^"]*page=2[^"]*)"', first).group(1)


def test_empty_list_says_what_to_do(client, tree):
    lonely = make_unit(name="空工会", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
    admin_of_nothing = make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,), admin_of=lonely)
    sign_in(client, admin_of_nothing)
    html = text(client.get("/admin/users"))
    assert "还没有用户" in html and "批量导入" in html


def test_markup_in_names_is_escaped(client, tree, admin):
    unit = make_unit(name="<b>粗体</b>工会", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
    make_user(unit=unit, name="张三&李四")
    sign_in(client, admin)
    html = text(client.get("/admin/users"))
    assert "&lt;b&gt;粗体&lt;/b&gt;工会" in html and "<b>粗体" not in html
    assert "张三&amp;李四" in html


# ---------------------------------------------------------------- create, edit, detail

def test_create_shows_the_generated_password_once(client, tree, admin):
    token = sign_in(client, admin)
    resp = client.post("/admin/users/new", data={
        "csrf_token": token, "name": "赵新", "phone": "13922223333", "unit_id": tree["grassroots"].id,
        "position": "工会干事", "cadre_type": "part_time", "enterprise_type": "non_public",
        "gender": "female", "roles": ["learner", "unit_admin"]})
    html = text(resp)
    assert resp.status_code == 200 and "已新建用户" in html and "只显示这一次" in html
    password = re.search(r'<output id="initial-password"[^>]*>([^<]+)</output>', html).group(1)
    assert resp.headers["Cache-Control"] == "no-store"
    assert password not in resp.headers.get("Set-Cookie", "") and "Location" not in resp.headers
    user = User.query.filter_by(phone="13922223333").one()
    assert user.must_change_password and verify_password(user.password_hash, password)
    assert user.roles() == {Role.LEARNER, Role.UNIT_ADMIN}
    assert [g.unit_id for g in user.role_grants if g.role is Role.UNIT_ADMIN] == [tree["grassroots"].id]
    # the next page does not show it again
    assert password not in text(client.get(f"/admin/users/{user.id}"))


def test_create_with_a_chosen_password_does_not_echo_it(client, tree, admin):
    token = sign_in(client, admin)
    resp = client.post("/admin/users/new", data={
        "csrf_token": token, "name": "钱多", "username": "qianduo", "unit_id": tree["grassroots"].id,
        "cadre_type": "full_time", "enterprise_type": "state_owned", "password": "Chosen2026x"})
    assert resp.status_code == 200 and "Chosen2026x" not in text(resp)
    assert "已使用您设定的初始密码" in text(resp)


def test_create_refusals_stay_in_the_form(client, tree, admin):
    make_user(unit=tree["grassroots"], phone="13933334444")
    token = sign_in(client, admin)
    base = {"csrf_token": token, "name": "孙立", "unit_id": tree["grassroots"].id,
            "cadre_type": "part_time", "enterprise_type": "non_public"}
    resp = client.post("/admin/users/new", data={**base, "phone": "13933334444"})
    assert resp.status_code == 409 and "已被其他账号使用" in text(resp) and 'value="孙立"' in text(resp)
    resp = client.post("/admin/users/new", data={**base, "phone": "12345"})
    assert resp.status_code == 422 and "格式不正确" in text(resp)
    resp = client.post("/admin/users/new", data={**base, "phone": "13933335555", "name": "<i>x</i>"})
    assert resp.status_code == 422 and "不允许的字符" in text(resp)
    resp = client.post("/admin/users/new", data={**base, "name": "", "phone": "13933335555"})
    assert resp.status_code == 422 and "请填写姓名" in text(resp)
    resp = client.post("/admin/users/new", data={**base, "phone": "13933335555", "cadre_type": "boss"})
    assert resp.status_code == 422 and "请从列表中选择" in text(resp)
    assert User.query.filter_by(name="孙立").count() == 0


def test_unit_admin_forging_unit_and_role_in_the_create_form(client, tree, unit_admin):
    token = sign_in(client, unit_admin)
    base = {"csrf_token": token, "name": "周伪", "phone": "13944445555",
            "cadre_type": "part_time", "enterprise_type": "non_public"}
    resp = client.post("/admin/users/new", data={**base, "unit_id": tree["other_grassroots"].id})
    assert resp.status_code == 404
    resp = client.post("/admin/users/new", data={**base, "unit_id": tree["grassroots"].id,
                                                 "roles": ["platform_admin"]})
    assert resp.status_code == 403 and "不能授予“平台管理员”角色" in text(resp)
    assert User.query.filter_by(name="周伪").count() == 0
    # the form offers only their units and the roles they may grant
    html = text(client.get("/admin/users/new"))
    assert "乙公司工会" not in html and "平台管理员" not in html and "单位管理员" in html


def test_edit_saves_and_redirects_to_the_detail(client, tree, admin):
    cadre = make_user(unit=tree["grassroots"], name="吴旧")
    token = sign_in(client, admin)
    resp = client.post(f"/admin/users/{cadre.id}/edit", data={
        "csrf_token": token, "name": "吴新", "phone": cadre.phone, "unit_id": tree["other_grassroots"].id,
        "position": "工会主席", "cadre_type": "full_time", "enterprise_type": "public_sector",
        "email": "wu@example.cn", "ethnicity": "汉族"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/users/{cadre.id}")
    html = text(client.get(resp.headers["Location"]))
    assert "已保存“吴新”的资料" in html and "乙公司工会" in html and "机关事业" in html
    assert "修改用户 吴新" in html  # the audit entry at the bottom
    resp = client.post(f"/admin/users/{cadre.id}/edit", data={
        "csrf_token": token, "name": "吴新", "phone": cadre.phone, "unit_id": tree["grassroots"].id,
        "cadre_type": "full_time", "enterprise_type": "non_public", "email": "not-an-address"})
    assert resp.status_code == 422 and "邮箱格式不正确" in text(resp)


def test_unit_admin_forging_ids_of_other_units_users(client, tree, unit_admin):
    outsider = make_user(unit=tree["other_grassroots"], name="外单位")
    boss = make_user(unit=tree["grassroots"], roles=(Role.PLATFORM_ADMIN,), name="大领导")
    mine = make_user(unit=tree["grassroots"], name="本单位")
    grant_of_outsider = outsider.role_grants[0].id
    token = sign_in(client, unit_admin)
    for url in (f"/admin/users/{outsider.id}", f"/admin/users/{outsider.id}/edit", "/admin/users/999999"):
        resp = client.get(url)
        assert resp.status_code == 404 and "外单位" not in text(resp), url
    for url in (f"/admin/users/{boss.id}", f"/admin/users/{boss.id}/edit"):
        assert client.get(url).status_code == 403, url
    posts = [(f"/admin/users/{outsider.id}/deactivate", {}),
             (f"/admin/users/{outsider.id}/reset-password", {}),
             (f"/admin/users/{outsider.id}/edit", {"name": "改掉", "phone": outsider.phone,
                                                   "unit_id": tree["grassroots"].id}),
             (f"/admin/users/{outsider.id}/roles", {"role": "unit_admin",
                                                    "unit_id": tree["grassroots"].id}),
             (f"/admin/users/{outsider.id}/roles/{grant_of_outsider}/revoke", {}),
             # a grant id of another user through a user they do manage
             (f"/admin/users/{mine.id}/roles/{grant_of_outsider}/revoke", {}),
             # a unit of another subtree in the grant form and in the edit form
             (f"/admin/users/{mine.id}/roles", {"role": "unit_admin",
                                                "unit_id": tree["other_zone"].id}),
             (f"/admin/users/{mine.id}/edit", {"name": "本单位", "phone": mine.phone,
                                               "cadre_type": "part_time", "enterprise_type": "non_public",
                                               "unit_id": tree["other_grassroots"].id})]
    for url, form in posts:
        resp = client.post(url, data={"csrf_token": token, **form})
        assert resp.status_code == 404, (url, resp.status_code)
        assert "外单位" not in text(resp)
    for url in (f"/admin/users/{boss.id}/deactivate", f"/admin/users/{boss.id}/reset-password"):
        assert client.post(url, data={"csrf_token": token}).status_code == 403
    outsider = ext_db.session.get(User, outsider.id)
    assert outsider.active and outsider.name == "外单位" and len(outsider.role_grants) == 1
    assert ext_db.session.get(User, boss.id).active and ext_db.session.get(User, mine.id).unit_id == tree["grassroots"].id
    assert AuditEntry.query.count() == 0


def test_api_refuses_other_units_users_too(client, tree, unit_admin):
    outsider = make_user(unit=tree["other_grassroots"])
    mine = make_user(unit=tree["grassroots"])
    resp = client.post("/api/v1/auth/token", json={"login": unit_admin.phone, "password": PASSWORD})
    headers = {"Authorization": "Bearer " + resp.json["token"]}
    assert client.get(f"/api/v1/users/{mine.id}", headers=headers).status_code == 200
    resp = client.get(f"/api/v1/users/{outsider.id}", headers=headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "user_not_found"


# ---------------------------------------------------------------- actions on one user

def test_deactivate_and_activate(client, tree, unit_admin):
    cadre = make_user(unit=tree["grassroots"], name="郑停")
    token = sign_in(client, unit_admin)
    html = text(client.get(f"/admin/users/{cadre.id}"))
    assert 'data-confirm="确定停用“郑停”吗？' in html
    resp = client.post(f"/admin/users/{cadre.id}/deactivate", data={"csrf_token": token})
    assert resp.status_code == 302
    html = text(client.get(f"/admin/users/{cadre.id}"))
    assert "已停用“郑停”" in html and "启用" in html and "停用用户 郑停" in html
    assert not ext_db.session.get(User, cadre.id).active
    client.post(f"/admin/users/{cadre.id}/activate", data={"csrf_token": token})
    assert ext_db.session.get(User, cadre.id).active


def test_refused_action_shows_the_message_on_the_page(client, tree, unit_admin):
    token = sign_in(client, unit_admin)
    resp = client.post(f"/admin/users/{unit_admin.id}/deactivate", data={"csrf_token": token})
    assert resp.status_code == 422 and "不能停用自己的账号" in text(resp)
    assert 'role="alert"' in text(resp)


def test_reset_password_shows_it_on_the_response_only(client, tree, admin):
    cadre = make_user(unit=tree["grassroots"], name="冯重置")
    token = sign_in(client, admin)
    resp = client.post(f"/admin/users/{cadre.id}/reset-password", data={"csrf_token": token})
    html = text(resp)
    assert resp.status_code == 200 and "已重置密码" in html
    password = re.search(r'<output id="initial-password"[^>]*>([^<]+)</output>', html).group(1)
    assert password not in resp.headers.get("Set-Cookie", "")
    assert resp.headers["Cache-Control"] == "no-store"
    cadre = ext_db.session.get(User, cadre.id)
    assert cadre.must_change_password and verify_password(cadre.password_hash, password)
    assert password not in text(client.get(f"/admin/users/{cadre.id}"))
    assert "重置用户 冯重置 的密码" in text(client.get(f"/admin/users/{cadre.id}"))


def test_grant_and_revoke_roles(client, tree, unit_admin):
    cadre = make_user(unit=tree["grassroots"], name="褚授")
    token = sign_in(client, unit_admin)
    html = text(client.get(f"/admin/users/{cadre.id}"))
    grant_form = html[html.index('class="grant-form"'):]
    assert "单位管理员" in grant_form and "讲师" not in grant_form and "平台管理员" not in grant_form
    resp = client.post(f"/admin/users/{cadre.id}/roles", data={
        "csrf_token": token, "role": "unit_admin", "unit_id": tree["grassroots"].id})
    assert resp.status_code == 302
    cadre = ext_db.session.get(User, cadre.id)
    grant = next(g for g in cadre.role_grants if g.role is Role.UNIT_ADMIN)
    assert grant.unit_id == tree["grassroots"].id
    assert "已授予“褚授”单位管理员角色" in text(client.get(f"/admin/users/{cadre.id}"))
    resp = client.post(f"/admin/users/{cadre.id}/roles", data={"csrf_token": token, "role": "instructor"})
    assert resp.status_code == 403 and "不能授予“讲师”角色" in text(resp)
    resp = client.post(f"/admin/users/{cadre.id}/roles", data={"csrf_token": token, "role": ""})
    assert resp.status_code == 422 and "请选择角色" in text(resp)
    resp = client.post(f"/admin/users/{cadre.id}/roles/{grant.id}/revoke", data={"csrf_token": token})
    assert resp.status_code == 302
    assert ext_db.session.get(User, cadre.id).roles() == {Role.LEARNER}


# ---------------------------------------------------------------- the audit log

def _entry(actor, at, action, summary, unit_path=None, ip="198.51.100.9"):
    return record(Origin(actor=actor, ip=ip, now=at), action, action.split(".")[0], None, summary,
                  unit_path=unit_path)


def test_audit_log_filters_and_local_dates(client, tree, admin):
    # 2026-11-25 23:30 in Beijing is 15:30 UTC: it belongs to the 25th in local time
    late = datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc)
    _entry(admin, late, "user.create", "新建用户 深夜")
    _entry(admin, late + timedelta(hours=1), "unit.create", "新建单位 次日凌晨")  # 26th 00:30 local
    _entry(admin, late - timedelta(days=3), "role.grant", "授予 三天前")
    sign_in(client, admin)
    html = text(client.get("/admin/audit"))
    assert "2026-11-25 23:30:00" in html and "198.51.100.9" in html and "新建用户" in html

    def shown(query):
        page = text(client.get("/admin/audit?" + query))
        return {s for s in ("深夜", "次日凌晨", "三天前") if s in page}

    assert shown("since=2026-11-25&until=2026-11-25") == {"深夜"}
    assert shown("since=2026-11-26") == {"次日凌晨"}
    assert shown("until=2026-11-24") == {"三天前"}
    assert shown("action=unit.") == {"次日凌晨"}
    assert shown("object_type=unit") == {"次日凌晨"}
    assert shown("q=三天") == {"三天前"}
    assert shown("actor=王建") == {"深夜", "次日凌晨", "三天前"}
    assert shown("actor=别人") == set()
    assert "没有符合筛选条件的记录" in text(client.get("/admin/audit?actor=别人"))
    assert client.get("/admin/audit?since=not-a-date").status_code == 200


def test_unit_admin_sees_only_their_subtree_in_the_log(client, tree, admin, unit_admin):
    _entry(admin, datetime(2026, 11, 1, tzinfo=timezone.utc), "user.update", "修改 开发区的人",
           unit_path=tree["grassroots"].path)
    _entry(admin, datetime(2026, 11, 1, tzinfo=timezone.utc), "user.update", "修改 保税区的人",
           unit_path=tree["other_grassroots"].path)
    _entry(admin, datetime(2026, 11, 1, tzinfo=timezone.utc), "unit.create", "全区的事")
    sign_in(client, unit_admin)
    html = text(client.get("/admin/audit"))
    assert "开发区的人" in html and "保税区的人" not in html and "全区的事" not in html


def test_audit_log_paginates_by_50_and_is_read_only(client, tree, admin):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(120):
        _entry(admin, start + timedelta(minutes=i), "user.update", f"第{i:03d}条")
    token = sign_in(client, admin)
    first = text(client.get("/admin/audit"))
    assert "第119条" in first and "第070条" in first and "第069条" not in first
    assert "第 1 / 3 页，共 120 条" in first
    assert "第000条" in text(client.get("/admin/audit?page=3"))
    for method in ("post", "put", "delete", "patch"):
        resp = getattr(client, method)("/admin/audit", data={"csrf_token": token})
        assert resp.status_code == 405, method
    assert AuditEntry.query.count() == 120


def test_export_link_carries_the_filters(client, tree, admin):
    sign_in(client, admin)
    html = text(client.get(f"/admin/users?q=张&status=inactive&unit_id={tree['zone'].id}&page=2"))
    link = re.search(r'<a class="button" href="([^"]*)">导出 Excel</a>', html).group(1)
    assert link.startswith("/admin/imports/export") and "active=inactive" in link
    assert f"unit_id={tree['zone'].id}" in link and "page=" not in link and "status=" not in link
    assert 'href="/admin/imports/"' in html

"""The unit tree pages: everyone with an admin role reads their subtree, only platform
administrators change it."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.accounts.models import AuditEntry, Role
from lms.extensions import db as ext_db
from lms.org.models import Unit, UnitKind
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_two_zone_tree, make_unit, make_user


@pytest.fixture
def tree(db):
    return make_two_zone_tree()


@pytest.fixture
def admin(tree):
    return make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,), phone="13900000001")


def sign_in(client, user) -> str:
    assert login(client, user.phone, PASSWORD).status_code == 302
    return csrf_token(client, "/")


def text(resp) -> str:
    return resp.get_data(as_text=True)


def test_platform_admin_sees_the_whole_tree_with_counts(client, tree, admin):
    for _ in range(3):
        make_user(unit=tree["grassroots"])
    make_user(unit=tree["grassroots"], active=False)
    closed = make_unit(name="已关闭工会", kind=UnitKind.GRASSROOTS, parent=tree["other_zone"])
    closed.active = False
    sign_in(client, admin)
    html = text(client.get("/admin/units/"))
    assert "单位管理" in html and "新建单位" in html
    for name in ("滨海新区总工会", "开发区总工会", "保税区总工会", "甲公司工会", "乙公司工会"):
        assert name in html
    assert "功能区" in html and "基层工会" in html and "区总工会" in html
    row = re.search(r'<li class="unit-row depth-2">\s*<a [^>]*>甲公司工会</a>.*?</li>', html, re.S).group(0)
    assert "4 人（在用 3）" in row
    closed_row = re.search(r'<li class="[^"]*inactive">\s*<a [^>]*>已关闭工会</a>.*?</li>', html, re.S).group(0)
    assert "已停用" in closed_row
    # depth-first: each zone is followed by its own grassroots unions (siblings by name)
    assert (html.index("保税区总工会") < html.index("乙公司工会") < html.index("开发区总工会")
            < html.index("甲公司工会"))


def test_the_tree_costs_the_same_queries_for_many_units(client, db, tree, admin):
    sign_in(client, admin)

    def statements_for_tree() -> int:
        seen = []

        def note(conn, cursor, statement, *args):
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", note)
        try:
            assert client.get("/admin/units/").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", note)
        return len(seen)

    few = statements_for_tree()
    for i in range(30):
        unit = make_unit(name=f"新增工会{i}", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
        make_user(unit=unit)
    db.session.commit()
    assert statements_for_tree() == few


def test_unit_admin_reads_only_their_subtree(client, tree):
    unit_admin = make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,))
    sign_in(client, unit_admin)
    html = text(client.get("/admin/units/"))
    assert "开发区总工会" in html and "甲公司工会" in html
    assert "保税区总工会" not in html and "乙公司工会" not in html
    assert "新建单位" not in html and "平台管理员" in html  # read-only, says whom to ask
    resp = client.get(f"/admin/units/{tree['grassroots'].id}")
    assert resp.status_code == 200 and "更名与排序" not in text(resp) and "停用单位" not in text(resp)
    assert client.get(f"/admin/units/{tree['other_grassroots'].id}").status_code == 404


@pytest.mark.parametrize("roles", [(Role.UNIT_ADMIN,), (Role.LEARNER,)])
def test_every_change_route_is_403_for_others_even_with_a_valid_token(client, tree, roles):
    actor = make_user(unit=tree["zone"], roles=roles)
    target = tree["grassroots"]
    token = sign_in(client, actor)
    assert client.get("/admin/units/new").status_code == 403
    posts = [("/admin/units/new", {"name": "伪造", "kind": "grassroots", "parent_id": tree["zone"].id}),
             (f"/admin/units/{target.id}/rename", {"name": "伪造", "sort_order": 1}),
             (f"/admin/units/{target.id}/move", {"parent_id": tree["other_zone"].id}),
             (f"/admin/units/{target.id}/deactivate", {}),
             (f"/admin/units/{target.id}/activate", {}),
             (f"/admin/units/{target.id}/delete", {})]
    for url, form in posts:
        resp = client.post(url, data={"csrf_token": token, **form})
        assert resp.status_code == 403, url
    unit = ext_db.session.get(Unit, target.id)
    assert unit.name == "甲公司工会" and unit.parent_id == tree["zone"].id and unit.active
    assert ext_db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
    if roles == (Role.LEARNER,):
        assert client.get("/admin/units/").status_code == 403


def test_change_routes_need_a_csrf_token(client, tree, admin):
    sign_in(client, admin)
    resp = client.post(f"/admin/units/{tree['grassroots'].id}/delete")
    assert resp.status_code == 400
    assert ext_db.session.get(Unit, tree["grassroots"].id) is not None


def test_create_a_unit_under_a_zone(client, tree, admin):
    token = sign_in(client, admin)
    html = text(client.get(f"/admin/units/new?parent={tree['zone'].id}"))
    assert re.search(r'<option[^>]*\bselected\b[^>]*>\u3000开发区总工会</option>', html)
    assert "甲公司工会" not in html  # a grassroots union is never a parent
    assert 'data-kind="zone"' in html and "data-allowed-parents" in html
    resp = client.post("/admin/units/new", data={"csrf_token": token, "name": "丙科技有限公司工会",
                                                 "kind": "grassroots", "parent_id": tree["zone"].id,
                                                 "sort_order": "3"})
    assert resp.status_code == 302
    unit = ext_db.session.scalar(sa.select(Unit).where(Unit.name == "丙科技有限公司工会"))
    assert unit.parent_id == tree["zone"].id and unit.sort_order == 3
    assert resp.headers["Location"].endswith(f"/admin/units/{unit.id}")
    html = text(client.get(resp.headers["Location"]))
    assert "已新建单位“丙科技有限公司工会”" in html and "在此单位新建用户" in html
    entry = ext_db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "unit.create"))
    assert entry.object_id == unit.id and entry.ip == "127.0.0.1"


def test_create_refusals(client, tree, admin):
    token = sign_in(client, admin)
    resp = client.post("/admin/units/new", data={"csrf_token": token, "name": "区中区",
                                                 "kind": "zone", "parent_id": tree["zone"].id})
    assert resp.status_code == 422 and "“功能区”不能设在“功能区”之下" in text(resp)
    resp = client.post("/admin/units/new", data={"csrf_token": token, "name": "甲公司工会",
                                                 "kind": "grassroots", "parent_id": tree["zone"].id})
    assert resp.status_code == 409 and "已有名为“甲公司工会”的单位" in text(resp)
    resp = client.post("/admin/units/new", data={"csrf_token": token, "name": "",
                                                 "kind": "grassroots", "parent_id": ""})
    assert resp.status_code == 422 and "请填写单位名称" in text(resp) and "请选择上级单位" in text(resp)
    resp = client.post("/admin/units/new", data={"csrf_token": token, "name": "第二个区总工会",
                                                 "kind": "district", "parent_id": tree["root"].id})
    assert resp.status_code == 422 and "请从列表中选择" in text(resp)
    resp = client.post("/admin/units/new", data={"csrf_token": token, "name": "悬空",
                                                 "kind": "grassroots", "parent_id": "999999"})
    assert resp.status_code == 404 and "单位不存在" in text(resp)


def test_rename_move_deactivate_and_delete(client, tree, admin):
    member = make_user(unit=tree["grassroots"])
    token = sign_in(client, admin)
    unit_id = tree["grassroots"].id
    page = text(client.get(f"/admin/units/{unit_id}"))
    move_form = page[page.index('id="move-title"'):page.index('id="state-title"')]
    assert "保税区总工会" in move_form and "乙公司工会" not in move_form

    resp = client.post(f"/admin/units/{unit_id}/rename", data={"csrf_token": token, "name": "甲集团工会",
                                                              "sort_order": "7"})
    assert resp.status_code == 302 and ext_db.session.get(Unit, unit_id).name == "甲集团工会"
    resp = client.post(f"/admin/units/{unit_id}/move", data={"csrf_token": token,
                                                            "parent_id": tree["other_zone"].id})
    assert resp.status_code == 302
    unit = ext_db.session.get(Unit, unit_id)
    assert unit.parent_id == tree["other_zone"].id and unit.path == f"{tree['other_zone'].path}{unit_id}/"
    assert "已把单位“甲集团工会”移至“保税区总工会”之下" in text(client.get(f"/admin/units/{unit_id}"))

    resp = client.post(f"/admin/units/{unit_id}/deactivate", data={"csrf_token": token})
    assert resp.status_code == 409 and "还有 1 名在用成员" in text(resp)
    resp = client.post(f"/admin/units/{unit_id}/delete", data={"csrf_token": token})
    assert resp.status_code == 409 and "不能删除，只能停用" in text(resp)
    resp = client.post(f"/admin/users/{member.id}/deactivate", data={"csrf_token": token})
    assert resp.status_code == 302
    resp = client.post(f"/admin/units/{unit_id}/deactivate", data={"csrf_token": token})
    assert resp.status_code == 302 and not ext_db.session.get(Unit, unit_id).active
    assert "已停用" in text(client.get("/admin/units/"))
    resp = client.post(f"/admin/units/{unit_id}/activate", data={"csrf_token": token})
    assert resp.status_code == 302 and ext_db.session.get(Unit, unit_id).active

    resp = client.post(f"/admin/units/{tree['zone'].id}/move", data={"csrf_token": token,
                                                                      "parent_id": tree["other_zone"].id})
    assert resp.status_code == 422 and "不能设在" in text(resp)

    empty = make_unit(name="误建工会", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
    ext_db.session.commit()
    resp = client.post(f"/admin/units/{empty.id}/delete", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/units/")
    assert ext_db.session.get(Unit, empty.id) is None
    actions = set(ext_db.session.scalars(sa.select(AuditEntry.action)))
    assert {"unit.rename", "unit.reorder", "unit.move", "unit.deactivate", "unit.activate",
            "unit.delete"} <= actions


def test_the_root_is_only_renamed(client, tree, admin):
    sign_in(client, admin)
    html = text(client.get(f"/admin/units/{tree['root'].id}"))
    assert "更名与排序" in html and "移动到其他上级单位" not in html and "删除单位" not in html


def test_unit_names_are_escaped(client, tree, admin):
    make_unit(name="<script>x</script>工会", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
    sign_in(client, admin)
    html = text(client.get("/admin/units/"))
    assert "&lt;script&gt;x&lt;/script&gt;工会" in html and "<script>x" not in html


def test_large_trees_paginate(client, tree, admin):
    for i in range(110):
        make_unit(name=f"批量工会{i:03d}", kind=UnitKind.GRASSROOTS, parent=tree["zone"])
    sign_in(client, admin)
    first = text(client.get("/admin/units/"))
    assert "第 1 / 2 页，共 115 条" in first and "批量工会000" in first
    second = text(client.get("/admin/units/?page=2"))
    assert "批量工会109" in second and "批量工会000" not in second and "第 2 / 2 页" in second

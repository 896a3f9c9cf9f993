from lms.accounts.models import Role
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_user


def test_healthz(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json == {"status": "ok"}


def test_public_home_is_chinese_with_security_headers(client):
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "滨海新区工会干部教育培训在线学习平台" in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in html  # no inline script anywhere


def test_sign_in_with_phone_and_see_home(client, db):
    user = make_user(phone="13912345678")
    resp = login(client, "13912345678", PASSWORD)
    assert resp.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert user.name in home and user.unit.name in home
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_in_with_username(client, db):
    make_user(username="zhangsan")
    assert login(client, "zhangsan", PASSWORD).status_code == 302


def test_wrong_password_is_refused_in_chinese(client, db):
    make_user(phone="13912345679")
    resp = login(client, "13912345679", "wrong-password1")
    assert resp.status_code == 401
    assert "账号或密码错误" in resp.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(client, db):
    make_user(phone="13912345670")
    resp = client.post("/login", data={"login": "13912345670", "password": PASSWORD})
    assert resp.status_code == 400
    assert "页面已过期" in resp.get_data(as_text=True)


def test_must_change_password_before_anything_else(client, db):
    make_user(phone="13912345671", must_change_password=True)
    resp = login(client, "13912345671", PASSWORD)
    assert resp.headers["Location"].endswith("/password")
    assert client.get("/").status_code == 302
    token = csrf_token(client, "/password")
    resp = client.post("/password", data={"current": PASSWORD, "new": "NewPass2026",
                                          "confirm": "NewPass2026", "csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200


def test_weak_new_password_is_refused(client, db):
    make_user(phone="13912345672")
    login(client, "13912345672", PASSWORD)
    token = csrf_token(client, "/password")
    resp = client.post("/password", data={"current": PASSWORD, "new": "abc", "confirm": "abc",
                                          "csrf_token": token})
    assert resp.status_code == 422 and "至少 8 位" in resp.get_data(as_text=True)


def test_logout_ends_session(client, db):
    make_user(phone="13912345673")
    login(client, "13912345673", PASSWORD)
    token = csrf_token(client, "/password")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/password").status_code == 302


def test_open_redirect_after_login_is_refused(client, db):
    make_user(phone="13912345674")
    token = csrf_token(client, "/login")
    resp = client.post("/login?next=//evil.example/x", data={
        "login": "13912345674", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_learner_cannot_open_admin_pages(client, db):
    make_user(phone="13912345675", roles=(Role.LEARNER,))
    login(client, "13912345675", PASSWORD)
    resp = client.get("/admin/users")
    assert resp.status_code == 403 and "没有权限" in resp.get_data(as_text=True)


def test_unknown_page_is_chinese_404(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)

"""The API's tokens, the caller, errors as JSON and the OpenAPI document."""
from datetime import timedelta

import pytest

from lms.accounts import services
from lms.accounts.models import ApiToken, LoginThrottle, Role
from lms.db import utcnow
from lms.errors import TooManyAttempts
from tests.factories import PASSWORD, make_unit, make_user
from lms.org.models import UnitKind


def token_for(client, login_name, password=PASSWORD, ip="10.0.0.1"):
    return client.post("/api/v1/auth/token", json={"login": login_name, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def test_token_me_and_revoke(client, db):
    user = make_user(phone="13911110001", roles=(Role.LEARNER, Role.INSTRUCTOR))
    resp = token_for(client, "13911110001")
    assert resp.status_code == 200
    body = resp.json
    assert body["user"] == {"id": user.id, "name": user.name, "roles": ["instructor", "learner"]}
    assert body["expires_at"]
    auth = {"Authorization": f"Bearer {body['token']}"}
    me = client.get("/api/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.json["unit"]["name"] == user.unit.name
    assert me.json["cadre_profile"]["cadre_type"] == "part_time"
    assert me.json["phone"] == "13911110001"  # one's own number in full
    # the token is stored hashed, never as given
    assert db.session.query(ApiToken).filter_by(token_hash=body["token"]).count() == 0
    assert client.delete("/api/v1/auth/token", headers=auth).status_code == 204
    resp = client.get("/api/v1/me", headers=auth)
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "token_invalid"
    assert "登录" in resp.json["error"]["message"]


def test_wrong_password_is_401_json(client, db):
    make_user(phone="13911110002")
    resp = token_for(client, "13911110002", "wrong-pass1")
    assert resp.status_code == 401
    assert resp.json == {"error": {"code": "login_failed", "message": "账号或密码错误。"}}


@pytest.mark.parametrize("body", [{}, {"login": "x"}, {"login": "", "password": "x"},
                                  {"login": ["a"], "password": "b"}, {"login": "a" * 500, "password": "b"}])
def test_malformed_token_requests_are_422(client, db, body):
    resp = client.post("/api/v1/auth/token", json=body)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_input"


def test_not_json_is_refused_cleanly(client, db):
    resp = client.post("/api/v1/auth/token", data="login=a&password=b",
                       content_type="application/x-www-form-urlencoded")
    assert 400 <= resp.status_code < 500
    assert "error" in resp.json


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not-a-token", "Basic abc",
                                    "Bearer " + "x" * 5000, "Bearer ' OR 1=1 --"])
def test_forged_tokens_are_401(client, db, header):
    resp = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "token_invalid"


def test_expired_token_is_refused(db):
    user = make_user()
    raw, _ = services.issue_token(user, now=utcnow() - timedelta(days=31), ttl=timedelta(days=30))
    assert services.user_id_for_token(raw, now=utcnow()) is None
    raw, _ = services.issue_token(user, now=utcnow(), ttl=timedelta(days=30))
    assert services.user_id_for_token(raw, now=utcnow()) == user.id


def test_deactivated_users_tokens_stop_working(client, db):
    user = make_user(phone="13911110003")
    raw = token_for(client, "13911110003").json["token"]
    user.active = False
    db.session.flush()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_fifty_wrong_passwords_slow_down_then_lock(client, db):
    make_user(phone="13911110004")
    statuses = [token_for(client, "13911110004", f"wrong-{i}a").status_code for i in range(50)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    resp = token_for(client, "13911110004", PASSWORD)  # even the right password waits now
    assert resp.status_code == 429
    assert "秒后再试" in resp.json["error"]["message"] or "分钟后再试" in resp.json["error"]["message"]


def test_throttle_doubles_then_locks_and_expires(db):
    make_user(phone="13911110005")
    t = utcnow()
    for _ in range(5):
        with pytest.raises(services.LoginFailed):
            services.authenticate("13911110005", "bad-pass1", ip=None, now=t)
    with pytest.raises(TooManyAttempts) as exc:
        services.authenticate("13911110005", PASSWORD, ip=None, now=t + timedelta(seconds=10))
    assert exc.value.code == "login_slow_down"
    t += timedelta(seconds=31)  # each wait over, the next failure doubles it: 60, 120, 240, 480 s
    for wait in (60, 120, 240, 480):
        with pytest.raises(services.LoginFailed):
            services.authenticate("13911110005", "bad-pass1", ip=None, now=t)
        with pytest.raises(TooManyAttempts):
            services.authenticate("13911110005", "bad-pass1", ip=None, now=t + timedelta(seconds=wait - 2))
        t += timedelta(seconds=wait + 1)
    with pytest.raises(services.LoginFailed):
        services.authenticate("13911110005", "bad-pass1", ip=None, now=t)  # the 10th
    with pytest.raises(TooManyAttempts) as exc:
        services.authenticate("13911110005", PASSWORD, ip=None, now=t + timedelta(minutes=14))
    assert exc.value.code == "login_locked"
    user = services.authenticate("13911110005", PASSWORD, ip=None, now=t + timedelta(minutes=16))
    assert user.phone == "13911110005"
    assert db.session.get(LoginThrottle, "acct:13911110005") is None  # success clears it


def test_one_address_guessing_many_accounts_is_slowed(db):
    t = utcnow()
    for i in range(20):
        with pytest.raises(services.LoginFailed):
            services.authenticate(f"nobody{i}", "bad-pass1", ip="203.0.113.9", now=t)
    with pytest.raises(TooManyAttempts):
        services.authenticate("someone", "bad-pass1", ip="203.0.113.9", now=t)
    # another address is not affected
    with pytest.raises(services.LoginFailed):
        services.authenticate("someone", "bad-pass1", ip="203.0.113.10", now=t)


def test_inactive_account_cannot_sign_in(db):
    make_user(phone="13911110006", active=False)
    with pytest.raises(services.LoginFailed) as exc:
        services.authenticate("13911110006", PASSWORD, ip=None, now=utcnow())
    assert exc.value.code == "login_inactive"


def test_users_api_is_scoped_to_the_admins_subtree(client, db):
    zone_a = make_unit(kind=UnitKind.ZONE)
    zone_b = make_unit(kind=UnitKind.ZONE)
    mine = make_user(unit=make_unit(kind=UnitKind.GRASSROOTS, parent=zone_a))
    theirs = make_user(unit=make_unit(kind=UnitKind.GRASSROOTS, parent=zone_b))
    make_user(phone="13911110007", unit=zone_a, roles=(Role.UNIT_ADMIN,))
    auth = {"Authorization": "Bearer " + token_for(client, "13911110007").json["token"]}
    listed = client.get("/api/v1/users?per_page=100", headers=auth).json
    ids = {u["id"] for u in listed["items"]}
    assert mine.id in ids and theirs.id not in ids
    assert client.get(f"/api/v1/users/{mine.id}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/users/{theirs.id}", headers=auth).status_code == 404
    assert client.get("/api/v1/users?unit_id=%d" % zone_b.id, headers=auth).status_code == 404
    units = {u["id"] for u in client.get("/api/v1/units", headers=auth).json["items"]}
    assert zone_a.id in units and zone_b.id not in units


def test_learner_cannot_list_users(client, db):
    make_user(phone="13911110008")
    auth = {"Authorization": "Bearer " + token_for(client, "13911110008").json["token"]}
    assert client.get("/api/v1/users", headers=auth).status_code == 403
    assert client.get("/api/v1/units", headers=auth).status_code == 403


def test_learner_sees_other_phones_masked(db):
    from lms.accounts.permissions import visible_phone
    viewer = make_user()
    other = make_user(phone="13911110009")
    assert visible_phone(viewer, other) == "139****0009"
    assert visible_phone(other, other) == "13911110009"


def test_openapi_document_is_generated_from_the_schemas(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    token_op = spec["paths"]["/api/v1/auth/token"]["post"]
    schema_ref = token_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][name]["required"]) == {"login", "password"}
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert "/api/v1/me" in spec["paths"]


def test_api_errors_are_json_for_unknown_paths(client):
    resp = client.get("/api/v1/no-such-thing")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"

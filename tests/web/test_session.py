"""Browser sessions end after idle time and when the password changes elsewhere."""
import time
from datetime import datetime, timedelta, timezone

from itsdangerous import TimestampSigner

from lms.accounts.models import new_session_nonce
from lms.web import sessions
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def test_session_ends_after_idle_time(client, db, app, monkeypatch):
    make_user(phone="13922220001")
    idle = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    signed_at = time.time() - idle - 60
    # The session cookie is signed with a timestamp; sign it as if the last request was long ago.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(signed_at))
    login(client, "13922220001", PASSWORD)
    assert client.get("/password").status_code == 200  # checked against the real clock below
    monkeypatch.undo()
    resp = client.get("/password")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_recent_activity_keeps_the_session(client, db):
    make_user(phone="13922220002")
    login(client, "13922220002", PASSWORD)
    assert client.get("/password").status_code == 200
    assert client.get("/").status_code == 200


def test_password_change_elsewhere_ends_this_session(client, db):
    user = make_user(phone="13922220003")
    login(client, "13922220003", PASSWORD)
    user.session_nonce = new_session_nonce()  # as change_password / reset / deactivate do
    db.session.flush()
    resp = client.get("/password")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_an_unchanged_session_is_re_signed_at_most_once_a_minute(client, db, monkeypatch):
    make_user(phone="13922220004")
    login(client, "13922220004", PASSWORD)
    client.get("/")  # the first page stores the CSRF secret: a changed session, a new cookie
    assert "Set-Cookie" not in client.get("/").headers  # unchanged and just signed: none
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    monkeypatch.setattr(sessions, "_now", lambda: later)
    resp = client.get("/")
    assert resp.status_code == 200 and "lms_session=" in resp.headers.get("Set-Cookie", "")

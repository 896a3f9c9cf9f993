"""The browser session cookie: idle expiry without re-signing the cookie on every request."""
from __future__ import annotations

from datetime import datetime, timezone

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

#: an unchanged session's cookie is re-signed (its idle clock restarted) at most this often
REFRESH_AFTER_SECONDS = 60


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SlidingSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, whose signature time is the last activity: a cookie
    older than the idle lifetime is refused. Re-signing an unchanged session on every request
    (Flask's SESSION_REFRESH_EACH_REQUEST) costs each page a serialisation, compression and
    signature; here that happens once a minute at most, so idle expiry is exact to a minute."""

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        if signed_at is None:
            return True
        age = (_now() - signed_at).total_seconds()
        return age >= REFRESH_AFTER_SECONDS

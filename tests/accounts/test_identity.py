"""The per-request identity: one small query per request, never a stale permission."""
import sqlalchemy as sa
from sqlalchemy import event

from lms.accounts import identity
from lms.accounts.audit import Origin
from lms.accounts.models import Role, User
from lms.accounts import services
from lms.db import utcnow
from lms.org.models import UnitKind
from tests.factories import make_unit, make_user


def count_statements(db, fn):
    conn = db.session.connection()
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(conn, "before_cursor_execute", listener)
    try:
        result = fn()
    finally:
        event.remove(conn, "before_cursor_execute", listener)
    return result, seen


def test_a_cached_sign_in_costs_one_small_query(db):
    user = make_user()
    session_id = user.get_id()
    db.session.expunge_all()
    first, _ = count_statements(db, lambda: identity.load_session_user(session_id))
    db.session.expunge_all()
    again, statements = count_statements(db, lambda: identity.load_session_user(session_id))
    assert again.id == first.id and again.unit.name and again.roles() == {Role.LEARNER}
    assert len(statements) == 1 and "session_nonce" in statements[0]


def test_deactivation_by_another_process_ends_the_session_at_once(db):
    user = make_user()
    session_id = user.get_id()
    assert identity.load_session_user(session_id) is not None
    # another web process deactivates the account: this process's cache knows nothing of it
    db.session.execute(sa.update(User).where(User.id == user.id).values(active=False)
                       .execution_options(synchronize_session=False))
    assert identity.load_session_user(session_id) is None


def test_a_revoked_role_is_seen_by_the_next_request(db):
    zone = make_unit(kind=UnitKind.ZONE)
    admin = make_user(roles=(Role.PLATFORM_ADMIN,))
    unit_admin = make_user(unit=zone, roles=(Role.UNIT_ADMIN,))
    session_id = unit_admin.get_id()
    assert identity.load_session_user(session_id).has_role(Role.UNIT_ADMIN)
    grant = next(g for g in unit_admin.role_grants if g.role is Role.UNIT_ADMIN)
    services.revoke_role(Origin(actor=admin, ip=None, now=utcnow()), unit_admin, grant.id)
    db.session.expunge_all()
    assert not identity.load_session_user(session_id).has_role(Role.UNIT_ADMIN)


def test_a_changed_session_nonce_is_refused(db):
    user = make_user()
    assert identity.load_session_user(f"{user.id}:not-the-nonce") is None
    assert identity.load_session_user("garbage") is None
    assert identity.load_session_user("12x:abc") is None

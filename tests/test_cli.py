"""The `lms` command: demo data, create-admin; and the migrations matching the models."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lms.accounts import services
from lms.cli import main
from lms.accounts.models import Role, User
from lms.accounts.permissions import can_manage_user
from lms.db import utcnow
from lms.accounts.demo import load_accounts
from lms.demo import load_demo
from lms.org.demo import load_units
from lms.extensions import db as ext_db
from lms.org.models import Unit, UnitKind


def test_migrations_create_exactly_the_models_schema(app, db):
    conn = db.session.connection()
    diff = compare_metadata(MigrationContext.configure(conn), ext_db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_demo_is_idempotent_and_realistic(app, db):
    password = app.config["DEMO_PASSWORD"]
    load_demo(password=password, now=utcnow(), echo=lambda _: None)
    users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    units = db.session.scalar(sa.select(sa.func.count()).select_from(Unit))
    load_demo(password=password, now=utcnow(), echo=lambda _: None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == users
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Unit)) == units
    assert users >= 205
    kinds = {u.kind for u in db.session.scalars(sa.select(Unit))}
    assert kinds == set(UnitKind)
    grassroots = db.session.scalar(sa.select(sa.func.count()).select_from(Unit)
                                   .where(Unit.kind == UnitKind.GRASSROOTS))
    assert grassroots >= 20
    for login, role in [("admin", Role.PLATFORM_ADMIN), ("unitadmin", Role.UNIT_ADMIN),
                        ("organizer", Role.ORGANIZER), ("instructor", Role.INSTRUCTOR),
                        ("learner", Role.LEARNER)]:
        user = services.authenticate(login, password, ip=None, now=utcnow())
        assert user.has_role(role) and not user.must_change_password
    cadre = services.authenticate("13800000199", password, ip=None, now=utcnow())
    assert cadre.profile is not None
    unitadmin = services.find_user_by_login("unitadmin")
    learner = services.find_user_by_login("learner")
    assert can_manage_user(unitadmin, learner)  # the demo learner is in the unit admin's subtree


def test_demo_password_change_applies_to_existing_accounts(app, db):
    units = load_units()  # the accounts part of `lms demo` (the courses part is slow and tested apart)
    load_accounts(units, password="First-Pass-2026", now=utcnow())
    load_accounts(units, password="Second-Pass-2026", now=utcnow())
    assert services.authenticate("learner", "Second-Pass-2026", ip=None, now=utcnow())


def test_create_admin_command(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(main, args=["create-admin", "--username", "root2", "--name", "赵主任",
                                 "--password", "Strong-Pass-2026"])
    assert result.exit_code == 0, result.output
    user = services.find_user_by_login("root2")
    assert user.has_role(Role.PLATFORM_ADMIN) and user.unit.kind is UnitKind.DISTRICT
    weak = runner.invoke(main, args=["create-admin", "--username", "root3", "--name", "钱",
                               "--password", "short"])
    assert weak.exit_code != 0 and "至少 8 位" in weak.output

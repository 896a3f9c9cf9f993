"""Test harness: schema made once per session by the migrations, each test in a transaction
that is rolled back, on SQLite by default and on the database of LMS_TEST_DATABASE_URL when
LMS_TEST_BACKEND=url (`make test` runs both when the URL is set)."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from lms import create_app
from lms.accounts import identity
from lms.accounts import services as account_services
from lms.config import TestConfig
from lms.db import write_intent
from lms.extensions import db as ext_db

TMP = Path(tempfile.mkdtemp(prefix="lms-tests-"))


def database_url() -> str:
    if os.environ.get("LMS_TEST_BACKEND") == "url":
        url = os.environ.get("LMS_TEST_DATABASE_URL")
        if not url:
            raise pytest.UsageError("LMS_TEST_BACKEND=url needs LMS_TEST_DATABASE_URL")
        return url
    return f"sqlite:///{TMP / 'test.db'}"


def _private_schema(url: str) -> tuple[str, str]:
    """A schema of this test run's own, so that runs sharing one PostgreSQL database never
    meet; returns the URL that selects it and the schema's name."""
    schema = f"lms_test_{os.getpid()}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def _drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """argon2 at its lowest cost in tests (real argon2, verified the same way): the rules are
    under test, not the hash's strength."""
    original = account_services._hasher
    account_services._hasher = account_services.CHEAP_HASHER
    yield
    account_services._hasher = original


@pytest.fixture(scope="session")
def app():
    url = base_url = database_url()
    schema = None
    if url.startswith("postgresql"):
        url, schema = _private_schema(base_url)
    application = create_app(TestConfig(url, TMP / "instance"))
    with application.app_context():
        upgrade()  # the migrations, not create_all: they are what production runs
    yield application
    with application.app_context():
        ext_db.engine.dispose()
    if schema:
        _drop_schema(base_url, schema)


@pytest.fixture
def db(app):
    """A session inside a transaction rolled back after the test (commits become savepoints)."""
    with app.app_context():
        connection = ext_db.engine.connect()
        outer = connection.begin()
        original = ext_db.session
        ext_db.session = scoped_session(sessionmaker(
            bind=connection, class_=Session, join_transaction_mode="create_savepoint",
            expire_on_commit=False))
        try:
            yield ext_db
        finally:
            ext_db.session.remove()
            ext_db.session = original
            identity.forget_all()  # ids are reused once the transaction is rolled back
            outer.rollback()
            connection.close()


class IsolatedClient(FlaskClient):
    """Requests here reuse the test's app context; in production each request has a fresh
    one, so `g` (CSRF token cache, current user, commit flags) must not leak between requests."""

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()


@pytest.fixture
def client(app, db):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def now():
    from datetime import datetime, timezone
    return datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """The CSRF token of the form on `url`, as a browser would read it."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, login_name: str, password: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"login": login_name, "password": password,
                                       "csrf_token": token})


def wipe(app) -> None:
    with app.app_context(), write_intent(True):
        for table in reversed(ext_db.metadata.sorted_tables):
            ext_db.session.execute(table.delete())
        ext_db.session.commit()


@pytest.fixture
def committed(app):
    """An app context whose session commits for real (browser tests, concurrency tests);
    every table is emptied afterwards."""
    with app.app_context(), write_intent(True):
        yield ext_db
        ext_db.session.rollback()
    wipe(app)
    identity.forget_all()


@pytest.fixture
def writes():
    with write_intent(True):
        yield

"""Browser tests: the platform served by a real HTTP server in a thread, with a worker thread,
driven by Playwright through Debian's Chromium on a phone-sized screen.

These tests commit for real (a browser is another client), so every table is emptied after
each test; they never use the rolled-back `db` fixture.
"""
from __future__ import annotations

import shutil
import threading
import time

import pytest
from werkzeug.serving import make_server

from lms.db import utcnow
from lms.extensions import db as ext_db
from lms.jobs import run_pending
from lms.jobs.worker import interval_tasks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def worker(app):
    """The worker's loop in a thread: queued jobs and interval tasks (the search tailer) run
    as they would under `lms worker`.
    Per test: a thread left running would share later tests' rolled-back connection."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            with app.app_context():
                try:
                    run_pending(utcnow)
                    for _name, _seconds, task in interval_tasks():
                        task(utcnow())
                        ext_db.session.commit()
                finally:
                    ext_db.session.remove()
            stop.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser, live_server):
    """A page in a phone-sized browser context; script errors fail the test (a refused form's
    4xx status is expected, so the browser's "failed to load resource" notes are not)."""
    context = browser.new_context(base_url=live_server, **PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.set_default_timeout(15000)
    yield page
    context.close()
    assert not errors, f"browser console errors: {errors}"


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False

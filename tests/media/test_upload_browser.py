"""The upload widget in a real browser (phone-sized Chromium): a video made by ffmpeg goes up in
checksummed chunks, survives dropped connections and a reload (resuming from the server's
offset), and the widget then shows the processing status until 已就绪.

The browser harness of tests/browser is not visible from here, and its session-wide Playwright
cannot be shared; this test drives its own Playwright in a thread of its own (the sync API
refuses to start a second instance in a thread whose event loop is already running)."""
from __future__ import annotations

import re
import threading

import pytest
from flask import render_template_string

from lms.accounts.models import Role
from lms.db import write_intent
from lms.extensions import db as ext_db
from lms.media import uploads
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, live_server, worker  # noqa: F401
from tests.factories import PASSWORD, make_user
from tests.media.conftest import needs_ffmpeg

pytestmark = [pytest.mark.browser, needs_ffmpeg]
CHUNK = 16 * 1024
LINKED: list[int] = []

uploads.register_upload_purpose(
    "browser_lesson_media", authorize=lambda actor, meta: None,
    on_complete=lambda actor, asset, meta: LINKED.append(asset.id),
    kinds=(AssetKind.VIDEO, AssetKind.AUDIO))


def widget_html(app, page) -> str:
    """The real macro's markup, with the browser session's CSRF token and small chunks."""
    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "media/upload_widget.html" import upload_widget %}'
            '{{ upload_widget("browser_lesson_media", {"lesson_id": "7"}, "video/*,audio/*") }}')
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    html = re.sub(r'data-csrf="[^"]*"', f'data-csrf="{token}"', html)
    return html.replace('class="upload-widget"', f'class="upload-widget" data-chunk-bytes="{CHUNK}"')


def show_widget(app, page) -> None:
    page.goto("/")
    html = widget_html(app, page)
    page.evaluate("""html => {
        const box = document.createElement('div');
        box.innerHTML = html;                 // scripts inserted this way do not run
        document.querySelector('main').appendChild(box);
    }""", html)
    page.add_script_tag(url="/static/js/upload.js")


def pump_until(page, predicate, timeout: float = 20.0) -> bool:
    """Wait while letting Playwright run its route handlers (a plain sleep would not)."""
    for _ in range(int(timeout * 10)):
        if predicate():
            return True
        page.wait_for_timeout(100)
    return predicate()


def sign_in(page, phone_number: str) -> None:
    page.goto("/login")
    page.get_by_label("手机号或用户名").fill(phone_number)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def in_own_thread(scenario) -> None:
    """Run a Playwright scenario in a fresh thread; its failure (or skip) is raised here."""
    outcome: dict = {}

    def run():
        try:
            scenario()
        except BaseException as exc:  # noqa: B902 - handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(240)
    assert not thread.is_alive(), "the browser scenario did not finish"
    if "error" in outcome:
        raise outcome["error"]


def stored_upload(app) -> tuple[int, object]:
    """The one upload's offset and completion, read in a short transaction of its own."""
    with app.app_context(), write_intent(False):
        upload = ext_db.session.query(uploads.Upload).one()
        found = (upload.offset, upload.completed_at)
        ext_db.session.rollback()
        return found


def test_widget_uploads_in_checksummed_chunks_and_resumes(app, committed, live_server, worker,
                                                          samples):
    playwright_api = pytest.importorskip("playwright.sync_api")
    LINKED.clear()
    make_user(roles=(Role.INSTRUCTOR,), phone="13900000077", name="讲师甲")
    committed.session.commit()
    video = samples.video("browser.mp4", size="640x360", seconds=3)
    data = video.read_bytes()
    assert len(data) > 3 * CHUNK
    patches: list[dict] = []
    state = {"dropped": 0, "down": False}
    seen: dict = {}

    def on_patch(route):
        patches.append(dict(route.request.headers))
        if len(patches) == 2:  # the connection drops once: the client retries by itself
            state["dropped"] += 1
            route.abort("connectionreset")
        elif len(patches) >= 4 and state["down"] is not None:  # then the network goes away
            state["down"] = True
            route.abort("internetdisconnected")
        else:
            route.continue_()

    def scenario():
        with playwright_api.sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                          headless=True)
            context = chromium.new_context(base_url=live_server, **PHONE)
            phone = context.new_page()
            phone.set_default_timeout(15000)
            errors: list[str] = []
            phone.on("pageerror", lambda exc: errors.append(str(exc)))
            sign_in(phone, "13900000077")
            show_widget(app, phone)
            phone.route(re.compile(r".*/media/uploads/[0-9a-f]+$"), lambda route: (
                on_patch(route) if route.request.method == "PATCH" else route.continue_()))

            # the upload starts, loses a chunk to a dropped connection, goes on, then the
            # network is down; the person reloads the page
            phone.locator(".upload-input").set_input_files(str(video))
            assert pump_until(phone, lambda: state["down"] is True)
            state["down"] = None  # the network is back from now on
            phone.reload()
            seen["offset"], seen["completed"] = stored_upload(app)

            # after the reload, the same file again resumes from the server's offset
            show_widget(app, phone)
            seen["before"] = len(patches)
            phone.locator(".upload-input").set_input_files(str(video))
            phone.locator(".upload-status").filter(has_text="已就绪").wait_for(timeout=60000)
            seen["asset_input"] = phone.locator(".upload-asset-id").input_value()
            seen["remembered"] = phone.evaluate(
                "Object.keys(localStorage).filter(k => k.startsWith('lms-tus:')).length")
            context.close()
            chromium.close()
            assert not errors, errors

    in_own_thread(scenario)

    assert 0 < seen["offset"] < len(data) and seen["completed"] is None
    first_resumed = patches[seen["before"]]
    assert int(first_resumed["upload-offset"]) >= seen["offset"]
    assert all(h.get("upload-checksum", "").startswith("sha1 ") for h in patches)
    assert all(h.get("x-csrftoken") for h in patches)
    assert state["dropped"] == 1
    assert len(patches) > len(data) // CHUNK + 2  # every chunk, plus the refused attempts
    committed.session.expire_all()
    asset = committed.session.query(MediaAsset).one()
    assert asset.status is AssetStatus.READY and LINKED == [asset.id]
    assert seen["asset_input"] == str(asset.id)
    assert seen["remembered"] == 0

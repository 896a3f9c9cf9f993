"""The upload widget in a real browser (phone-sized Chromium): a video made by ffmpeg goes up in
checksummed chunks, survives dropped connections and a reload (resuming from the server's
offset), and the widget then shows the processing status until 已就绪."""
from __future__ import annotations

import re

import pytest
from flask import render_template_string

from lms.accounts.models import Role
from lms.media import uploads
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from tests.browser.conftest import browser, live_server, phone, worker  # noqa: F401
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


def test_widget_uploads_in_checksummed_chunks_and_resumes(app, committed, phone, worker, samples):
    LINKED.clear()
    make_user(roles=(Role.INSTRUCTOR,), phone="13900000077", name="讲师甲")
    committed.session.commit()
    video = samples.video("browser.mp4", size="640x360", seconds=3)
    data = video.read_bytes()
    assert len(data) > 3 * CHUNK

    sign_in(phone, "13900000077")
    show_widget(app, phone)
    patches: list[dict] = []
    state = {"dropped": 0, "down": False}

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

    phone.route(re.compile(r".*/media/uploads/[0-9a-f]+$"), lambda route: (
        on_patch(route) if route.request.method == "PATCH" else route.continue_()))

    # the upload starts, loses a chunk to a dropped connection, goes on, then the network is
    # down; the person reloads the page
    phone.locator(".upload-input").set_input_files(str(video))
    assert pump_until(phone, lambda: state["down"] is True)
    state["down"] = None  # the network is back from now on
    phone.reload()
    committed.session.expire_all()
    stored = committed.session.query(uploads.Upload).one()
    stored_offset, completed = stored.offset, stored.completed_at
    committed.session.rollback()  # hold no lock while the browser writes
    assert 0 < stored_offset < len(data)
    assert completed is None

    # After the reload: the same file again resumes from the server's offset
    show_widget(app, phone)
    before = len(patches)
    phone.locator(".upload-input").set_input_files(str(video))
    status = phone.locator(".upload-status")
    status.filter(has_text="已就绪").wait_for(timeout=60000)
    first_resumed = patches[before]
    assert int(first_resumed["upload-offset"]) >= stored_offset > 0
    assert all(h.get("upload-checksum", "").startswith("sha1 ") for h in patches)
    assert all(h.get("x-csrftoken") for h in patches)
    assert state["dropped"] == 1
    assert len(patches) > len(data) // CHUNK + 2  # every chunk, plus the refused attempts

    committed.session.expire_all()
    asset = committed.session.query(MediaAsset).one()
    assert asset.status is AssetStatus.READY and LINKED == [asset.id]
    assert phone.locator(".upload-asset-id").input_value() == str(asset.id)
    assert phone.evaluate("Object.keys(localStorage).filter(k => k.startsWith('lms-tus:')).length") == 0

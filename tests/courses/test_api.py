"""GET /api/v1/courses and /api/v1/courses/<id>: shapes, filters, refusals."""
from __future__ import annotations

from datetime import timedelta

import pytest

from lms.accounts.models import Role
from lms.accounts.services import issue_token
from lms.courses import services
from lms.courses.models import CourseModule, LessonKind, TeachingForm
from lms.db import utcnow
from lms.extensions import db as ext_db
from tests.factories import make_asset, make_course, make_district, make_lesson, make_user


@pytest.fixture
def people(db):
    district = make_district()
    return {"learner": make_user(), "admin": make_user(unit=district, roles=(Role.PLATFORM_ADMIN,)),
            "instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,), name="刘芳")}


def bearer(user) -> dict:
    """A token header; what the test made so far is committed (to the test's outer
    transaction), so that a refused request's rollback keeps it."""
    raw, _token = issue_token(user, now=utcnow(), ttl=timedelta(hours=1))
    ext_db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_list_shape_filters_and_paging(client, people, now):
    for i in range(3):
        make_course(title=f"理论{i}", module=CourseModule.THEORY, topic="工会法", nominal_hours="1.5",
                    duration_seconds=900)
    required = make_course(title="协商", module=CourseModule.CAPABILITY,
                           teaching_form=TeachingForm.SIMULATION, instructor=people["instructor"])
    make_course(title="草稿", published=False)
    services.add_audience(people["admin"], required, services.AudienceData(year=services.local_year(now)))
    headers = bearer(people["learner"])
    resp = client.get("/api/v1/courses", headers=headers)
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["total"] == 4 and body["page"] == 1 and body["per_page"] == 20
    item = next(i for i in body["items"] if i["title"] == "理论0")
    assert item == {"id": item["id"], "title": "理论0", "module": "theory", "module_label": "理论知识",
                    "topic": "工会法", "teaching_form": "lecture", "teaching_form_label": "讲授式",
                    "instructor": "测试讲师", "nominal_hours": 1.5, "duration": 900,
                    "required": False}
    assert "草稿" not in {i["title"] for i in body["items"]}
    body = client.get("/api/v1/courses?module=capability", headers=headers).get_json()
    assert [i["title"] for i in body["items"]] == ["协商"] and body["items"][0]["required"] is True
    body = client.get("/api/v1/courses?required=true", headers=headers).get_json()
    assert [i["title"] for i in body["items"]] == ["协商"]
    body = client.get("/api/v1/courses?teaching_form=simulation", headers=headers).get_json()
    assert body["total"] == 1
    body = client.get("/api/v1/courses?per_page=2&page=2", headers=headers).get_json()
    assert body["total"] == 4 and len(body["items"]) == 2 and body["page"] == 2


@pytest.mark.parametrize("query", ["per_page=101", "per_page=0", "per_page=abc", "page=0",
                                   "module=politics", "teaching_form=lecturing", "q=" + "长" * 51])
def test_malformed_queries_are_422_with_the_field(client, people, query):
    resp = client.get(f"/api/v1/courses?{query}", headers=bearer(people["learner"]))
    body = resp.get_json()
    assert resp.status_code == 422
    assert body["error"]["code"] == "invalid_input" and body["error"]["fields"]


def test_token_required(client, people):
    course = make_course()
    ext_db.session.commit()
    resp = client.get("/api/v1/courses")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_invalid"
    assert client.get(f"/api/v1/courses/{course.id}",
                      headers={"Authorization": "Bearer forged"}).status_code == 401


def test_detail_has_chapters_lessons_kinds_and_durations(client, people):
    course = make_course(title="工会法精讲", summary_html="<p>简介</p>")
    video = make_lesson(course, kind=LessonKind.VIDEO, title="概述", asset=make_asset(duration=16),
                        duration_seconds=16)
    document = make_lesson(course, title="修正要点")
    make_lesson(course, title="未发布", published=False)
    resp = client.get(f"/api/v1/courses/{course.id}", headers=bearer(people["learner"]))
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["title"] == "工会法精讲" and body["module"] == "theory" and body["summary_html"] == "<p>简介</p>"
    assert body["status"] == "published"
    [chapter] = body["chapters"]
    assert chapter["title"] == "第一章"
    assert chapter["lessons"] == [
        {"id": video.id, "kind": "video", "title": "概述", "duration": 16, "published": True},
        {"id": document.id, "kind": "document", "title": "修正要点", "duration": 0, "published": True}]


def test_unpublished_course_is_404_for_learners_not_for_its_owner(client, people):
    me = people["instructor"]
    draft = make_course(published=False, owner=me, instructor=me)
    make_lesson(draft, published=False)
    learner, owner = bearer(people["learner"]), bearer(me)
    resp = client.get(f"/api/v1/courses/{draft.id}", headers=learner)
    assert resp.status_code == 404
    assert resp.get_json() == {"error": {"code": "course_not_found", "message": "课程不存在或尚未发布。"}}
    assert client.get("/api/v1/courses/999999", headers=learner).status_code == 404
    resp = client.get(f"/api/v1/courses/{draft.id}", headers=owner)
    assert resp.status_code == 200 and resp.get_json()["chapters"][0]["lessons"][0]["published"] is False


def test_openapi_documents_the_course_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/courses" in spec["paths"] and "/api/v1/courses/{course_id}" in spec["paths"]

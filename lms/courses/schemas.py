"""API schemas of the catalogue: they validate requests and generate the OpenAPI document."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from lms.courses.models import CourseModule, LessonKind, TeachingForm
from lms.courses.services import LENGTHS


class CourseListArgs(Schema):
    module = fields.String(validate=validate.OneOf([m.value for m in CourseModule]),
                           metadata={"description": "theory 理论知识, party 党性教育, "
                                                    "capability 能力提升, update 知识更新"})
    topic = fields.String(validate=validate.Length(max=50))
    teaching_form = fields.String(validate=validate.OneOf([f.value for f in TeachingForm]))
    required = fields.Boolean(metadata={"description": "true: 本年度对调用者必修；false: 选修"})
    instructor = fields.String(validate=validate.Length(max=50))
    length = fields.String(validate=validate.OneOf(list(LENGTHS)),
                           metadata={"description": "short <30 分钟, medium 30–60, long >60"})
    q = fields.String(validate=validate.Length(max=50), metadata={"description": "关键词"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class CourseItem(Schema):
    id = fields.Integer()
    title = fields.String()
    module = fields.String(metadata={"description": "theory, party, capability, update"})
    module_label = fields.String()
    topic = fields.String(allow_none=True)
    teaching_form = fields.String()
    teaching_form_label = fields.String()
    instructor = fields.String()
    nominal_hours = fields.Float(metadata={"description": "学时"})
    duration = fields.Integer(metadata={"description": "已发布课时的总时长（秒）"})
    required = fields.Boolean(metadata={"description": "本年度对调用者必修"})


class CoursePage(Schema):
    items = fields.List(fields.Nested(CourseItem))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class LessonOut(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf([k.value for k in LessonKind]),
                         metadata={"description": "video, audio, document, pdf"})
    title = fields.String()
    duration = fields.Integer(metadata={"description": "秒；图文和 PDF 课时为 0"})
    published = fields.Boolean()


class ChapterOut(Schema):
    id = fields.Integer()
    title = fields.String()
    lessons = fields.List(fields.Nested(LessonOut))


class CourseDetail(CourseItem):
    status = fields.String()
    summary_html = fields.String(metadata={"description": "经过净化的 HTML"})
    chapters = fields.List(fields.Nested(ChapterOut))

"""WTForms for the catalogue's filters and the authoring pages (validation only: the services
decide what is allowed)."""
from __future__ import annotations

from wtforms import DecimalField, IntegerField, SearchField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from lms.accounts.models import CadreType
from lms.accounts.services import CADRE_TYPE_LABELS
from lms.courses.models import CourseModule, CourseStatus, LessonKind, TeachingForm
from lms.courses.services import (COURSE_STATUS_LABELS, LENGTHS, LESSON_KIND_LABELS,
                                  MODULE_LABELS, NAME_MAX, POSITION_MAX, SOURCE_MAX,
                                  TEACHING_FORM_LABELS, TITLE_MAX, TOPIC_MAX)
from lms.org.forms import ChineseForm, ChoiceField, IdSelectField, choices, optional_enum


def enum_choices(labels: dict, blank: str | None = None):
    return choices(((m.value, t) for m, t in labels.items()), blank=blank)


class CatalogueFilterForm(ChineseForm):
    """The catalogue's filters (GET, no CSRF token). A refused value is ignored."""

    class Meta:
        csrf = False

    q = SearchField("关键词", validators=[Optional(), Length(max=50)],
                    render_kw={"placeholder": "搜索课程，如：集体协商", "enterkeyhint": "search"})
    module = ChoiceField("模块", choices=enum_choices(MODULE_LABELS, blank="全部模块"),
                         coerce=optional_enum(CourseModule))
    topic = StringField("专题", validators=[Optional(), Length(max=TOPIC_MAX)])
    required = ChoiceField("必修/选修", choices=choices([("required", "必修"), ("elective", "选修")],
                                                      blank="全部"), default="")
    teaching_form = ChoiceField("教学形式", choices=enum_choices(TEACHING_FORM_LABELS, blank="全部形式"),
                                coerce=optional_enum(TeachingForm))
    instructor = ChoiceField("讲师", validate_choice=False, validators=[Optional(), Length(max=NAME_MAX)])
    length = ChoiceField("时长", choices=choices(((k, v[0]) for k, v in LENGTHS.items()),
                                               blank="不限时长"), default="")


class CourseForm(ChineseForm):
    title = StringField("课程名称", validators=[DataRequired("请填写课程名称。"),
                                              Length(max=TITLE_MAX, message="课程名称不能超过 %(max)d 个字。")])
    module = ChoiceField("模块", choices=enum_choices(MODULE_LABELS, blank="请选择模块"),
                         coerce=optional_enum(CourseModule), validators=[DataRequired("请选择课程模块。")])
    topic = StringField("专题", validators=[Optional(), Length(max=TOPIC_MAX, message="专题不能超过 %(max)d 个字。")],
                        render_kw={"list": "topic-suggestions", "placeholder": "如：工会法、集体协商"})
    teaching_form = ChoiceField("教学形式", choices=enum_choices(TEACHING_FORM_LABELS),
                                coerce=optional_enum(TeachingForm), default=TeachingForm.LECTURE)
    instructor_id = IdSelectField("讲师账号")
    instructor_name = StringField("或外请讲师姓名", validators=[
        Optional(), Length(max=NAME_MAX, message="讲师姓名不能超过 %(max)d 个字。")])
    nominal_hours = DecimalField("学时", places=1, default=1, validators=[
        DataRequired("请填写学时。"), NumberRange(min=0.1, max=100, message="学时须在 0.1–100 之间。")],
        render_kw={"inputmode": "decimal", "step": "0.5"})
    summary_source = TextAreaField("课程简介", validators=[
        Optional(), Length(max=SOURCE_MAX, message="不能超过 %(max)d 个字符。")],
        render_kw={"rows": 8})


class ChapterForm(ChineseForm):
    title = StringField("章节名称", validators=[DataRequired("请填写章节名称。"),
                                              Length(max=TITLE_MAX, message="章节名称不能超过 %(max)d 个字。")])


class LessonForm(ChineseForm):
    title = StringField("课时名称", validators=[DataRequired("请填写课时名称。"),
                                              Length(max=TITLE_MAX, message="课时名称不能超过 %(max)d 个字。")])
    kind = ChoiceField("课时类型", choices=enum_choices(LESSON_KIND_LABELS),
                       coerce=optional_enum(LessonKind), default=LessonKind.VIDEO)
    body_source = TextAreaField("正文 / 说明", validators=[
        Optional(), Length(max=SOURCE_MAX, message="不能超过 %(max)d 个字符。")],
        render_kw={"rows": 14})


class AudienceForm(ChineseForm):
    year = IntegerField("年度", validators=[DataRequired("请填写年度。"),
                                          NumberRange(min=2000, max=2100, message="请填写有效的年度。")],
                        render_kw={"inputmode": "numeric"})
    cadre_type = ChoiceField("专兼职", choices=enum_choices(CADRE_TYPE_LABELS, blank="不限"),
                             coerce=optional_enum(CadreType))
    unit_id = IdSelectField("单位（含下级）")
    position = StringField("职务", validators=[Optional(), Length(max=POSITION_MAX)],
                           render_kw={"placeholder": "不填则不限，如：工会主席"})


class TeachFilterForm(ChineseForm):
    class Meta:
        csrf = False

    q = SearchField("课程名称", validators=[Optional(), Length(max=50)])
    status = ChoiceField("状态", choices=enum_choices(COURSE_STATUS_LABELS, blank="全部状态"),
                         coerce=optional_enum(CourseStatus))
    module = ChoiceField("模块", choices=enum_choices(MODULE_LABELS, blank="全部模块"),
                         coerce=optional_enum(CourseModule))

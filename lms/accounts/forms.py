"""WTForms for the account pages (validation only)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import DateField, EmailField, PasswordField, SearchField, SelectMultipleField, \
    StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from lms.accounts.models import CadreType, EnterpriseType, Gender, Role
from lms.accounts.services import (CADRE_TYPE_LABELS, ENTERPRISE_TYPE_LABELS, GENDER_LABELS,
                                   NAME_MAX, ROLE_LABELS)
from lms.org.forms import ChineseForm, ChoiceField, IdSelectField, choices, optional_enum


class LoginForm(FlaskForm):
    login = StringField("手机号或用户名", validators=[DataRequired("请填写手机号或用户名。"),
                                                  Length(max=150)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码。"), Length(max=200)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请填写当前密码。"), Length(max=200)])
    new = PasswordField("新密码", validators=[DataRequired("请填写新密码。"), Length(max=128)])
    confirm = PasswordField("再次输入新密码", validators=[
        DataRequired("请再次输入新密码。"), EqualTo("new", "两次输入的新密码不一致。")])


class ImportUploadForm(FlaskForm):
    workbook = FileField("干部名册（.xlsx）", validators=[
        FileRequired("请选择要上传的 Excel 文件。"),
        FileAllowed(["xlsx"], "只接受 .xlsx 格式的 Excel 工作簿。")])


# ---------------------------------------------------------------- administration pages
# Users, roles and the audit log. The views fill in the unit and role choices from the
# actor's scope; the services decide what is allowed, so a forged id or role reaches them and
# is refused there (404 / 403) rather than passing as "not a valid choice".

def _enum_choices(labels: dict, blank: str | None = None):
    return choices(((m.value, t) for m, t in labels.items()), blank=blank)


class RoleMultiField(SelectMultipleField):
    """Roles as a list of checkboxes; whether the actor may grant them is the service's call."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("coerce", optional_enum(Role))
        kwargs.setdefault("validate_choice", False)
        kwargs.setdefault("invalid_value_message", "请从列表中选择角色。")
        super().__init__(label, validators, **kwargs)


class UserForm(ChineseForm):
    """A cadre's account and profile, as an administrator edits it."""
    name = StringField("姓名", validators=[DataRequired("请填写姓名。"),
                                         Length(max=NAME_MAX, message="姓名不能超过 %(max)d 个字。")])
    phone = TelField("手机号", validators=[Optional(), Length(max=20, message="手机号过长。")],
                     render_kw={"inputmode": "tel", "autocomplete": "off"})
    username = StringField("用户名", validators=[Optional(), Length(max=32, message="用户名不能超过 32 位。")],
                           render_kw={"autocomplete": "off", "autocapitalize": "none"})
    unit_id = IdSelectField("所属单位")
    position = StringField("职务", validators=[Optional(), Length(max=50, message="职务不能超过 50 个字。")])
    cadre_type = ChoiceField("专兼职", choices=_enum_choices(CADRE_TYPE_LABELS),
                             coerce=optional_enum(CadreType), default=CadreType.PART_TIME)
    enterprise_type = ChoiceField("企业类型", choices=_enum_choices(ENTERPRISE_TYPE_LABELS),
                                  coerce=optional_enum(EnterpriseType),
                                  default=EnterpriseType.NON_PUBLIC)
    gender = ChoiceField("性别", choices=_enum_choices(GENDER_LABELS, blank="未填写"),
                         coerce=optional_enum(Gender))
    email = EmailField("邮箱（选填）", validators=[
        Optional(), Length(max=120, message="邮箱不能超过 120 个字符。"),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="邮箱格式不正确。")])
    ethnicity = StringField("民族（选填）", validators=[Optional(), Length(max=20, message="不能超过 20 个字。")])
    education = StringField("学历（选填）", validators=[Optional(), Length(max=20, message="不能超过 20 个字。")])
    political_status = StringField("政治面貌（选填）",
                                   validators=[Optional(), Length(max=20, message="不能超过 20 个字。")])


class UserCreateForm(UserForm):
    password = PasswordField("初始密码", validators=[Optional(), Length(max=128, message="密码过长。")],
                             render_kw={"autocomplete": "new-password"})
    roles = RoleMultiField("角色", default=[Role.LEARNER])


class GrantRoleForm(ChineseForm):
    role = ChoiceField("角色", coerce=optional_enum(Role), validate_choice=False,
                       validators=[DataRequired("请选择角色。")])
    unit_id = IdSelectField("管理的单位")


class UserFilterForm(ChineseForm):
    """The user list's filters (GET, no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField("关键词", validators=[Optional(), Length(max=50)],
                    render_kw={"placeholder": "姓名、手机号或用户名"})
    unit_id = IdSelectField("单位")
    role = ChoiceField("角色", choices=_enum_choices(ROLE_LABELS, blank="全部角色"),
                       coerce=optional_enum(Role))
    status = ChoiceField("状态", choices=choices([("active", "在用"), ("inactive", "停用")], blank="全部"),
                         default="")
    cadre_type = ChoiceField("专兼职", choices=_enum_choices(CADRE_TYPE_LABELS, blank="全部"),
                             coerce=optional_enum(CadreType))
    enterprise_type = ChoiceField("企业类型", choices=_enum_choices(ENTERPRISE_TYPE_LABELS, blank="全部"),
                                  coerce=optional_enum(EnterpriseType))


#: audit actions are "<object>.<verb>": the filter offers the object prefixes
AUDIT_ACTION_CHOICES = choices([("user.", "用户"), ("role.", "角色"), ("unit.", "单位"),
                                ("import.", "批量导入")], blank="全部")
AUDIT_OBJECT_CHOICES = choices([("user", "用户"), ("unit", "单位"), ("import", "导入批次")], blank="全部")


class AuditFilterForm(ChineseForm):
    """The audit log's filters (GET, no CSRF token); dates are Beijing time."""

    class Meta:
        csrf = False

    actor = StringField("操作人", validators=[Optional(), Length(max=50)])
    action = ChoiceField("操作类型", choices=AUDIT_ACTION_CHOICES, default="")
    object_type = ChoiceField("对象类型", choices=AUDIT_OBJECT_CHOICES, default="")
    since = DateField("开始日期", validators=[Optional()])
    until = DateField("结束日期", validators=[Optional()])
    q = SearchField("关键词", validators=[Optional(), Length(max=50)],
                    render_kw={"placeholder": "操作内容中的文字"})


class ImportConfirmForm(FlaskForm):
    password = PasswordField("统一初始密码（可不填）", validators=[
        Optional(), Length(max=128, message="密码不能超过 128 位。")])

"""WTForms for the unit tree pages (validation only), and the small form helpers the
administration pages share: WTForms' own messages in Chinese, and selects of database ids."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.i18n import get_translations
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from lms.org.models import UnitKind
from lms.org.services import KIND_LABELS, UNIT_NAME_MAX

#: WTForms' built-in messages ("不是有效的选择。", "不是有效的日期值。") in Chinese
_ZH = get_translations(["zh"])


class ChineseForm(FlaskForm):
    """A form whose built-in validation messages are Chinese (Flask-Babel is not used)."""

    class Meta:
        def get_translations(self, form):
            return _ZH


def optional_int(value) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def optional_enum(enum_cls):
    """A coerce function: "" -> None, a value -> the enum member (ValueError otherwise)."""
    def coerce(value):
        if value is None or value == "":
            return None
        return value if isinstance(value, enum_cls) else enum_cls(value)
    return coerce


class ChoiceField(SelectField):
    """A select whose refusal of an unknown value reads as Chinese, not as coercion jargon."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("invalid_value_message", "请从列表中选择。")
        kwargs.setdefault("invalid_choice_message", "请从列表中选择。")
        super().__init__(label, validators, **kwargs)


class IdSelectField(ChoiceField):
    """A select of database ids. Its choices are what the page offers; whether an id is
    allowed is the service's decision, so a forged id reaches the service and is refused
    there as if it did not exist (404), the same answer as for an id in the URL."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("coerce", optional_int)
        kwargs.setdefault("validate_choice", False)
        super().__init__(label, validators, **kwargs)


def choices(pairs, *, blank: str | None = None) -> list[SelectChoice]:
    """SelectChoice options from (value, label) pairs; `blank` adds a first empty option."""
    head = [SelectChoice("", blank)] if blank is not None else []
    return head + [SelectChoice(str(value), label) for value, label in pairs]


_NAME = [DataRequired("请填写单位名称。"), Length(max=UNIT_NAME_MAX, message="单位名称不能超过 %(max)d 个字。")]
_ORDER = [Optional(), NumberRange(min=0, max=9999, message="排序须为 0–9999 的整数，小的在前。")]
#: the district federation exists once (made with the first administrator): never offered
KIND_CHOICES = choices((k.value, label) for k, label in KIND_LABELS.items() if k is not UnitKind.DISTRICT)


class UnitCreateForm(ChineseForm):
    name = StringField("单位名称", validators=_NAME)
    kind = ChoiceField("单位类型", choices=KIND_CHOICES, coerce=optional_enum(UnitKind),
                       default=UnitKind.GRASSROOTS)
    parent_id = IdSelectField("上级单位", validators=[DataRequired("请选择上级单位。")])
    sort_order = IntegerField("排序", validators=_ORDER, default=0)


class UnitRenameForm(ChineseForm):
    name = StringField("单位名称", validators=_NAME)
    sort_order = IntegerField("排序", validators=_ORDER, default=0)


class UnitMoveForm(ChineseForm):
    parent_id = IdSelectField("新的上级单位", validators=[DataRequired("请选择新的上级单位。")])


def unit_choices(units, *, blank: str | None = None, with_kind: bool = False) -> list[SelectChoice]:
    """Options for a select of units in tree order, indented by depth below the shallowest
    one, inactive units marked; `blank` adds a first empty option, `with_kind` a data-kind
    attribute (the new-unit page's script offers only parents allowed for the chosen kind)."""
    base = min((u.depth for u in units), default=0)
    options = [SelectChoice("", blank)] if blank is not None else []
    for u in units:
        options.append(SelectChoice(
            str(u.id), "\u3000" * max(u.depth - base, 0) + u.name + ("（已停用）" if not u.active else ""),
            render_kw={"data-kind": u.kind.value} if with_kind else {}))
    return options

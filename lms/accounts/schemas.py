"""API schemas: they validate requests and generate the OpenAPI document."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class TokenRequest(Schema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=150),
                          metadata={"description": "手机号或用户名"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UnitRef(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class CadreProfileOut(Schema):
    position = fields.String(allow_none=True)
    cadre_type = fields.String()
    enterprise_type = fields.String()
    gender = fields.String(allow_none=True)


class UserBrief(Schema):
    id = fields.Integer()
    name = fields.String()
    roles = fields.List(fields.String())


class TokenResponse(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserBrief)


class MeResponse(Schema):
    id = fields.Integer()
    name = fields.String()
    username = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    unit = fields.Nested(UnitRef)
    roles = fields.List(fields.String())
    must_change_password = fields.Boolean()
    cadre_profile = fields.Nested(CadreProfileOut, allow_none=True)


class UserOut(Schema):
    id = fields.Integer()
    name = fields.String()
    username = fields.String(allow_none=True)
    phone = fields.String(allow_none=True, metadata={"description": "非本单位管理员看到的是掩码"})
    active = fields.Boolean()
    unit = fields.Nested(UnitRef)
    roles = fields.List(fields.String())
    cadre_profile = fields.Nested(CadreProfileOut, allow_none=True)


class UserListArgs(Schema):
    q = fields.String(validate=validate.Length(max=50))
    unit_id = fields.Integer(validate=validate.Range(min=1))
    role = fields.String(validate=validate.OneOf(["learner", "instructor", "organizer",
                                                  "unit_admin", "platform_admin"]))
    active = fields.Boolean()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class UserPage(Schema):
    items = fields.List(fields.Nested(UserOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    parent_id = fields.Integer(allow_none=True)
    depth = fields.Integer()
    active = fields.Boolean()


class UnitList(Schema):
    items = fields.List(fields.Nested(UnitOut))

"""The page layer's plumbing: request transaction, security headers, errors, template helpers."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Flask, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from lms import accounts
from lms.db import set_write_intent
from lms.errors import DomainError
from lms.extensions import db, login_manager
from lms.messages import render as message
from lms.org.services import KIND_LABELS
from lms.web.security import add_security_headers
from lms.web.sessions import SlidingSessionInterface
from lms.web.views import bp

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
#: endpoints reachable while a password change is pending
PASSWORD_CHANGE_ALLOWED = {"accounts.change_password", "accounts.logout", "static", "web.healthz"}

ERROR_TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "页面不存在",
                405: "不支持的操作", 413: "文件过大", 422: "提交的内容有误", 429: "操作过于频繁",
                500: "服务器错误"}
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "bad_request", 413: "too_large", 429: "too_many_requests", 500: "server_error"}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_page(status: int, text: str):
    return render_template("errors/error.html", status=status,
                           title=ERROR_TITLES.get(status, "出错了"), message=text), status


def _describe_fields(fields: dict) -> str:
    """Field names of a schema validation error, e.g. "json.password"."""
    names = []
    for location, errors in fields.items():
        names.extend(f"{location}.{name}" for name in (errors if isinstance(errors, dict) else {}))
    return "、".join(names) or "格式错误"


def init_app(app: Flask) -> None:
    app.session_interface = SlidingSessionInterface()
    app.register_blueprint(bp)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    login_manager.user_loader(accounts.load_session_user)

    @app.before_request
    def _begin():
        # Writes on SQLite start with BEGIN IMMEDIATE; reads do not take the write lock.
        set_write_intent(request.method not in READ_METHODS)

    @app.before_request
    def _enforce_password_change():
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in PASSWORD_CHANGE_ALLOWED and not wants_json()):
            flash(message("must_change_password"), "warning")
            return redirect(url_for("accounts.change_password"))

    @app.after_request
    def _finish(response):
        # One commit per request: on success, or when a view asks to keep a refusal's record.
        if response.status_code < 400 or g.get("commit_on_error"):
            db.session.commit()
        else:
            db.session.rollback()
        return add_security_headers(response)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        if not g.get("commit_on_error"):
            db.session.rollback()
        if wants_json():
            return {"error": {"code": exc.code, "message": exc.message}}, exc.http_status
        return error_page(exc.http_status, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        db.session.rollback()
        return error_page(400, message("csrf"))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        code = ERROR_CODES.get(status, "bad_request")
        text = message(code) if code in ("not_found", "forbidden", "unauthorized", "too_large",
                                          "server_error") else (ERROR_TITLES.get(status) or "请求有误")
        fields = (getattr(exc, "data", None) or {}).get("messages")
        if fields:  # request validation by the API schemas
            code, text = "invalid_input", message("invalid_input", detail=_describe_fields(fields))
        if wants_json():
            body = {"error": {"code": code, "message": text}}
            if fields:
                body["error"]["fields"] = fields
            return body, status
        return error_page(status, text)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return {"error": {"code": "server_error", "message": message("server_error")}}, 500
        return error_page(500, message("server_error"))

    @app.context_processor
    def _template_helpers():
        return {
            # the signed-in user resolved once per render (current_user is a proxy)
            "me": current_user._get_current_object() if current_user.is_authenticated else None,
            "ROLE_LABELS": accounts.ROLE_LABELS,
            "KIND_LABELS": KIND_LABELS,
            "CADRE_TYPE_LABELS": accounts.CADRE_TYPE_LABELS,
            "ENTERPRISE_TYPE_LABELS": accounts.ENTERPRISE_TYPE_LABELS,
            "GENDER_LABELS": accounts.GENDER_LABELS,
            "is_admin": accounts.is_admin,
            "is_platform_admin": accounts.is_platform_admin,
            "visible_phone": accounts.visible_phone,
            "Role": accounts.Role,
        }

    @app.template_filter("local_time")
    def _local_time(value, fmt: str = "%Y-%m-%d %H:%M"):
        return value.astimezone(LOCAL_TZ).strftime(fmt) if value else ""


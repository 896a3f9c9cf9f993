"""Pages: sign in, sign out, change password. Administration pages live in admin_views."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from lms.accounts import services
from lms.accounts.forms import ChangePasswordForm, LoginForm
from lms.db import utcnow
from lms.errors import DomainError
from lms.web.auth import client_ip

bp = Blueprint("accounts", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a user to another host after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        g.commit_on_error = True  # a refused sign-in's failure count must be kept
        try:
            user = services.authenticate(form.login.data, form.password.data, ip=client_ip(),
                                         now=utcnow())
        except DomainError as exc:
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            session.clear()
            session.permanent = True  # idle expiry: PERMANENT_SESSION_LIFETIME
            login_user(user)
            if user.must_change_password:
                return redirect(url_for("accounts.change_password"))
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("您已退出登录。", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.change_password(current_user, form.current.data, form.new.data,
                                            now=utcnow())
        except DomainError as exc:
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            login_user(user)  # the session id changed with the nonce
            flash("密码已修改。", "success")
            return redirect(url_for("web.home"))
    elif request.method == "POST":
        status = 422
    return render_template("accounts/change_password.html", form=form), status

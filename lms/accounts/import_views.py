"""Pages for importing cadres from Excel and exporting them."""
from __future__ import annotations

import io
from urllib.parse import quote

from flask import (Blueprint, Response, current_app, flash, redirect, render_template,
                   request, url_for)
from flask_login import current_user

from lms.accounts import imports
from lms.accounts.forms import ImportConfirmForm, ImportUploadForm
from lms.accounts.models import CadreType, EnterpriseType, ImportStatus, Role
from lms.accounts.services import (CADRE_TYPE_LABELS, ENTERPRISE_TYPE_LABELS, ROLE_LABELS,
                                   UserFilter)
from lms.errors import DomainError, ValidationFailed
from lms.extensions import db
from lms.messages import render as message
from lms.web import LOCAL_TZ
from lms.web.auth import admin_required, origin

bp = Blueprint("imports", __name__, url_prefix="/admin/imports", template_folder="templates")

IMPORTS_PER_PAGE = 20
ROWS_PER_PAGE = 50
#: where a generated initial password waits to be shown once on the result page


def _attachment(data: bytes, filename: str, fallback: str) -> Response:
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, mimetype=imports.XLSX_MIMETYPE,
                    headers={"Content-Disposition": disposition})


@bp.route("/", methods=["GET", "POST"])
@admin_required
def index():
    form = ImportUploadForm()
    status = 200
    if form.validate_on_submit():
        upload = form.workbook.data
        imp = imports.start_import(origin(), upload.stream, upload.filename,
                                   import_dir=current_app.config["IMPORT_DIR"])
        flash(message("import_uploaded"), "success")
        return redirect(url_for(".detail", import_id=imp.id))
    if request.method == "POST":
        status = 422
    page = db.paginate(imports.imports_query(current_user), per_page=IMPORTS_PER_PAGE,
                       error_out=False)
    return render_template("accounts/imports/index.html", form=form, page=page,
                           names=imports.uploader_names(page.items),
                           STATUS_LABELS=imports.STATUS_LABELS, MAX_ROWS=imports.MAX_ROWS), status


@bp.get("/template.xlsx")
@admin_required
def template():
    out = io.BytesIO()
    imports.template_workbook(current_user, out)
    return _attachment(out.getvalue(), "干部名册导入模板.xlsx", "cadre-import-template.xlsx")


def _enum_arg(name: str, enum_cls, labels: dict):
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    for member in enum_cls:
        if value in (member.value, labels.get(member)):
            return member
    raise ValidationFailed("import_bad_filter", field=name)


def _export_filter() -> UserFilter:
    """The user list's filter, from the query string."""
    args = request.args
    unit_id = args.get("unit_id", type=int) if args.get("unit_id") else None
    active = (args.get("active") or "").strip().lower()
    if active in ("1", "true", "yes", "on", "active"):
        active_value = True
    elif active in ("0", "false", "no", "off", "inactive"):
        active_value = False
    elif not active:
        active_value = None
    else:
        raise ValidationFailed("import_bad_filter", field="active")
    return UserFilter(q=(args.get("q") or "").strip() or None, unit_id=unit_id,
                      role=_enum_arg("role", Role, ROLE_LABELS), active=active_value,
                      cadre_type=_enum_arg("cadre_type", CadreType, CADRE_TYPE_LABELS),
                      enterprise_type=_enum_arg("enterprise_type", EnterpriseType,
                                                ENTERPRISE_TYPE_LABELS))


@bp.get("/export.xlsx")
@admin_required
def export():
    flt = _export_filter()
    act = origin()
    out = io.BytesIO()
    imports.export_cadres(act, flt, out)
    day = act.now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    return _attachment(out.getvalue(), f"干部名册-{day}.xlsx", f"cadres-{day}.xlsx")


def _render_detail(imp, confirm_form: ImportConfirmForm | None = None, status: int = 200,
                   password: str | None = None):
    state = imports.import_state(imp)
    only_errors = request.args.get("errors") == "1"
    rows = imports.row_page(imp, page=request.args.get("page", 1, type=int),
                            per_page=ROWS_PER_PAGE, only_errors=only_errors)
    units = imports.unit_counts(imp) if state.status is ImportStatus.DONE else []
    return render_template(
        "accounts/imports/detail.html", imp=imp, state=state, rows=rows, only_errors=only_errors,
        form=confirm_form or ImportConfirmForm(), units=units,
        uploader=imports.uploader_names([imp]).get(imp.created_by_id, ""),
        password=password, error_text=imports.error_text,
        Status=ImportStatus, message=message), status


@bp.get("/<int:import_id>")
@admin_required
def detail(import_id: int):
    return _render_detail(imports.get_import(current_user, import_id))


@bp.get("/<int:import_id>/status")
@admin_required
def status(import_id: int):
    imp = imports.get_import(current_user, import_id, with_rows=False)
    return imports.import_state(imp).as_json()


@bp.post("/<int:import_id>/confirm")
@admin_required
def confirm(import_id: int):
    imp = imports.get_import(current_user, import_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        return _render_detail(imp, form, 422)
    try:
        generated = imports.confirm_import(origin(), imp, form.password.data or None)
    except DomainError as exc:
        form.form_errors.append(exc.message)
        return _render_detail(imp, form, exc.http_status)
    if generated:
        # Shown once, on this response only (no-store): never kept in the signed but
        # readable session cookie, a URL or a flash message.
        return _render_detail(imp, password=generated)
    flash(message("import_confirmed"), "success")
    return redirect(url_for(".detail", import_id=imp.id))


@bp.post("/<int:import_id>/cancel")
@admin_required
def cancel(import_id: int):
    imp = imports.get_import(current_user, import_id)
    imports.cancel_import(origin(), imp)
    flash(message("import_cancelled"), "info")
    return redirect(url_for(".detail", import_id=imp.id))

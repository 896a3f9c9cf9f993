"""WTForms for the account pages (validation only)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


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

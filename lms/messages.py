"""The one catalogue of user-facing messages (Simplified Chinese), keyed by stable codes."""
from __future__ import annotations

MESSAGES: dict[str, str] = {
    # generic
    "not_found": "您访问的内容不存在或已被删除。",
    "forbidden": "您没有权限执行此操作。",
    "unauthorized": "请先登录。",
    "bad_request": "请求格式不正确。",
    "invalid_input": "提交的内容有误：{detail}",
    "too_large": "上传的文件过大。",
    "server_error": "服务器出现错误，请稍后重试。",
    "csrf": "页面已过期或来源不明，请刷新页面后重试。",
    # sign-in
    "login_failed": "账号或密码错误。",
    "login_inactive": "该账号已停用，请联系管理员。",
    "login_slow_down": "密码错误次数过多，请 {seconds} 秒后再试。",
    "login_locked": "密码错误次数过多，账号已临时锁定，请 {minutes} 分钟后再试。",
    "ip_locked": "该网络地址登录失败次数过多，请 {minutes} 分钟后再试。",
    "token_invalid": "登录凭证无效或已过期，请重新登录。",
    "password_wrong": "当前密码不正确。",
    "password_weak": "密码至少 8 位，且须同时包含字母和数字。",
    "password_same": "新密码不能与当前密码相同。",
    "password_mismatch": "两次输入的新密码不一致。",
    "must_change_password": "首次登录或密码已被重置，请先修改密码。",
    # units
    "unit_not_found": "单位不存在。",
    "unit_name_required": "请填写单位名称。",
    "unit_name_too_long": "单位名称不能超过 {max} 个字。",
    "unit_name_taken": "同一上级单位下已有名为“{name}”的单位。",
    "unit_parent_required": "请选择上级单位。",
    "unit_root_exists": "区总工会只能有一个。",
    "unit_bad_parent": "“{kind}”不能设在“{parent_kind}”之下。",
    "unit_move_into_self": "不能把单位移动到它自己或它的下级单位之下。",
    "unit_parent_inactive": "上级单位已停用。",
    "unit_has_active_children": "该单位还有 {count} 个在用的下级单位，请先迁移或停用它们。",
    "unit_has_active_members": "该单位还有 {count} 名在用成员，请先调整他们的单位或停用账号。",
    "unit_not_deletable": "该单位已有成员、下级单位或历史记录，不能删除，只能停用。",
    "unit_root_locked": "区总工会不能移动、停用或删除。",
    # users
    "user_not_found": "用户不存在。",
    "name_required": "请填写姓名。",
    "name_too_long": "姓名不能超过 {max} 个字。",
    "name_bad_chars": "姓名含有不允许的字符。",
    "phone_invalid": "手机号“{phone}”格式不正确（应为 11 位中国大陆手机号）。",
    "phone_taken": "手机号 {phone} 已被其他账号使用。",
    "username_invalid": "用户名须为 3–32 位字母、数字、下划线或点，且以字母开头。",
    "username_taken": "用户名“{username}”已被使用。",
    "login_required_field": "用户名和手机号至少填写一项。",
    "unit_required": "请选择所属单位。",
    "unit_out_of_scope": "所选单位不在您的管理范围内。",
    "role_unit_required": "单位管理员必须绑定一个单位。",
    "role_not_grantable": "您不能授予“{role}”角色。",
    "cannot_deactivate_self": "不能停用自己的账号。",
    "cannot_demote_self": "不能取消自己的平台管理员角色。",
    "last_platform_admin": "至少要保留一名在用的平台管理员。",
    "field_invalid": "{field}的值“{value}”无效。",
    # imports
    "import_not_found": "导入批次不存在。",
    "import_not_xlsx": "文件不是有效的 Excel 工作簿（.xlsx），请使用模板填写后上传。",
    "import_empty": "工作簿中没有数据行。",
    "import_missing_columns": "缺少必填列：{columns}。请下载模板对照表头。",
    "import_too_many_rows": "一次最多导入 {max} 行，当前文件有 {rows} 行。",
    "import_not_ready": "该批次当前状态为“{status}”，不能确认导入。",
    "import_has_errors": "还有 {count} 行有错误，请修改文件后重新上传。",
    "import_stale": "预览之后数据已发生变化：{detail}。请重新上传预览。",
    # jobs
    "job_not_found": "任务不存在。",
    # -- admin pages (users, units, audit): add new codes below this line --
    "unit_inactive": "所选单位已停用。",
    "user_unit_inactive": "该用户所在单位已停用，请先把用户调整到在用的单位再启用。",
    "grant_not_found": "该角色授权不存在或已被取消。",
    "user_created": "已新建用户“{name}”。",
    "user_updated": "已保存“{name}”的资料。",
    "user_deactivated": "已停用“{name}”，其登录状态和接口令牌已全部失效。",
    "user_activated": "已启用“{name}”。",
    "role_granted": "已授予“{name}”{role}角色。",
    "role_revoked": "已取消“{name}”的{role}角色。",
    "unit_created": "已新建单位“{name}”。",
    "unit_saved": "已保存单位“{name}”的名称和排序。",
    "unit_moved": "已把单位“{name}”移至“{parent}”之下。",
    "unit_deactivated": "已停用单位“{name}”。",
    "unit_activated": "已启用单位“{name}”。",
    "unit_deleted": "已删除单位“{name}”。",
    # -- imports and exports: add new codes below this line --
}


def render(code: str, **params) -> str:
    template = MESSAGES.get(code, code)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template

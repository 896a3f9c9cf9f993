"""Accounts: users, cadre profiles, roles, tokens, sign-in throttling, the audit log, imports."""
from lms.accounts.identity import load_session_user
from lms.accounts.audit import AuditFilter, Origin, audit_query, record
from lms.accounts.models import (ApiToken, AuditEntry, CadreImport, CadreProfile, CadreType,
                                 EnterpriseType, Gender, ImportStatus, LoginThrottle, Role,
                                 RoleGrant, User)
from lms.accounts.permissions import (admin_scope_paths, can_manage_user, can_view_unit,
                                      grantable_roles, is_admin, is_platform_admin, mask_phone,
                                      require_admin, require_manage_user, require_platform_admin,
                                      require_unit_in_scope, visible_phone)
from lms.accounts.services import (CADRE_TYPE_LABELS, ENTERPRISE_TYPE_LABELS, GENDER_LABELS,
                                   ROLE_LABELS, LoginFailed, UserData, UserFilter, authenticate,
                                   change_password, create_unit, create_user, delete_unit,
                                   get_user, grant_role, hash_password, issue_token,
                                   move_unit, rename_unit, reset_password,
                                   revoke_role, revoke_token, set_unit_active, set_user_active,
                                   units_in_scope, update_user, user_id_for_token, users_query,
                                   verify_password)

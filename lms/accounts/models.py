from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, UTCDateTime, enum_column, utcnow
from lms.extensions import db
from lms.org.models import Unit


class Role(enum.Enum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    ORGANIZER = "organizer"
    UNIT_ADMIN = "unit_admin"
    PLATFORM_ADMIN = "platform_admin"


class CadreType(enum.Enum):
    FULL_TIME = "full_time"   # 专职
    PART_TIME = "part_time"   # 兼职


class EnterpriseType(enum.Enum):
    NON_PUBLIC = "non_public"     # 非公
    STATE_OWNED = "state_owned"   # 国有
    PUBLIC_SECTOR = "public_sector"  # 机关事业
    OTHER = "other"               # 其他


class Gender(enum.Enum):
    MALE = "male"
    FEMALE = "female"


def new_session_nonce() -> str:
    return secrets.token_urlsafe(12)


class User(TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: optional; people sign in with this or with their phone number
    username: Mapped[str | None] = mapped_column(sa.String(32), nullable=True, unique=True)
    #: 11-digit mainland mobile number, unique when given
    phone: Mapped[str | None] = mapped_column(sa.String(11), nullable=True, unique=True)
    name: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), nullable=False, index=True)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    #: set for imported accounts and after a reset: the next sign-in must change it
    must_change_password: Mapped[bool] = mapped_column(nullable=False, default=False)
    #: changes on password change or deactivation, ending every browser session
    session_nonce: Mapped[str] = mapped_column(sa.String(32), nullable=False,
                                               default=new_session_nonce)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    unit: Mapped[Unit] = relationship()
    profile: Mapped[CadreProfile | None] = relationship(
        back_populates="user", uselist=False, cascade="all, delete-orphan")
    role_grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="RoleGrant.user_id")

    # Flask-Login
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    def roles(self) -> set[Role]:
        return {g.role for g in self.role_grants}

    def has_role(self, role: Role) -> bool:
        return any(g.role is role for g in self.role_grants)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.name}>"


class CadreProfile(db.Model):
    __tablename__ = "cadre_profiles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    #: 职务, e.g. 工会主席
    position: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)
    cadre_type: Mapped[CadreType] = mapped_column(enum_column(CadreType, name="cadre_type"),
                                                  nullable=False, default=CadreType.PART_TIME)
    enterprise_type: Mapped[EnterpriseType] = mapped_column(
        enum_column(EnterpriseType, name="enterprise_type"), nullable=False,
        default=EnterpriseType.NON_PUBLIC)
    gender: Mapped[Gender | None] = mapped_column(enum_column(Gender, name="gender"), nullable=True)
    email: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    #: 民族, 学历, 政治面貌: optional columns of the import template
    ethnicity: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    education: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)
    political_status: Mapped[str | None] = mapped_column(sa.String(20), nullable=True)

    user: Mapped[User] = relationship(back_populates="profile")


class RoleGrant(db.Model):
    """A role held by a user; a unit administrator's grant names the unit whose subtree it covers."""

    __tablename__ = "role_grants"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "role", "unit_id", name="uq_role_grants_user_role_unit"),
        sa.CheckConstraint("role <> 'unit_admin' OR unit_id IS NOT NULL", name="unit_admin_has_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, name="role"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), nullable=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    user: Mapped[User] = relationship(back_populates="role_grants", foreign_keys=[user_id])
    unit: Mapped[Unit | None] = relationship()


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    #: SHA-256 of the token; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: 'api' or a client's label
    label: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="api")


class LoginThrottle(db.Model):
    """Failed sign-ins per key ("acct:<login>" or "ip:<address>") within a sliding window."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(nullable=False, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEntry(db.Model):
    """Append-only record of an administrative change; nothing in the application edits it."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                 nullable=True, index=True)
    #: the actor's name at the time, kept if the account changes
    actor_name: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)
    #: e.g. "user.create", "unit.move", "import.commit"
    action: Mapped[str] = mapped_column(sa.String(40), nullable=False, index=True)
    object_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    object_id: Mapped[int | None] = mapped_column(nullable=True)
    #: unit the object belongs to, so unit administrators see their subtree's entries
    unit_path: Mapped[str | None] = mapped_column(sa.String(400), nullable=True, index=True)
    summary: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    details: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)


class ImportStatus(enum.Enum):
    PARSING = "parsing"        # 预检中
    PREVIEW = "preview"        # 待确认
    INVALID = "invalid"        # 文件无效
    COMMITTING = "committing"  # 导入中
    DONE = "done"              # 已导入
    FAILED = "failed"          # 导入失败
    CANCELLED = "cancelled"    # 已取消


class CadreImport(db.Model):
    """One uploaded workbook of cadres: parsed into a preview, imported only when confirmed."""

    __tablename__ = "cadre_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    #: the importer's scope when uploaded: rows outside it are refused
    scope_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    #: random name of the stored upload under LMS_IMPORT_DIR
    stored_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    status: Mapped[ImportStatus] = mapped_column(enum_column(ImportStatus, name="import_status"),
                                                 nullable=False, default=ImportStatus.PARSING)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"), nullable=True)
    total_rows: Mapped[int] = mapped_column(nullable=False, default=0)
    valid_rows: Mapped[int] = mapped_column(nullable=False, default=0)
    error_rows: Mapped[int] = mapped_column(nullable=False, default=0)
    #: a file-level refusal (not xlsx, missing columns ...)
    file_error: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    #: parsed rows: [{"row": 2, "values": {...}, "errors": ["..."]}, ...]
    rows: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    imported_count: Mapped[int] = mapped_column(nullable=False, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

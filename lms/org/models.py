from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, enum_column
from lms.extensions import db


class UnitKind(enum.Enum):
    DISTRICT = "district"          # 区总工会
    ZONE = "zone"                  # 功能区
    SUBDISTRICT = "subdistrict"    # 街镇
    SECTOR = "sector"              # 系统工会
    AFFILIATED = "affiliated"      # 直属单位
    GRASSROOTS = "grassroots"      # 基层工会


#: which kinds may stand directly under which
ALLOWED_PARENTS: dict[UnitKind, set[UnitKind]] = {
    UnitKind.DISTRICT: set(),
    UnitKind.ZONE: {UnitKind.DISTRICT},
    UnitKind.SUBDISTRICT: {UnitKind.DISTRICT},
    UnitKind.SECTOR: {UnitKind.DISTRICT},
    UnitKind.AFFILIATED: {UnitKind.DISTRICT},
    UnitKind.GRASSROOTS: {UnitKind.DISTRICT, UnitKind.ZONE, UnitKind.SUBDISTRICT,
                          UnitKind.SECTOR, UnitKind.AFFILIATED},
}


class Unit(TimestampMixin, db.Model):
    __tablename__ = "units"
    __table_args__ = (
        sa.UniqueConstraint("parent_id", "name", name="uq_units_parent_id_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, name="unit_kind"), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), nullable=True, index=True)
    #: materialised path of ids, "/1/4/17/": a subtree is a prefix match
    path: Mapped[str] = mapped_column(sa.String(400), nullable=False, index=True)
    depth: Mapped[int] = mapped_column(nullable=False, default=0)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
    sort_order: Mapped[int] = mapped_column(nullable=False, default=0)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])

    def is_within(self, ancestor: Unit) -> bool:
        """True when this unit is `ancestor` or below it."""
        return self.path.startswith(ancestor.path)

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name}>"

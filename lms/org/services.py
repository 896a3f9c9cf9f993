"""The unit tree: create, rename, move, deactivate. No actor here: accounts checks who may."""
from __future__ import annotations

import sqlalchemy as sa

from lms.errors import Conflict, NotFound, ValidationFailed
from lms.extensions import db
from lms.org.models import ALLOWED_PARENTS, Unit, UnitKind

UNIT_NAME_MAX = 100

KIND_LABELS = {
    UnitKind.DISTRICT: "区总工会",
    UnitKind.ZONE: "功能区",
    UnitKind.SUBDISTRICT: "街镇",
    UnitKind.SECTOR: "系统工会",
    UnitKind.AFFILIATED: "直属单位",
    UnitKind.GRASSROOTS: "基层工会",
}


def get_unit(unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unit_not_found")
    return unit


def subtree_condition(path: str):
    """SQL condition: a unit whose path starts with `path` (the unit itself included)."""
    return Unit.path.startswith(path, autoescape=True)


def subtree_ids_query(unit: Unit):
    return sa.select(Unit.id).where(subtree_condition(unit.path))


KIND_ORDER = {kind: rank for rank, kind in enumerate(UnitKind)}


def _tree_order(unit: Unit):
    """Siblings: 功能区, 街镇, 系统工会, 直属单位, 基层工会, then the set order, then the name."""
    return (KIND_ORDER[unit.kind], unit.sort_order, unit.name)


def list_tree(root: Unit | None = None, *, include_inactive: bool = True) -> list[Unit]:
    """Units in depth-first order (by path of sort order and name), optionally one subtree."""
    stmt = sa.select(Unit)
    if root is not None:
        stmt = stmt.where(subtree_condition(root.path))
    if not include_inactive:
        stmt = stmt.where(Unit.active.is_(True))
    units = db.session.scalars(stmt).all()
    by_parent: dict[int | None, list[Unit]] = {}
    ids = {u.id for u in units}
    for u in units:
        key = u.parent_id if u.parent_id in ids else None
        by_parent.setdefault(key, []).append(u)
    ordered: list[Unit] = []

    def walk(parent_id):
        for child in sorted(by_parent.get(parent_id, []), key=_tree_order):
            ordered.append(child)
            walk(child.id)

    walk(None)
    return ordered


#: kinds that may have sub-units at all
PARENT_KINDS = {kind for kinds in ALLOWED_PARENTS.values() for kind in kinds}


def parent_candidates(kind: UnitKind | None = None, *, exclude: Unit | None = None) -> list[Unit]:
    """Active units a unit may be placed under, depth-first: of a kind allowed above `kind`
    (any kind that takes sub-units when None), never `exclude` or its subtree (a move target)."""
    allowed = ALLOWED_PARENTS[kind] if kind is not None else PARENT_KINDS
    return [u for u in list_tree(include_inactive=False)
            if u.kind in allowed and not (exclude is not None and u.is_within(exclude))]


def find_unit_by_name(name: str) -> list[Unit]:
    return list(db.session.scalars(sa.select(Unit).where(Unit.name == name.strip())))


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("unit_name_required")
    if len(name) > UNIT_NAME_MAX:
        raise ValidationFailed("unit_name_too_long", max=UNIT_NAME_MAX)
    return name


def _check_name_free(name: str, parent_id: int | None, exclude_id: int | None = None) -> None:
    stmt = sa.select(Unit.id).where(Unit.name == name)
    stmt = stmt.where(Unit.parent_id.is_(None) if parent_id is None else Unit.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Unit.id != exclude_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise Conflict("unit_name_taken", name=name)


def _check_parent(kind: UnitKind, parent: Unit | None) -> None:
    if kind is UnitKind.DISTRICT:
        if parent is not None:
            raise ValidationFailed("unit_bad_parent", kind=KIND_LABELS[kind],
                                   parent_kind=KIND_LABELS[parent.kind])
        if db.session.scalar(sa.select(Unit.id).where(Unit.kind == UnitKind.DISTRICT).limit(1)):
            raise Conflict("unit_root_exists")
        return
    if parent is None:
        raise ValidationFailed("unit_parent_required")
    if parent.kind not in ALLOWED_PARENTS[kind]:
        raise ValidationFailed("unit_bad_parent", kind=KIND_LABELS[kind],
                               parent_kind=KIND_LABELS[parent.kind])
    if not parent.active:
        raise ValidationFailed("unit_parent_inactive")


def create_unit(*, name: str, kind: UnitKind, parent_id: int | None, sort_order: int = 0) -> Unit:
    """Create a unit under an active parent of a kind allowed above it; names unique per parent."""
    name = _clean_name(name)
    parent = get_unit(parent_id) if parent_id is not None else None
    _check_parent(kind, parent)
    _check_name_free(name, parent_id)
    unit = Unit(name=name, kind=kind, parent=parent, path="", sort_order=sort_order,
                depth=(parent.depth + 1) if parent else 0, active=True)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit


def rename_unit(unit: Unit, name: str, *, sort_order: int | None = None) -> Unit:
    name = _clean_name(name)
    _check_name_free(name, unit.parent_id, exclude_id=unit.id)
    unit.name = name
    if sort_order is not None:
        unit.sort_order = sort_order
    db.session.flush()
    return unit


def move_unit(unit: Unit, new_parent: Unit) -> Unit:
    """Move a unit with its whole subtree; never into itself or below itself."""
    if unit.kind is UnitKind.DISTRICT:
        raise ValidationFailed("unit_root_locked")
    if new_parent.is_within(unit):
        raise ValidationFailed("unit_move_into_self")
    if new_parent.kind not in ALLOWED_PARENTS[unit.kind]:
        raise ValidationFailed("unit_bad_parent", kind=KIND_LABELS[unit.kind],
                               parent_kind=KIND_LABELS[new_parent.kind])
    if not new_parent.active:
        raise ValidationFailed("unit_parent_inactive")
    _check_name_free(unit.name, new_parent.id, exclude_id=unit.id)
    old_path, new_path = unit.path, f"{new_parent.path}{unit.id}/"
    depth_shift = new_parent.depth + 1 - unit.depth
    # One statement rewrites the paths and depths of the whole subtree.
    db.session.execute(
        sa.update(Unit)
        .where(subtree_condition(old_path))
        .values(path=sa.literal(new_path, sa.String) + sa.func.substr(Unit.path, len(old_path) + 1),
                depth=Unit.depth + depth_shift)
        .execution_options(synchronize_session=False)
    )
    unit.parent_id = new_parent.id
    db.session.flush()
    db.session.expire_all()
    return db.session.get(Unit, unit.id)


def count_active_children(unit: Unit) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Unit)
        .where(Unit.parent_id == unit.id, Unit.active.is_(True))) or 0


def count_children(unit: Unit) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Unit).where(Unit.parent_id == unit.id)) or 0


def set_unit_active(unit: Unit, active: bool) -> Unit:
    """Deactivate only a unit with no active sub-units (members are checked by accounts)."""
    if unit.kind is UnitKind.DISTRICT and not active:
        raise ValidationFailed("unit_root_locked")
    if not active:
        children = count_active_children(unit)
        if children:
            raise Conflict("unit_has_active_children", count=children)
    elif unit.parent is not None and not unit.parent.active:
        raise ValidationFailed("unit_parent_inactive")
    unit.active = active
    db.session.flush()
    return unit


def delete_empty_unit(unit: Unit) -> None:
    """Delete a unit created by mistake: no sub-units at all (members and history: accounts)."""
    if unit.kind is UnitKind.DISTRICT:
        raise ValidationFailed("unit_root_locked")
    if count_children(unit):
        raise Conflict("unit_not_deletable")
    db.session.delete(unit)
    db.session.flush()

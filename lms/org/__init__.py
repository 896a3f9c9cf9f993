"""The unit tree (区总工会 → 功能区 / 街镇 / 系统工会 / 直属单位 → 基层工会)."""
from lms.org.models import ALLOWED_PARENTS, Unit, UnitKind
from lms.org.services import (KIND_LABELS, create_unit, delete_empty_unit, find_unit_by_name,
                              get_unit, list_tree, move_unit, rename_unit, set_unit_active,
                              subtree_condition, subtree_ids_query)

__all__ = ["ALLOWED_PARENTS", "KIND_LABELS", "Unit", "UnitKind", "create_unit", "delete_empty_unit",
           "find_unit_by_name", "get_unit", "list_tree", "move_unit", "rename_unit",
           "set_unit_active", "subtree_condition", "subtree_ids_query"]

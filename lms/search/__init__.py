"""Search: the change log written with each change, tailed by the worker into Whoosh."""
from lms.search.models import ChangeOp, IndexCursor, SearchChange

__all__ = ["ChangeOp", "IndexCursor", "SearchChange"]

"""Search: the change log written with each change, tailed by the worker into Whoosh."""
from lms.search.models import ChangeOp, IndexCursor, SearchChange
from lms.search.services import (DocType, Document, Hit, SearchResult, query, rebuild,
                                 record_change, register_doc_type, tail)

__all__ = ["ChangeOp", "DocType", "Document", "Hit", "IndexCursor", "SearchChange",
           "SearchResult", "query", "rebuild", "record_change", "register_doc_type", "tail"]

"""Bulk import and export of cadres from Excel workbooks."""
from __future__ import annotations

"""The worker's search task: tail the change log into this host's indexes every 2 seconds."""
from __future__ import annotations

from lms.jobs.worker import every
from lms.search.services import tail

TAIL_SECONDS = 2

every("search.tail", TAIL_SECONDS, tail)

"""Background jobs: a registry domains add to, and atomic claiming in the database."""
from lms.jobs.models import Job, JobStatus
from lms.jobs.services import (JobContext, begin_writes, claim_next, enqueue, get_job, register,
                               registered_kinds, run_job, run_pending, worker_name)

__all__ = ["Job", "JobContext", "JobStatus", "begin_writes", "claim_next", "enqueue", "get_job", "register",
           "registered_kinds", "run_job", "run_pending", "worker_name"]

"""The worker's media jobs: processing an asset, and hourly housekeeping of uploads and files."""
from __future__ import annotations

from lms import jobs
from lms.extensions import db
from lms.jobs import Job, JobContext
from lms.jobs.worker import schedule
from lms.media import services
from lms.media.uploads import expire_uploads, sweep_upload_files


@jobs.register(services.PROCESS_JOB)
def process_media(ctx: JobContext) -> None:
    """Probe and transcode one asset (payload {"asset_id"}). No transaction is held while ffmpeg
    runs (see process_asset); a failure worth a retry is raised so that the queue retries it,
    and the reason is put on the asset, as FAILED once the last attempt has failed."""
    asset_id = int(ctx.payload["asset_id"])
    job = db.session.get(Job, ctx.job_id)
    last_attempt = job is None or job.attempts >= job.max_attempts
    try:
        services.process_asset(asset_id, ctx.now, progress=ctx.progress, detached=True)
    except Exception as exc:
        db.session.rollback()
        services.record_failure(asset_id, exc, final=last_attempt, now=ctx.now)
        raise


@jobs.register("media.housekeeping")
def housekeeping(ctx: JobContext) -> None:
    """Delete expired unfinished uploads and their bytes; remove temporary files of dead
    transcodes and files no row refers to."""
    jobs.begin_writes()
    expire_uploads(ctx.now)
    sweep_upload_files(ctx.now)
    services.sweep_orphans(ctx.now)


schedule("media.housekeeping", minute=23)

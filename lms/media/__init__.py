"""Media: resumable uploads, probing, transcoding, serving with range requests."""
from lms.media.models import AssetKind, AssetStatus, MediaAsset, Rendition, Upload
from lms.media.probe import MediaRefused
from lms.media.serving import send_media
from lms.media.services import (AssetState, asset_state, can_view_asset_status, delete_asset,
                                enqueue_processing, get_asset, import_file, original_path,
                                poster_path, process_asset, rendition_for, rendition_path,
                                reprocess_asset, status_label)
from lms.media.uploads import UploadPurpose, can_upload, register_upload_purpose

__all__ = ["AssetKind", "AssetState", "AssetStatus", "MediaAsset", "MediaRefused", "Rendition",
           "Upload", "UploadPurpose", "asset_state", "can_upload", "can_view_asset_status",
           "delete_asset", "enqueue_processing", "get_asset", "import_file", "original_path",
           "poster_path", "process_asset", "register_upload_purpose", "rendition_for",
           "rendition_path", "reprocess_asset", "send_media", "status_label"]

"""Media: resumable uploads, probing, transcoding, serving with range requests."""
from lms.media.models import AssetKind, AssetStatus, MediaAsset, Rendition, Upload

__all__ = ["AssetKind", "AssetStatus", "MediaAsset", "Rendition", "Upload"]

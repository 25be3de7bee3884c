"""Uploaded pictures, checked and re-encoded: the size, a real JPEG, PNG, WebP or GIF by its
content (not its name), sensible dimensions; stored as JPEG, which drops whatever else the file
carried (EXIF with its GPS position, scripts hidden in comments) and serves one safe type.
Shared by product pictures (ordering) and repair photos (community)."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from townsquare.core.errors import ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuses decompression bombs before they are decoded
MIN_SIDE, MAX_SIDE = 64, 8000
FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def open_checked(data: bytes, *, field: str = "picture") -> Image.Image:
    """The upload as an RGB image, upright; ValidationFailed (on `field`) for anything else."""
    if not data:
        raise ValidationFailed("Choose a picture to upload.", field=field)
    if len(data) > MAX_BYTES:
        raise ValidationFailed("A picture is at most 5 MB.", field=field)
    refused = ValidationFailed("Upload a JPEG, PNG, WebP or GIF picture.", field=field)
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in FORMATS:
            raise refused
        width, height = image.size
        if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
            raise ValidationFailed("A picture is at most {n} pixels on a side.", n=MAX_SIDE,
                                   field=field)
        if min(width, height) < MIN_SIDE:
            raise ValidationFailed("A picture is at least {n} pixels on a side.", n=MIN_SIDE,
                                   field=field)
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise refused from exc
    return ImageOps.exif_transpose(image).convert("RGB")


def jpeg(image: Image.Image, side: int) -> bytes:
    """The image scaled to fit `side` × `side`, as JPEG bytes."""
    copy = image.copy()
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    width, height = Image.open(io.BytesIO(data)).size
    return width, height

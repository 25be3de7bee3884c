"""Repair photos: checked and re-encoded by `core.images`, stored under the data directory
(`community/repairs/<photo>.<size>.jpg`), at most four per ticket."""

from __future__ import annotations

from pathlib import Path

from townsquare.core import images
from townsquare.core.errors import NotFound, ValidationFailed

MAX_PER_TICKET = 4
MAX_BYTES = images.MAX_BYTES
FULL_SIDE, THUMB_SIDE = 1280, 320
SIZES = ("full", "thumb")


def folder(data_dir: Path) -> Path:
    return data_dir / "community" / "repairs"


def path_of(data_dir: Path, photo_id: str, size: str) -> Path:
    if size not in SIZES:
        raise NotFound("No such picture.")
    return folder(data_dir) / f"{photo_id}.{size}.jpg"


def prepare(uploads: list[bytes]) -> list[tuple[bytes, bytes, int, int]]:
    """Each upload checked and re-encoded (full, thumb, width, height), before anything is
    stored: one bad picture refuses the whole report."""
    uploads = [data for data in uploads if data]
    if len(uploads) > MAX_PER_TICKET:
        raise ValidationFailed("A report has at most {n} photos.", n=MAX_PER_TICKET,
                               field="photos")
    prepared = []
    for data in uploads:
        image = images.open_checked(data, field="photos")
        full = images.jpeg(image, FULL_SIDE)
        width, height = images.size_of(full)
        prepared.append((full, images.jpeg(image, THUMB_SIDE), width, height))
    return prepared


def store(data_dir: Path, photo_id: str, full: bytes, thumb: bytes) -> None:
    folder(data_dir).mkdir(parents=True, exist_ok=True)
    path_of(data_dir, photo_id, "full").write_bytes(full)
    path_of(data_dir, photo_id, "thumb").write_bytes(thumb)

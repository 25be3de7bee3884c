"""Product pictures: an upload is checked (`core.images`: size, a real JPEG, PNG, WebP or GIF by
its content, not its name, sensible dimensions) and stored re-encoded as JPEG under the data
directory, with a thumbnail. Re-encoding drops whatever else the file carried (EXIF with its
GPS position, scripts hidden in comments) and serves one safe type."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from townsquare.accounts.models import User
from townsquare.core import images
from townsquare.core.errors import NotFound, ValidationFailed
from townsquare.ordering.catalog.models import Picture
from townsquare.ordering.catalog.service import get_product

MAX_BYTES, MAX_PIXELS = images.MAX_BYTES, images.MAX_PIXELS
MIN_SIDE, MAX_SIDE = images.MIN_SIDE, images.MAX_SIDE
FULL_SIDE, THUMB_SIDE = 1280, 320
FORMATS = images.FORMATS
MAX_PER_PRODUCT = 6
SIZES = ("full", "thumb")


def folder(data_dir: Path) -> Path:
    return data_dir / "ordering" / "pictures"


def path_of(data_dir: Path, picture_id: str, size: str) -> Path:
    if size not in SIZES:
        raise NotFound("No such picture.")
    return folder(data_dir) / f"{picture_id}.{size}.jpg"


def _open(data: bytes) -> Image.Image:
    return images.open_checked(data)


def _jpeg(image: Image.Image, side: int) -> bytes:
    return images.jpeg(image, side)


def add_picture(db: Session, *, actor: User | None, product_id: str, data: bytes,
                data_dir: Path) -> Picture:
    """Check and store an uploaded picture as the product's last one."""
    product = get_product(db, actor=actor, product_id=product_id)
    if len(product.pictures) >= MAX_PER_PRODUCT:
        raise ValidationFailed("A product has at most {n} pictures.", n=MAX_PER_PRODUCT,
                               field="picture")
    image = _open(data)
    full = _jpeg(image, FULL_SIDE)
    width, height = Image.open(io.BytesIO(full)).size
    picture = Picture(product_id=product.id, width=width, height=height, size_bytes=len(full),
                      position=len(product.pictures))
    product.pictures.append(picture)
    db.flush()
    folder(data_dir).mkdir(parents=True, exist_ok=True)
    path_of(data_dir, picture.public_id, "full").write_bytes(full)
    path_of(data_dir, picture.public_id, "thumb").write_bytes(_jpeg(image, THUMB_SIDE))
    return picture


def remove_picture(db: Session, *, actor: User | None, product_id: str, picture_id: str,
                   data_dir: Path) -> None:
    product = get_product(db, actor=actor, product_id=product_id)
    picture = next((p for p in product.pictures if p.public_id == picture_id), None)
    if picture is None:
        raise NotFound("No such picture.")
    product.pictures.remove(picture)
    db.flush()
    for size in SIZES:
        path_of(data_dir, picture_id, size).unlink(missing_ok=True)

"""Product pictures: real images are stored re-encoded with a thumbnail; anything else, too big
or too small is refused beside the field and stores nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from townsquare.core.errors import PermissionDenied, ValidationFailed
from townsquare.ordering.catalog import pictures


def _image(fmt: str = "PNG", size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(out, fmt)
    return out.getvalue()


def test_a_picture_is_stored_as_jpeg_with_a_thumbnail(database, shop, tmp_path):
    with database.unit_of_work() as db:
        picture = pictures.add_picture(db, actor=shop.owner, product_id=shop.product,
                                       data=_image(), data_dir=tmp_path)
        assert (picture.width, picture.height) == (800, 600)
    full = Image.open(pictures.path_of(tmp_path, picture.public_id, "full"))
    thumb = Image.open(pictures.path_of(tmp_path, picture.public_id, "thumb"))
    assert (full.format, thumb.format, thumb.size) == ("JPEG", "JPEG", (320, 240))
    with database.unit_of_work() as db:
        pictures.remove_picture(db, actor=shop.owner, product_id=shop.product,
                                picture_id=picture.public_id, data_dir=tmp_path)
    assert not pictures.path_of(tmp_path, picture.public_id, "full").exists()


@pytest.mark.parametrize("data", [
    b"<svg xmlns='http://www.w3.org/2000/svg'/>",  # not a raster picture
    b"GIF89a" + b"\0" * 40,  # a damaged file
    _image("BMP"),  # a real image of a type not accepted
    _image(size=(20, 20)),  # too small to show
    b"",
])
def test_what_is_not_a_usable_picture_is_refused(database, shop, tmp_path, data):
    with database.unit_of_work() as db, pytest.raises(ValidationFailed):
        pictures.add_picture(db, actor=shop.owner, product_id=shop.product, data=data,
                             data_dir=tmp_path)
    assert not (tmp_path / "ordering").exists()


def test_too_large_and_not_yours(database, shop, tmp_path):
    with database.unit_of_work() as db:
        with pytest.raises(ValidationFailed):
            pictures.add_picture(db, actor=shop.owner, product_id=shop.product,
                                 data=b"x" * (pictures.MAX_BYTES + 1), data_dir=tmp_path)
        with pytest.raises(PermissionDenied):
            pictures.add_picture(db, actor=shop.outsider, product_id=shop.product,
                                 data=_image(), data_dir=tmp_path)

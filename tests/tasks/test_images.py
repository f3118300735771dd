"""What counts as a valid image: every refusal has a stable reason code."""

import pytest

from persona_lens.tasks.images import BadImage, check_image, decode_rgb, image_id_of
from tests.images_factory import (
    bomb_png, exif_rotated_jpeg, photo_bytes, sixteen_bit_png, sliver_png, truncated_jpeg,
)


def test_valid_jpeg_is_decoded_to_rgb_with_its_sha256_as_id():
    data = photo_bytes(1)
    checked, img = check_image(data)
    assert checked.image_id == image_id_of(data) and len(checked.image_id) == 64
    assert (checked.format, checked.ext, checked.width, checked.height) == ("JPEG", "jpg", 64, 48)
    assert img.mode == "RGB" and img.size == (64, 48)


def test_exif_orientation_is_applied():
    checked, img = check_image(exif_rotated_jpeg((80, 40)))
    assert (checked.width, checked.height) == (40, 80) and img.size == (40, 80)


def test_grayscale_and_palette_images_become_rgb():
    assert decode_rgb(photo_bytes(2, fmt="PNG", mode="L")).mode == "RGB"
    assert decode_rgb(photo_bytes(3, fmt="PNG", mode="P")).mode == "RGB"


def test_transparent_pixels_are_composited_on_white():
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(buf, format="PNG")
    assert decode_rgb(buf.getvalue()).getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty_file"),
    (b"hello, I am text pretending to be a JPEG\n", "not_an_image"),
    (truncated_jpeg(), "truncated_or_corrupt"),
    (sixteen_bit_png(), "unsupported_mode"),
    (bomb_png(), "too_many_pixels"),
    (sliver_png(), "absurd_dimensions"),
], ids=["zero-byte", "text", "truncated", "16-bit", "bomb", "sliver"])
def test_bad_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(BadImage) as err:
        check_image(data)
    assert err.value.reason == reason and err.value.detail

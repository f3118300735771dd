"""Reference faces: packaged photos and folders give 64x64 crops; a folder with no usable image fails."""

import pytest
from PIL import Image

from persona_lens.tasks.generate.subjects import SubjectError, folder_subject, packaged_photos, packaged_subject


def test_packaged_photo_gives_n_distinct_64px_references():
    s = packaged_subject("grace_hopper", n=5)
    assert len(s.references) == 5 and {im.size for im in s.references} == {(64, 64)}
    assert len({im.tobytes() for im in s.references}) == 5


def test_folder_skips_non_faces_and_says_why(tmp_path):
    Image.open(packaged_photos()["astronaut"]).save(tmp_path / "a.png")
    Image.new("RGB", (80, 80), "white").save(tmp_path / "blank.png")
    (tmp_path / "notes.txt").write_text("not an image")
    s = folder_subject("eileen", tmp_path, n=4)
    assert len(s.references) == 4
    assert s.skipped == {str(tmp_path / "blank.png"): "no face found", str(tmp_path / "notes.txt"): "not a readable image"}


def test_folder_with_no_usable_image_is_one_clear_error(tmp_path):
    Image.new("RGB", (80, 80), "white").save(tmp_path / "blank.png")
    with pytest.raises(SubjectError, match=r"no usable reference image .*blank.png: no face found"):
        folder_subject("nobody", tmp_path)
    with pytest.raises(SubjectError, match="does not exist"):
        folder_subject("nobody", tmp_path / "missing")

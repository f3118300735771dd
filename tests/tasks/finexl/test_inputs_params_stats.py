import numpy as np
import pytest
from PIL import Image, ImageFilter

from persona_lens.tasks.finexl.image_stats import NAMES, image_statistics, pair_statistic_features
from persona_lens.tasks.finexl.inputs import PairingError, pair_folders
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.params import ConfigError


def _img(seed=0, value=None):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) if value is None else np.full((64, 64, 3), value, np.uint8)
    return Image.fromarray(a)


def _write(folder, names, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i, n in enumerate(names):
        _img(seed + i).save(folder / n)


def test_pair_folders_pairs_by_name_and_quarantines_the_rest(tmp_path):
    _write(tmp_path / "b", ["1.png", "2.png", "3.png", "only_base.png"])
    _write(tmp_path / "p", ["1.png", "2.png", "3.png"], seed=10)
    (tmp_path / "p" / "3.png").write_bytes(b"not a png")
    pairs = pair_folders(tmp_path / "b", tmp_path / "p")
    assert pairs.names == ["1.png", "2.png"]
    assert sorted(r["reason"] for r in pairs.quarantine) == ["undecodable_image", "unpaired_image"]


def test_pair_folders_raises_for_missing_empty_or_disjoint_folders(tmp_path):
    _write(tmp_path / "b", ["1.png", "2.png"])
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "other", ["x.png", "y.png"])
    with pytest.raises(PairingError, match="does not exist"):
        pair_folders(tmp_path / "nope", tmp_path / "b")
    with pytest.raises(PairingError, match="no image files"):
        pair_folders(tmp_path / "b", tmp_path / "empty")
    with pytest.raises(PairingError, match="share no file name"):
        pair_folders(tmp_path / "b", tmp_path / "other")
    _write(tmp_path / "one", ["1.png"])
    with pytest.raises(PairingError, match="at least 2"):
        pair_folders(tmp_path / "b", tmp_path / "one")


def test_image_statistics_move_the_right_way():
    img = _img(1)
    dark = Image.eval(img, lambda v: v // 3)
    blurred = img.filter(ImageFilter.GaussianBlur(3))
    s = image_statistics([img, dark, blurred])
    lum, lap = NAMES.index("luminance_mean"), NAMES.index("laplacian_energy")
    assert s.shape == (3, len(NAMES))
    assert s[1, lum] < s[0, lum] and s[2, lap] < s[0, lap]
    f = pair_statistic_features(s[:1], s[1:2])
    assert f.shape == (2 * len(NAMES),) and f[lum] > 0
    with pytest.raises(ValueError, match="statistics must be"):
        pair_statistic_features(s[:, :3], s[:, :3])


@pytest.mark.parametrize("field, value, match", [
    ("ortho_threshold", 1.5, "ortho_threshold"),
    ("whiten_components", 0, "whiten_components"),
    ("probe_prompts", (), "probe_prompts"),
    ("complemented_aspects", ("mood",), "unknown aspect"),
    ("level_edges", (0.5, 0.2, 0.9), "increasing"),
    ("form", "pca", "form"),
    ("bootstrap", 1, "bootstrap"),
    ("colour", 1, "unknown parameter"),
])
def test_explain_params_refuse_bad_values_naming_them(field, value, match):
    with pytest.raises(ConfigError, match=match):
        ExplainParams.parse({field: value})


def test_default_probe_prompts_differ_from_the_worlds_prompts():
    from persona_lens.world.profiles import TEMPLATES

    words = {w for t in TEMPLATES for w in t.replace(",", "").split() if not w.startswith("{")}
    for probe in ExplainParams().probe_prompts:
        assert "sks" not in probe and probe not in TEMPLATES
        assert not {"photo", "sks", "front"} & set(probe.split()), (probe, words)

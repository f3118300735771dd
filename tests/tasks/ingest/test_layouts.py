"""Public datasets in their published layouts: CUB-200-2011, Stanford Cars, WildlifeReID-10k.

Each fixture is a small copy of the real format (the same metadata files, names and fields), so the
adapter reads exactly what a user downloads.
"""

import numpy as np
import pytest
import scipy.io

from persona_lens.tasks.ingest import IngestParams
from persona_lens.tasks.ingest.sources import SourceError, list_source
from tests.datasets_factory import write, write_cub
from tests.images_factory import photo_bytes


def labelled(listing):
    return {f.path.rsplit("/", 1)[1]: f.labels for f in listing.files}


# --- CUB-200-2011 -----------------------------------------------------------------------------------

@pytest.fixture
def cub(tmp_path):
    write_cub(tmp_path / "CUB_200_2011")      # the archive's folder
    return tmp_path


def test_cub_labels_species_within_their_look_alike_group(cub):
    listing = list_source(str(cub), layout="cub-200-2011")       # the folder above CUB_200_2011/ works
    assert labelled(listing) == {
        "Black_Footed_Albatross_0001_796111.jpg": {"category": "bird", "subclass": "Albatross",
                                                   "instance": "Black_footed_Albatross", "split": "train"},
        "Bewick_Wren_0001_184771.jpg": {"category": "bird", "subclass": "Wren", "instance": "Bewick_Wren",
                                        "split": "test"},
        "Cactus_Wren_0001_185552.jpg": {"category": "bird", "subclass": "Wren", "instance": "Cactus_Wren",
                                        "split": "train"},
    }
    assert listing.files[0].path == str(cub / "CUB_200_2011/images/001.Black_footed_Albatross/"
                                               "Black_Footed_Albatross_0001_796111.jpg")


def test_cub_rows_it_cannot_label_are_refused_one_by_one(cub):
    reasons = {(r.reason, r.source.rsplit("/", 1)[-1]) for r in list_source(str(cub), layout="cub-200-2011").rejected}
    assert reasons == {("bad_layout_row", "images.txt:line 6"),                 # three fields
                       ("unlabelled_image", "Cactus_Wren_0002_185553.jpg"),     # class 9 is not listed
                       ("path_traversal", "passwd.jpg")}                        # ../../etc/passwd.jpg


def test_cub_split_keeps_one_split_and_names_the_ones_there_are(cub):
    assert {f.labels["split"] for f in list_source(str(cub / "CUB_200_2011"), layout="cub-200-2011",
                                                   split="test").files} == {"test"}
    with pytest.raises(SourceError, match=r"no split 'val'.*\['test', 'train'\]"):
        list_source(str(cub), layout="cub-200-2011", split="val")


def test_cub_without_its_metadata_is_a_source_error_naming_the_file(tmp_path):
    write(tmp_path / "images.txt", "1 a/b.jpg\n")
    with pytest.raises(SourceError, match="image_class_labels.txt.*does not exist"):
        list_source(str(tmp_path), layout="cub-200-2011")


# --- Stanford Cars ----------------------------------------------------------------------------------

CAR_NAMES = np.array(["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Aston Martin V8 Vantage Coupe 2012"],
                     dtype=object)


def _struct(rows: list[dict]) -> np.ndarray:
    """A MATLAB struct array as scipy.io.savemat writes it (what the published .mat files hold)."""
    names = list(rows[0])
    out = np.zeros((1, len(rows)), dtype=[(n, object) for n in names])
    for j, row in enumerate(rows):
        for n in names:
            out[0, j][n] = row[n]
    return out


def test_stanford_cars_annos_mat_labels_make_and_model(tmp_path):
    for i in range(1, 5):
        write(tmp_path / f"car_ims/{i:06d}.jpg", photo_bytes(i))
    box = dict(bbox_x1=1, bbox_y1=2, bbox_x2=30, bbox_y2=20)
    scipy.io.savemat(tmp_path / "cars_annos.mat", {
        "class_names": CAR_NAMES.reshape(1, -1),
        "annotations": _struct([dict(relative_im_path=f"car_ims/{i:06d}.jpg", **box, **{"class": c, "test": t})
                                for i, c, t in [(1, 1, 0), (2, 3, 1), (3, 2, 0), (4, 7, 0)]])})
    listing = list_source(str(tmp_path), layout="stanford-cars")
    assert labelled(listing) == {
        "000001.jpg": {"category": "car", "subclass": "AM General", "instance": "AM General Hummer SUV 2000",
                       "split": "train"},
        "000002.jpg": {"category": "car", "subclass": "Aston Martin",
                       "instance": "Aston Martin V8 Vantage Coupe 2012", "split": "test"},
        "000003.jpg": {"category": "car", "subclass": "Acura", "instance": "Acura RL Sedan 2012", "split": "train"},
    }
    [rej] = listing.rejected
    assert rej.reason == "unlabelled_image" and "class 7" in rej.detail


def test_stanford_cars_devkit_reads_train_and_labelled_test_annotations(tmp_path):
    write(tmp_path / "cars_train/00001.jpg", photo_bytes(1))
    write(tmp_path / "cars_test/00001.jpg", photo_bytes(2))
    (tmp_path / "devkit").mkdir()
    scipy.io.savemat(tmp_path / "devkit/cars_meta.mat", {"class_names": CAR_NAMES.reshape(1, -1)})
    scipy.io.savemat(tmp_path / "devkit/cars_train_annos.mat", {"annotations": _struct([{"fname": "00001.jpg", "class": 2}])})
    scipy.io.savemat(tmp_path / "cars_test_annos_withlabels.mat",
                     {"annotations": _struct([{"fname": "00001.jpg", "class": 1}])})
    listing = list_source(str(tmp_path), layout="stanford-cars")
    assert [(f.path.split("/")[-2], f.labels["instance"], f.labels["split"]) for f in listing.files] == [
        ("cars_train", "Acura RL Sedan 2012", "train"), ("cars_test", "AM General Hummer SUV 2000", "test")]


def test_stanford_cars_class_folders(tmp_path):
    write(tmp_path / "train/BMW M3 Coupe 2012/a.jpg", photo_bytes(1))
    write(tmp_path / "test/Land Rover Range Rover SUV 2012/b.jpg", photo_bytes(2))
    write(tmp_path / "test/stray.jpg", photo_bytes(3))
    listing = list_source(str(tmp_path), layout="stanford-cars")
    assert [(f.labels["subclass"], f.labels["split"]) for f in listing.files] == [("BMW", "train"), ("Land Rover", "test")]
    assert [r.reason for r in listing.rejected] == ["label_depth"]


def test_stanford_cars_bad_files_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="not a Stanford Cars folder"):
        list_source(str(tmp_path), layout="stanford-cars")
    write(tmp_path / "cars_annos.mat", b"MATLAB 5.0 MAT-file, but cut short")
    with pytest.raises(SourceError, match="not a readable MATLAB v5 file"):
        list_source(str(tmp_path), layout="stanford-cars")
    scipy.io.savemat(tmp_path / "cars_annos.mat", {"class_names": CAR_NAMES.reshape(1, -1),
                                                   "annotations": _struct([{"fname": "x.jpg", "class": 1}])})
    with pytest.raises(SourceError, match=r"missing \['relative_im_path', 'test'\]"):
        list_source(str(tmp_path), layout="stanford-cars")


# --- WildlifeReID-10k and per-individual folders ------------------------------------------------------

def test_wildlife_reid_metadata_labels_individuals_by_species(tmp_path):
    write(tmp_path / "images/SeaTurtleID2022/t001/a.jpg", photo_bytes(1))
    write(tmp_path / "images/IPanda50/p07/b.jpg", photo_bytes(2))
    write(tmp_path / "metadata.csv",
          "image_id,identity,path,split,orientation,species,dataset\n"
          "0,t001,images/SeaTurtleID2022/t001/a.jpg,train,left,loggerhead turtle,SeaTurtleID2022\n"
          "1,p07,images/IPanda50/p07/b.jpg,test,,giant panda,IPanda50\n"
          "2,,images/IPanda50/p07/c.jpg,test,,giant panda,IPanda50\n"
          "3,p08,/etc/shadow.jpg,test,,giant panda,IPanda50\n")
    listing = list_source(str(tmp_path), layout="wildlife-reid")
    assert labelled(listing) == {
        "a.jpg": {"category": "animal", "subclass": "loggerhead turtle", "instance": "SeaTurtleID2022/t001",
                  "split": "train"},
        "b.jpg": {"category": "animal", "subclass": "giant panda", "instance": "IPanda50/p07", "split": "test"},
    }
    assert sorted(r.reason for r in listing.rejected) == ["bad_layout_row", "path_traversal"]


def test_wildlife_reid_metadata_needs_identity_and_path(tmp_path):
    write(tmp_path / "metadata.csv", "image_id,path\n0,a.jpg\n")
    with pytest.raises(SourceError, match=r"lacks column\(s\) \['identity'\]"):
        list_source(str(tmp_path), layout="wildlife-reid")


def test_reid_folders_one_per_individual_under_its_species(tmp_path):
    write(tmp_path / "zebra/z1/1.jpg", photo_bytes(1))
    write(tmp_path / "zebra/z2/1.jpg", photo_bytes(2))
    write(tmp_path / "z3/1.jpg", photo_bytes(3))
    listing = list_source(str(tmp_path), layout="wildlife-reid")
    assert [f.labels for f in listing.files] == [
        {"category": "animal", "subclass": "zebra", "instance": "zebra/z1"},
        {"category": "animal", "subclass": "zebra", "instance": "zebra/z2"}]
    assert [r.reason for r in listing.rejected] == ["label_depth"]


# --- parameters ---------------------------------------------------------------------------------------

def test_a_layout_sets_its_own_labels_and_split_needs_a_layout():
    assert IngestParams(source="/x", layout="cub-200-2011", split="test").split == "test"
    with pytest.raises(ValueError, match="sets the labels itself"):
        IngestParams(source="/x", layout="cub-200-2011", labels=["instance"])
    with pytest.raises(ValueError, match="give a layout with it"):
        IngestParams(source="/x", split="test")
    with pytest.raises(ValueError):
        IngestParams(source="/x", layout="imagenet")


def test_a_layout_folder_that_does_not_exist_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="wildlife-reid folder .* does not exist"):
        list_source(str(tmp_path / "nope"), layout="wildlife-reid")

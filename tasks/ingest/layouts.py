"""Public identity-labelled datasets in their published layouts → the listing ingest reads.

Each adapter reads the dataset's own metadata files (never the image bytes) and labels every image
with the three granularities the rank stage scores, plus the dataset's own split:

| layout          | category | subclass (look-alike group)              | instance                 |
|-----------------|----------|------------------------------------------|--------------------------|
| `cub-200-2011`  | bird     | last word of the species (Wren, Tern, …) | species                  |
| `stanford-cars` | car      | make (Acura, Audi, BMW, …)               | class (make model body year) |
| `wildlife-reid` | animal   | species                                  | individual               |

The look-alike groups are the ones the Finer-Personalization Rank code evaluates within: its CUB
groups are the wrens, terns and sparrows (classes 193–197, 143–147, 113–117), its cars groups makes,
its re-identification groups species. Rows the metadata cannot label (ragged lines, unknown class ids,
paths leaving the dataset folder) are refused one by one with a reason; a missing metadata file is a
SourceError naming it.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Iterable

import fsspec

from persona_lens.tasks.ingest.items import (IMAGE_SUFFIXES, FileItem, Listing, Rejection, SourceError,
                                             display_path, parse_csv)

LAYOUTS = ("cub-200-2011", "stanford-cars", "wildlife-reid")
LEVELS = ("category", "subclass", "instance", "split")

# Stanford Cars class names start with the make; these are the makes of more than one word.
_TWO_WORD_MAKES = ("AM General", "Aston Martin", "Land Rover")


def list_layout(layout: str, fs: fsspec.AbstractFileSystem, base: str, key: str,
                split: str | None = None) -> Listing:
    """List the dataset at `base` (its top folder) by its `layout`; keep only `split` if given."""
    readers: dict[str, Callable[[fsspec.AbstractFileSystem, str, Listing], None]] = {
        "cub-200-2011": _list_cub, "stanford-cars": _list_cars, "wildlife-reid": _list_reid}
    if layout not in readers:
        raise SourceError(f"unknown layout {layout!r}; known: {list(LAYOUTS)}")
    if not fs.isdir(base):
        raise SourceError(f"{layout} folder {display_path(fs, base)!r} does not exist")
    listing = Listing(layout, fs, key)
    readers[layout](fs, base.rstrip("/"), listing)
    if split is not None:
        splits = {f.labels.get("split") for f in listing.files}
        if split not in splits:
            raise SourceError(f"{layout} at {display_path(fs, base)!r} has no split {split!r}; "
                              f"it has {sorted(s for s in splits if s)}")
        listing.files = [f for f in listing.files if f.labels.get("split") == split]
    return listing


# --- CUB-200-2011 ---------------------------------------------------------------------------------

def _list_cub(fs, base: str, listing: Listing) -> None:
    """images.txt (id path), image_class_labels.txt (id class), classes.txt (class 001.Name),
    train_test_split.txt (id 1|0, optional), images/<path>. `base` may also be the folder above
    CUB_200_2011/ (the archive's top level)."""
    if not fs.exists(f"{base}/images.txt") and fs.exists(f"{base}/CUB_200_2011/images.txt"):
        base = f"{base}/CUB_200_2011"
    images = _pairs(fs, base, "images.txt", listing)
    labels = _pairs(fs, base, "image_class_labels.txt", listing)
    classes = _pairs(fs, base, "classes.txt", listing)
    splits = (_pairs(fs, base, "train_test_split.txt", listing)
              if fs.exists(f"{base}/train_test_split.txt") else {})
    for image_id, rel in images.items():
        shown = display_path(fs, f"{base}/images/{rel}")
        class_id = labels.get(image_id)
        if class_id is None or class_id not in classes:
            why = "no class in image_class_labels.txt" if class_id is None else f"class {class_id} not in classes.txt"
            listing.rejected.append(Rejection(shown, "unlabelled_image", f"image {image_id}: {why}"))
            continue
        species = classes[class_id].split(".", 1)[-1]          # "001.Black_footed_Albatross"
        split = {"1": "train", "0": "test"}.get(splits.get(image_id, ""))
        _add(fs, listing, base, f"images/{rel}", {"category": "bird", "subclass": species.rsplit("_", 1)[-1],
                                                   "instance": species, "split": split})


def _pairs(fs, base: str, name: str, listing: Listing) -> dict[str, str]:
    """A CUB metadata file's `id value` lines; a ragged or repeated line is refused, not guessed."""
    out: dict[str, str] = {}
    for number, line in enumerate(_read_text(fs, f"{base}/{name}").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        where = f"{display_path(fs, f'{base}/{name}')}:line {number}"
        if len(fields) != 2:
            listing.rejected.append(Rejection(where, "bad_layout_row",
                                              f"expected 2 fields (id value), got {len(fields)}"))
        elif fields[0] in out:
            listing.rejected.append(Rejection(where, "bad_layout_row", f"id {fields[0]} is listed twice"))
        else:
            out[fields[0]] = fields[1]
    return out


# --- Stanford Cars ---------------------------------------------------------------------------------

def _list_cars(fs, base: str, listing: Listing) -> None:
    """Three published forms: `cars_annos.mat` (all images, `car_ims/`), the devkit
    (`devkit/cars_meta.mat` + `devkit/cars_train_annos.mat` → `cars_train/`, and
    `cars_test_annos_withlabels.mat` → `cars_test/`), or class folders `train/<class>/`, `test/<class>/`."""
    if fs.exists(f"{base}/cars_annos.mat"):
        mat = _read_mat(fs, f"{base}/cars_annos.mat")
        names = _class_names(mat, "cars_annos.mat")
        for row in _records(mat, "cars_annos.mat", ("relative_im_path", "class", "test")):
            _add_car(fs, listing, base, str(row["relative_im_path"]), row["class"], names,
                     "test" if int(row["test"]) else "train")
        return
    if fs.exists(f"{base}/devkit/cars_meta.mat"):
        names = _class_names(_read_mat(fs, f"{base}/devkit/cars_meta.mat"), "devkit/cars_meta.mat")
        test = next((r for r in ("cars_test_annos_withlabels.mat", "devkit/cars_test_annos_withlabels.mat")
                     if fs.exists(f"{base}/{r}")), None)
        found = False
        for split, rel, folder in (("train", "devkit/cars_train_annos.mat", "cars_train"),
                                   ("test", test, "cars_test")):
            if rel is None or not fs.exists(f"{base}/{rel}"):
                continue
            found = True
            for row in _records(_read_mat(fs, f"{base}/{rel}"), rel, ("fname", "class")):
                _add_car(fs, listing, base, f"{folder}/{row['fname']}", row["class"], names, split)
        if not found:
            raise SourceError(f"stanford-cars devkit at {display_path(fs, base)!r} has cars_meta.mat but no "
                              "annotation file (devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat)")
        return
    folders = [s for s in ("train", "test") if fs.isdir(f"{base}/{s}")]
    if not folders:
        raise SourceError(f"{display_path(fs, base)!r} is not a Stanford Cars folder: it has neither "
                          "cars_annos.mat, devkit/cars_meta.mat, nor train/ and test/ class folders")
    for split in folders:
        for rel, dirs in _files_below(fs, f"{base}/{split}"):
            if len(dirs) != 1:
                listing.rejected.append(Rejection(display_path(fs, f"{base}/{split}/{rel}"), "label_depth",
                                                  f"expected {split}/<class name>/<image>, got {len(dirs)} folder level(s)"))
                continue
            _add(fs, listing, base, f"{split}/{rel}", _car_labels(dirs[0], split))


def _add_car(fs, listing: Listing, base: str, rel: str, class_id, names: list[str], split: str) -> None:
    try:
        index = int(class_id)
    except (TypeError, ValueError):
        index = 0
    if not 1 <= index <= len(names):
        listing.rejected.append(Rejection(display_path(fs, f"{base}/{rel}"), "unlabelled_image",
                                          f"class {class_id!r} is not one of the {len(names)} class names"))
        return
    _add(fs, listing, base, rel, _car_labels(names[index - 1], split))


def _car_labels(name: str, split: str) -> dict[str, str]:
    make = next((m for m in _TWO_WORD_MAKES if name.startswith(m + " ")), name.split(" ", 1)[0])
    return {"category": "car", "subclass": make, "instance": name, "split": split}


def _read_mat(fs, path: str) -> dict:
    # scipy reads MATLAB v5 files as arrays only (no pickles, no code); v7.3 files are HDF5. A damaged
    # file fails inside scipy's parser with whatever error the cut lands on (IndexError, MatReadError,
    # ValueError…), so every exception of the parse becomes the one SourceError.
    import scipy.io

    data = _read_bytes(fs, path)
    try:
        return scipy.io.loadmat(io.BytesIO(data), squeeze_me=True)
    except Exception as exc:  # noqa: BLE001 (see above)
        raise SourceError(f"{display_path(fs, path)!r} is not a readable MATLAB v5 file: {exc}") from exc


def _class_names(mat: dict, name: str) -> list[str]:
    if "class_names" not in mat:
        raise SourceError(f"{name} has no class_names variable; it has {sorted(k for k in mat if not k.startswith('__'))}")
    return [str(n).strip() for n in mat["class_names"].ravel()]


def _records(mat: dict, name: str, fields: tuple[str, ...]) -> Iterable[dict]:
    annotations = mat.get("annotations")
    have = () if annotations is None or annotations.dtype.names is None else annotations.dtype.names
    missing = [f for f in fields if f not in have]
    if missing:
        raise SourceError(f"{name} needs an `annotations` struct with fields {list(fields)}; missing {missing}")
    for row in annotations.ravel():
        yield {f: row[f] for f in fields}


# --- WildlifeReID-10k and per-individual folders --------------------------------------------------

def _list_reid(fs, base: str, listing: Listing) -> None:
    """WildlifeReID-10k's `metadata.csv` (identity, path; species, dataset, split when present; the
    wildlife-datasets package writes the same columns), else folders `<species>/<individual>/`."""
    if fs.exists(f"{base}/metadata.csv"):
        shown = display_path(fs, f"{base}/metadata.csv")
        header, _, rows, refused = parse_csv(_read_bytes(fs, f"{base}/metadata.csv"), shown)
        listing.rejected += refused
        missing = [c for c in ("identity", "path") if c not in header]
        if missing:
            raise SourceError(f"{shown!r} lacks column(s) {missing}; it has {header}")
        for number, row in rows:
            identity, rel = row.get("identity"), row.get("path")
            if not identity or not rel:
                listing.rejected.append(Rejection(f"{shown}:row {number}", "bad_layout_row",
                                                  "identity and path must not be empty"))
                continue
            # Identities are unique within their source dataset; the prefix keeps them unique across.
            instance = f"{row['dataset']}/{identity}" if row.get("dataset") else identity
            _add(fs, listing, base, rel, {"category": "animal", "subclass": row.get("species") or row.get("dataset"),
                                          "instance": instance, "split": row.get("split")})
        return
    for rel, dirs in _files_below(fs, base):
        if len(dirs) != 2:
            listing.rejected.append(Rejection(display_path(fs, f"{base}/{rel}"), "label_depth",
                                              f"expected <species>/<individual>/<image>, got {len(dirs)} folder level(s)"))
            continue
        _add(fs, listing, base, rel, {"category": "animal", "subclass": dirs[0],
                                      "instance": f"{dirs[0]}/{dirs[1]}", "split": None})


# --- shared ----------------------------------------------------------------------------------------

def _add(fs, listing: Listing, base: str, rel: str, labels: dict[str, str | None]) -> None:
    """One image at `rel` inside the dataset folder; a path that leaves it is refused."""
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith("/") or ".." in parts:
        listing.rejected.append(Rejection(f"{display_path(fs, base)}:{rel}", "path_traversal",
                                          f"metadata path {rel!r} leaves the dataset folder"))
        return
    path = posixpath.normpath(f"{base}/{'/'.join(parts)}")
    listing.files.append(FileItem(display_path(fs, path), path, {k: v for k, v in labels.items() if v}))


def _files_below(fs, folder: str) -> list[tuple[str, list[str]]]:
    """(path relative to `folder`, its folder levels) of every image file below `folder`, sorted."""
    out = []
    for path in sorted(fs.find(folder)):
        rel = path[len(folder) + 1:]
        name = posixpath.basename(rel)
        if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
            out.append((rel, rel.split("/")[:-1]))
    return out


def _read_bytes(fs, path: str) -> bytes:
    try:
        with fs.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError as exc:
        raise SourceError(f"{display_path(fs, path)!r} does not exist") from exc


def _read_text(fs, path: str) -> str:
    return _read_bytes(fs, path).decode("utf-8", errors="replace")

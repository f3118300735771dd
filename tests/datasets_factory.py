"""Small copies of public datasets' published layouts, for the ingest adapters (tasks/ingest/layouts.py)."""

from pathlib import Path

from tests.images_factory import photo_bytes


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def write_cub(top: Path) -> Path:
    """A CUB_200_2011 folder: three species (two wrens), four images listed, and three bad lines —
    a path leaving the folder, a ragged line, an image whose class is not in classes.txt."""
    files = {1: "001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg",
             2: "193.Bewick_Wren/Bewick_Wren_0001_184771.jpg",
             3: "194.Cactus_Wren/Cactus_Wren_0001_185552.jpg",
             4: "194.Cactus_Wren/Cactus_Wren_0002_185553.jpg"}
    for i, rel in files.items():
        write(top / "images" / rel, photo_bytes(i))
    write(top / "images.txt", "".join(f"{i} {rel}\n" for i, rel in files.items())
          + "5 ../../etc/passwd.jpg\n6 too many fields.jpg\n")
    write(top / "classes.txt", "1 001.Black_footed_Albatross\n2 193.Bewick_Wren\n3 194.Cactus_Wren\n")
    write(top / "image_class_labels.txt", "1 1\n2 2\n3 3\n4 9\n5 1\n")
    write(top / "train_test_split.txt", "1 1\n2 0\n3 1\n4 0\n5 1\n")
    return top

"""The synthetic demo dataset: `birdtui demo-data DIR`.

It writes real JPEG files in the layout of the Kaggle bird-species sets:

    DIR/train/<species>/0000.jpg ...   one folder per class
    DIR/test/0/0000.jpg ...            unlabeled test images in a single folder
    DIR/test_labels.csv                file,class for the test images
    DIR/.complete                      written last, with the parameters

Each class has its own body shape, colours and background texture. Each image
adds position, scale and rotation jitter, colour jitter, a few discs of random
colour and pixel noise. A
ResNet18 at 64 px learns it within a few CPU epochs. The files are the same
bytes for the same parameters and seed with the same numpy and Pillow versions,
because every image draws from its own generator seeded by (seed, split, class,
index).
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from birdtui.errors import DataError

COMPLETE_MARKER = ".complete"
INCOMPLETE_MARKER = ".incomplete"
TEST_LABELS = "test_labels.csv"

SPECIES = (
    "Scarlet_Tanager",
    "Golden_Oriole",
    "Lemon_Dove",
    "Jade_Sunbird",
    "Teal_Kingfisher",
    "Azure_Jay",
    "Indigo_Bunting",
    "Violet_Turaco",
    "Rose_Finch",
    "Amber_Warbler",
    "Olive_Thrush",
    "Cobalt_Wren",
    "Crimson_Rosella",
    "Saffron_Finch",
    "Emerald_Toucanet",
    "Lilac_Roller",
    "Copper_Pheasant",
    "Ivory_Gull",
    "Slate_Flycatcher",
    "Ruby_Hummingbird",
    "Cinnamon_Teal",
    "Sapphire_Heron",
    "Mossy_Nightjar",
    "Plum_Pigeon",
)

# Image kinds used to seed each image's generator, so that train and test
# images never share a random stream.
_TRAIN_SPLIT = 0
_TEST_SPLIT = 1

_SHAPES = ("ellipse", "triangle", "diamond", "star")
_TEXTURES = ("gradient", "stripes", "dots")
_JPEG_QUALITY = 90


@dataclass(frozen=True)
class DemoParameters:
    """The inputs that decide every byte of a demo dataset."""

    classes: int
    train_per_class: int
    test_count: int
    size: int
    seed: int
    numbered: bool


@dataclass(frozen=True)
class ClassStyle:
    """The shape, colours and background texture of one species."""

    body_hue: float
    accent_hue: float
    background_hue: float
    shape: str
    texture: str


def class_names(count: int, *, numbered: bool = False) -> list[str]:
    """Return the folder names of `count` classes: species names, or 0..count-1 when numbered."""
    if numbered:
        return [str(index) for index in range(count)]

    names = []
    for index in range(count):
        # Past the list, reuse names with a round number so they stay unique.
        round_number = index // len(SPECIES)
        name = SPECIES[index % len(SPECIES)]
        names.append(name if round_number == 0 else f"{name}_{round_number + 1}")
    return names


def class_style(index: int, count: int) -> ClassStyle:
    """Return the look of class `index` out of `count`, spread evenly over the colour wheel."""
    body_hue = index / count
    return ClassStyle(
        body_hue=body_hue,
        accent_hue=(body_hue + 0.35) % 1.0,
        background_hue=(body_hue + 0.55) % 1.0,
        shape=_SHAPES[index % len(_SHAPES)],
        texture=_TEXTURES[(index // len(_SHAPES)) % len(_TEXTURES)],
    )


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (round(red * 255), round(green * 255), round(blue * 255))


def _draw_background(draw: ImageDraw.ImageDraw, side: int, style: ClassStyle, rng: np.random.Generator) -> None:
    # Half the images get a background colour of no class, so that colour alone is not enough.
    hue = style.background_hue if rng.random() < 0.5 else rng.random()
    base = _rgb(hue, 0.25, 0.55 + 0.2 * rng.random())
    dark = _rgb(hue, 0.35, 0.35)
    draw.rectangle((0, 0, side, side), fill=base)

    if style.texture == "gradient":
        for row in range(0, side, 4):
            shade = row / side
            color = tuple(round(b * (1 - shade) + d * shade) for b, d in zip(base, dark))
            draw.rectangle((0, row, side, row + 4), fill=color)
    elif style.texture == "stripes":
        spacing = side // 8
        offset = int(rng.integers(0, spacing))
        for x in range(-side + offset, side, spacing):
            draw.line((x, 0, x + side, side), fill=dark, width=max(1, spacing // 3))
    else:
        spacing = side // 6
        for y in range(spacing // 2, side, spacing):
            for x in range(spacing // 2, side, spacing):
                radius = spacing // 5
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=dark)


def _draw_distractors(draw: ImageDraw.ImageDraw, side: int, rng: np.random.Generator) -> None:
    """Draw a few small discs of random colour that belong to no class."""
    for _ in range(int(rng.integers(0, 4))):
        x, y = rng.uniform(0, side, size=2)
        radius = side * rng.uniform(0.04, 0.1)
        color = _rgb(rng.random(), 0.8, rng.uniform(0.5, 1.0))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color)


def _shape_points(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    if shape == "triangle":
        corners = [(1.0, 0.0), (1.0, 2.094), (1.0, 4.189)]
    elif shape == "diamond":
        corners = [(1.0, 0.0), (0.6, 1.571), (1.0, 3.142), (0.6, 4.712)]
    else:
        corners = [(1.0 if k % 2 == 0 else 0.45, k * math.pi / 5) for k in range(10)]
    return [
        (cx + radius * scale * math.cos(theta + angle), cy + radius * scale * math.sin(theta + angle))
        for scale, theta in corners
    ]


def _draw_bird(draw: ImageDraw.ImageDraw, side: int, style: ClassStyle, rng: np.random.Generator) -> None:
    cx = side * (0.5 + rng.uniform(-0.15, 0.15))
    cy = side * (0.5 + rng.uniform(-0.15, 0.15))
    radius = side * rng.uniform(0.22, 0.34)
    angle = rng.uniform(-0.35, 0.35)
    body = _rgb(style.body_hue + rng.uniform(-0.06, 0.06), rng.uniform(0.6, 0.95), rng.uniform(0.6, 1.0))
    accent = _rgb(style.accent_hue + rng.uniform(-0.06, 0.06), 0.9, rng.uniform(0.6, 1.0))

    if style.shape == "ellipse":
        draw.ellipse((cx - radius, cy - radius * 0.65, cx + radius, cy + radius * 0.65), fill=body)
    else:
        draw.polygon(_shape_points(style.shape, cx, cy, radius, angle), fill=body)

    # The accent is the "head": a small disc on the body's edge, where the rotation puts it.
    head_x = cx + radius * 0.7 * math.cos(angle)
    head_y = cy + radius * 0.7 * math.sin(angle) - radius * 0.3
    head_radius = radius * 0.35
    draw.ellipse((head_x - head_radius, head_y - head_radius, head_x + head_radius, head_y + head_radius), fill=accent)


def render_image(style: ClassStyle, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one image of a class: background texture, distractors, body, head, then pixel noise."""
    # Drawing at twice the size and shrinking smooths the shape edges.
    side = size * 2
    image = Image.new("RGB", (side, side))
    draw = ImageDraw.Draw(image)
    _draw_background(draw, side, style, rng)
    _draw_distractors(draw, side, rng)
    _draw_bird(draw, side, style, rng)
    image = image.resize((size, size), Image.Resampling.LANCZOS)

    pixels = np.asarray(image, dtype=np.float32)
    pixels += rng.normal(0.0, 16.0, size=pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def _image_rng(seed: int, split: int, label: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, split, label, index])


def _save_jpeg(image: Image.Image, path: Path) -> None:
    image.save(path, format="JPEG", quality=_JPEG_QUALITY)


def _write_train(root: Path, params: DemoParameters, names: list[str]) -> None:
    for label, name in enumerate(names):
        folder = root / "train" / name
        folder.mkdir(parents=True, exist_ok=True)
        style = class_style(label, params.classes)
        for index in range(params.train_per_class):
            rng = _image_rng(params.seed, _TRAIN_SPLIT, label, index)
            _save_jpeg(render_image(style, params.size, rng), folder / f"{index:04d}.jpg")


def _write_test(root: Path, params: DemoParameters, names: list[str]) -> None:
    folder = root / "test" / "0"
    folder.mkdir(parents=True, exist_ok=True)
    label_picker = np.random.default_rng([params.seed, _TEST_SPLIT])
    labels = label_picker.integers(0, params.classes, size=params.test_count)

    rows = ["file,class"]
    for index, label in enumerate(labels.tolist()):
        rng = _image_rng(params.seed, _TEST_SPLIT, label, index)
        file_name = f"{index:04d}.jpg"
        _save_jpeg(render_image(class_style(label, params.classes), params.size, rng), folder / file_name)
        rows.append(f"{file_name},{names[label]}")
    (root / TEST_LABELS).write_text("\n".join(rows) + "\n", encoding="utf-8")


def _demo_error(message: str, fix: str) -> DataError:
    # The same layout as ConfigError: the cause, then the fix on its own line.
    return DataError(f"{message}\n  fix: {fix}")


def _check_parameters(params: DemoParameters) -> None:
    if params.classes < 2:
        raise _demo_error(f"demo data needs at least 2 classes, got {params.classes}", "pass --classes 2 or more")
    if params.train_per_class < 1:
        raise _demo_error(f"demo data needs at least 1 training image per class, got {params.train_per_class}", "pass --train-per-class 1 or more")
    if params.test_count < 0:
        raise _demo_error(f"demo data test image count must be 0 or more, got {params.test_count}", "pass --test 0 or more")
    if params.size < 16:
        raise _demo_error(f"demo image size must be at least 16 px, got {params.size}", "pass --size 16 or more")
    if params.seed < 0:
        raise _demo_error(f"demo data seed must be 0 or more, got {params.seed}", "pass --seed 0 or more")


def _describe(written: object) -> str:
    """Return the options that wrote a demo dataset, as demo-data flags."""
    if not isinstance(written, dict):
        return "unreadable .complete marker"
    flags = [
        f"--classes {written.get('classes')}",
        f"--train-per-class {written.get('train_per_class')}",
        f"--test {written.get('test_count')}",
        f"--size {written.get('size')}",
        f"--seed {written.get('seed')}",
    ]
    if written.get("numbered"):
        flags.append("--numbered")
    return " ".join(flags)


def _check_is_folder(root: Path) -> None:
    """Raise DataError when `root`, or a folder above it, is a file."""
    for path in (root, *root.parents):
        if path.exists() and not path.is_dir():
            what = "is a file" if path == root else f"is inside {path}, which is a file"
            raise _demo_error(f"{root} {what}, not a folder", "pass a new or empty folder to demo-data")


def _prepare_folder(root: Path, params: DemoParameters) -> bool:
    """Make `root` ready for writing; return False when it already contains this exact dataset."""
    complete = root / COMPLETE_MARKER
    if complete.is_file():
        try:
            written = json.loads(complete.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            written = None
        if written == asdict(params):
            return False
        raise _demo_error(
            f"{root} already contains a demo dataset written with other parameters ({_describe(written)})",
            "delete the folder or choose another one",
        )

    _check_is_folder(root)

    # Only a folder that an interrupted demo-data run left behind is cleared, so
    # that a mistyped path never deletes somebody's real dataset.
    if root.exists() and any(root.iterdir()):
        if not (root / INCOMPLETE_MARKER).exists():
            raise _demo_error(f"{root} is not empty and contains no demo dataset", "choose a new or empty folder for demo-data")
        for name in ("train", "test"):
            shutil.rmtree(root / name, ignore_errors=True)
        (root / TEST_LABELS).unlink(missing_ok=True)
    return True


def write_demo_dataset(
    root: str | Path,
    *,
    classes: int = 8,
    train_per_class: int = 60,
    test_count: int = 40,
    size: int = 64,
    seed: int = 0,
    numbered: bool = False,
) -> Path:
    """Write the demo dataset under `root` unless it is already complete; return `root` as a Path.

    `numbered` names the class folders 0, 1, 2 ... as the 555-species Kaggle set does.
    """
    root = Path(root)
    params = DemoParameters(classes, train_per_class, test_count, size, seed, numbered)
    _check_parameters(params)
    try:
        _write_folder(root, params)
    except OSError as error:
        where = error.filename or root
        raise _demo_error(f"cannot write the demo dataset: {where}: {error.strerror}", "check the folder's permissions and the free disk space, or choose another folder") from None
    return root


def _write_folder(root: Path, params: DemoParameters) -> None:
    if not _prepare_folder(root, params):
        return

    root.mkdir(parents=True, exist_ok=True)
    (root / INCOMPLETE_MARKER).write_text("demo-data is writing this folder\n", encoding="utf-8")
    names = class_names(params.classes, numbered=params.numbered)
    _write_train(root, params, names)
    _write_test(root, params, names)

    # The marker goes last: a folder without it is an interrupted run and is redone.
    (root / COMPLETE_MARKER).write_text(json.dumps(asdict(params), sort_keys=True) + "\n", encoding="utf-8")
    (root / INCOMPLETE_MARKER).unlink()


def _run(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    already_complete = (root / COMPLETE_MARKER).is_file()
    write_demo_dataset(
        root,
        classes=args.classes,
        train_per_class=args.train_per_class,
        test_count=args.test,
        size=args.size,
        seed=args.seed,
        numbered=args.numbered,
    )
    verb = "is already complete" if already_complete else "written"
    print(f"demo dataset {verb}: {root} ({args.classes} classes x {args.train_per_class} training images)")
    print(f"set data.root = \"{root / 'train'}\" in experiments.toml to train on it")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo-data",
        help="write a small synthetic bird dataset of JPEG files",
        description="Write a synthetic species dataset in ImageFolder layout: DIR/train/<class>/*.jpg and "
        "DIR/test/0/*.jpg. The same parameters and seed give the same files; a complete folder is left as it is.",
    )
    parser.add_argument("dir", metavar="DIR", help="folder to write; created when missing")
    parser.add_argument("--classes", type=int, default=8, metavar="N", help="number of species (default: 8)")
    parser.add_argument("--train-per-class", type=int, default=60, metavar="N", help="training images per species (default: 60)")
    parser.add_argument("--test", type=int, default=40, metavar="N", help="unlabeled test images (default: 40)")
    parser.add_argument("--size", type=int, default=64, metavar="PX", help="image side in pixels (default: 64)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed; the same seed writes the same files (default: 0)")
    parser.add_argument("--numbered", action="store_true", help="name class folders 0, 1, 2 ... instead of species names")
    parser.set_defaults(func=_run)

"""AVE, Kinetics-Sounds and VGGSound preparation and loading on generated clip folders."""

from __future__ import annotations

import csv
import errno
import json
import os
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from g2d_lite.data import MissingDatasetError, load_dataset
from g2d_lite.data.cache import WORK_DIR, BuildError
from g2d_lite.data.clips import load_ave, load_vggsound
from g2d_lite.data.prepare import avcache
from g2d_lite.data.prepare import clips as prepare
from tests.bad_inputs import refused
from tests.data_fixtures import garbage, tree_hashes, write_clip

REPO = Path(__file__).resolve().parents[1]
AVE_CLASSES = ("Bark", "Church bell", "Male speech, man speaking")
VGG_CLASSES = ("dog barking", "playing piano", "rain")


def make_ave(root: Path) -> Path:
    """AVE_Dataset/: AVE/<id>.mp4 and trainSet/valSet/testSet.txt (with header lines).

    Two train, one validation, one test clip per class, plus trouble: a garbage video, a
    listed clip with no file, a 1 s clip (too few frames) and a conflicting duplicate.
    """
    header = "Category&VideoID&Quality&StartTime&EndTime\n"
    files = {"trainSet.txt": [], "valSet.txt": [], "testSet.txt": []}
    for label, name in enumerate(AVE_CLASSES):
        for i, file in enumerate(["trainSet.txt", "trainSet.txt", "valSet.txt", "testSet.txt"]):
            video_id = f"ave{label}{i}"
            write_clip(root / "AVE" / f"{video_id}.mp4", label)
            files[file].append(f"{name}&{video_id}&good&0&10")
    garbage(root / "AVE" / "broken.mp4")
    write_clip(root / "AVE" / "short.mp4", 0, seconds=1.2)
    write_clip(root / "AVE" / "twice.mp4", 0)
    files["trainSet.txt"] += [
        "Bark&broken&good&0&10",
        "Bark&gone&good&0&10",
        "Bark&short&good&0&10",
        "Bark&twice&good&0&10",
    ]
    files["testSet.txt"].append("Church bell&twice&good&0&10")
    for file, lines in files.items():
        (root / file).write_text(header + "\n".join(lines) + "\n")
    return root


def make_kinetics_sounds(root: Path) -> Path:
    """Kinetics-style files (<id>_<start>_<end>.mp4, nested) and OGM-GE's my_*.txt lists."""
    lines = {"my_train.txt": [], "my_test.txt": []}
    for label in (0, 5, 30):
        for i, file in enumerate(["my_train.txt"] * 5 + ["my_test.txt"]):
            youtube_id = f"ks{label:02d}{i}xxxxxx"[:11]
            name = f"{youtube_id}_{i:06d}_{i + 10:06d}.mp4"
            write_clip(root / "videos" / prepare.KS_CLASSES[label] / name, label)
            lines[file].append(f"{youtube_id}_{i},10,{label}")
    lines["my_train.txt"].append("not-a-valid-line")
    for file, rows in lines.items():
        (root / file).write_text("\n".join(rows) + "\n")
    return root


def make_vggsound(root: Path) -> Path:
    """<id>_<start, 6 digits>.mp4 and vggsound.csv (with a header row)."""
    rows = ["youtube_id,start_seconds,label,split"]
    for label, name in enumerate(VGG_CLASSES):
        for i, split in enumerate(["train"] * 5 + ["test"]):
            youtube_id, start = f"vgg{label}{i}", 30 + i
            write_clip(root / "clips" / f"{youtube_id}_{start:06d}.mp4", label)
            rows.append(f"{youtube_id},{start},{name},{split}")
    (root / "vggsound.csv").write_text("\n".join(rows) + "\n")
    return root


MAKERS = {"ave": make_ave, "kinetics_sounds": make_kinetics_sounds, "vggsound": make_vggsound}


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("clips")
    return {name: make(base / name) for name, make in MAKERS.items()}


def build(dataset: str, root: Path, out: Path, *extra: str) -> int:
    argv = [
        "--dataset",
        dataset,
        "--root",
        str(root),
        "--out",
        str(out),
        "--no-progress",
        "--shard-size",
        "5",
        "--frame-size",
        "24",
        "24",
        *extra,
    ]
    return prepare.main(argv)


@pytest.fixture(scope="module")
def built(roots: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("clips-cache")
    for name, root in roots.items():
        assert build(name, root, base / name) == 0
    return {name: base / name for name in roots}


def test_ave_official_split_classes_and_reported_trouble(built: dict[str, Path]) -> None:
    meta = json.loads((built["ave"] / "meta.json").read_text())
    assert meta["class_names"] == sorted(AVE_CLASSES)
    assert meta["splits"]["official"] == {"train": 6, "validation": 3, "test": 3}
    reasons = {s["key"]: s["reason"].split(":")[0] for s in meta["skipped"]}
    assert reasons == {
        "broken": "unreadable audio",
        "gone": "missing video",
        "short": "too few frames",
        "twice": "conflicting annotations",
    }
    with open(built["ave"] / "index.csv", newline="") as f:
        index = list(csv.DictReader(f))
    labels = np.load(built["ave"] / "labels.npy")
    for row, label in zip(index, labels, strict=True):
        assert row["label"] == AVE_CLASSES[int(row["key"][3])]  # keys are ave<class><i>
        assert meta["class_names"][label] == row["label"]


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_cache_arrays_and_loader_tensors(built: dict[str, Path], name: str) -> None:
    root = built[name]
    audio, frames = np.load(root / "audio.npy"), np.load(root / "frames.npy")
    counts = np.load(root / "frame_counts.npy")
    assert audio.shape[1:] == (129, 1251) and audio.dtype == np.float16
    assert set(counts) == {3} and frames.shape == (3 * len(audio), 24, 24, 3)
    assert frames.dtype == np.uint8
    data = load_dataset(name, root=str(root), image_size=32)
    sizes = data.sizes()
    assert sizes["validation"] >= 1 and sum(sizes.values()) == len(audio)
    assert data.info.spec("audio").shape == (1, 129, 626)
    assert data.info.spec("visual").shape == (3, 3, 32, 32)
    inputs, target = data.train[0]
    assert inputs["audio"].shape == (1, 129, 626) and inputs["audio"].dtype == torch.float32
    assert inputs["visual"].shape == (3, 3, 32, 32) and target.dtype == torch.long
    assert torch.equal(data.test[0][0]["audio"], data.test[0][0]["audio"])  # centre window
    assert not data.train.deterministic and data.validation.deterministic


def test_kinetics_sounds_uses_the_31_class_list(built: dict[str, Path]) -> None:
    meta = json.loads((built["kinetics_sounds"] / "meta.json").read_text())
    assert meta["class_names"] == list(prepare.KS_CLASSES)
    assert set(np.load(built["kinetics_sounds"] / "labels.npy")) == {0, 5, 30}
    assert [s["key"] for s in meta["skipped"]] == ["my_train.txt:16"]
    assert any("carved from train" in n or "of train" in n for n in meta["notes"])


def test_rebuild_is_byte_identical(
    roots: dict[str, Path], built: dict[str, Path], tmp_path: Path
) -> None:
    extra = ("--shard-size", "4", "--workers", "2")
    assert build("vggsound", roots["vggsound"], tmp_path / "v", *extra) == 0
    assert tree_hashes(tmp_path / "v") == tree_hashes(built["vggsound"])


def test_interrupted_build_resumes(
    roots: dict[str, Path], built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = avcache.process_clips
    calls: list[int] = []

    def crash_on_third(clips, recipe, root):
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        calls.append(len(clips))
        return real(clips, recipe, root)

    monkeypatch.setattr(avcache, "process_clips", crash_on_third)
    monkeypatch.setenv("G2D_LITE_DEBUG", "1")  # the crash propagates instead of one line
    with pytest.raises(RuntimeError):
        build("vggsound", roots["vggsound"], tmp_path / "v")
    assert len(list((tmp_path / "v" / WORK_DIR).glob("shard-*"))) == 2
    calls.clear()
    monkeypatch.setattr(
        avcache,
        "process_clips",
        lambda clips, recipe, root: calls.append(len(clips)) or real(clips, recipe, root),
    )
    assert build("vggsound", roots["vggsound"], tmp_path / "v") == 0
    assert calls == [5, 3]  # 18 clips in shards of 5: two were kept, two are left
    assert tree_hashes(tmp_path / "v") == tree_hashes(built["vggsound"])


def _build_from_labels(
    root: Path, tmp_path: Path, test_class: str | None = None, extension: str = ""
) -> Path:
    """A VGGSound cache from a generic clip,label,split CSV: the sixth clip of each class is a
    test clip (every clip of ``test_class``); each clip named by its stem plus ``extension``."""
    rows = ["clip,label,split"] + [
        f"vgg{label}{i}_{30 + i:06d}{extension},{name},"
        f"{'test' if i == 5 or name == test_class else 'train'}"
        for label, name in enumerate(VGG_CLASSES)
        for i in range(6)
    ]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "vggsound"
    assert build("vggsound", root, out, "--labels", str(tmp_path / "labels.csv")) == 0
    return out


def test_generic_label_csv(roots: dict[str, Path], tmp_path: Path) -> None:
    out = _build_from_labels(roots["vggsound"], tmp_path)
    assert load_vggsound(out).sizes()["test"] == 3


def test_label_csv_may_name_clips_with_their_video_extension(
    roots: dict[str, Path], tmp_path: Path
) -> None:
    """Probe W50: ``clip00.mp4`` in the clip column was "missing video" beside clip00.mp4."""
    stems = _build_from_labels(roots["vggsound"], tmp_path / "stems")
    names = _build_from_labels(roots["vggsound"], tmp_path / "names", extension=".mp4")
    ours, theirs = tree_hashes(names), tree_hashes(stems)
    assert ours.pop("meta.json") != theirs.pop("meta.json")  # it records the CSV's digest
    assert ours == theirs
    cases = {"a.MKV": "a", "a.mp4.mp4": "a.mp4", "a.b": "a.b", ".mp4": ".mp4", "a": "a"}
    assert {name: prepare.clip_stem(name) for name in cases} == cases


def test_missing_inputs_and_cache_name_the_fix(
    roots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern = r"g2d_lite\.data\.prepare clips --dataset ave"
    with pytest.raises(MissingDatasetError, match=pattern):
        load_ave(tmp_path / "nowhere")
    assert build("ave", tmp_path / "nowhere", tmp_path / "a") == 2
    assert "pass --root" in capsys.readouterr().err
    assert build("vggsound", roots["ave"], tmp_path / "a") == 2
    assert "--annotations" in capsys.readouterr().err


def test_script_runs_as_a_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["prepare_clips.py", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO / "data_scripts" / "prepare_clips.py"), run_name="__main__")
    help_text = capsys.readouterr().out
    assert exit_.value.code == 0
    assert all(s in help_text for s in ("trainSet.txt", "my_train.txt", "vggsound.csv"))


def test_ave_duplicate_policy_first_keeps_the_first_listing(
    roots: dict[str, Path], built: dict[str, Path], tmp_path: Path
) -> None:
    assert build("ave", roots["ave"], tmp_path / "first", "--duplicates", "first") == 0
    meta = json.loads((tmp_path / "first" / "meta.json").read_text())
    dropped = json.loads((built["ave"] / "meta.json").read_text())
    assert (meta["params"]["duplicates"], dropped["params"]["duplicates"]) == ("first", "drop")
    assert meta["splits"]["official"] == {"train": 7, "validation": 3, "test": 3}
    reasons = {s["key"]: s["reason"] for s in meta["skipped"]}
    assert reasons["twice"] == (
        "duplicate listings ['Church bell/test'] ignored; kept the first, Bark/train"
    )
    with open(tmp_path / "first" / "index.csv", newline="") as f:
        assert {r["key"]: r["label"] for r in csv.DictReader(f)}["twice"] == "Bark"


def test_duplicate_listings_under_each_policy() -> None:
    rows = [
        prepare.Row("a", "x", "train", ("a",)),
        prepare.Row("a", "y", "train", ("a",)),
        prepare.Row("a", "x", "test", ("a",)),
        prepare.Row("b", "y", "test", ("b",)),
        prepare.Row("b", "y", "test", ("b",)),  # listed twice alike: one clip, nothing skipped
    ]
    videos = {"a": (Path("a.mp4"),), "b": (Path("b.mp4"),)}
    kept, skipped = prepare.clips_from_rows(rows, ["x", "y"], videos, "drop")
    assert [(c.key, c.label, c.split) for c in kept] == [("b", 1, "test")]
    assert [s.key for s in skipped] == ["a"]
    kept, skipped = prepare.clips_from_rows(rows, ["x", "y"], videos, "first")
    assert [(c.key, c.label, c.split) for c in kept] == [("a", 0, "train"), ("b", 1, "test")]
    assert "['x/test', 'y/train'] ignored" in skipped[0].reason
    with pytest.raises(BuildError, match="valid: drop, first"):
        prepare.clips_from_rows(rows, ["x", "y"], videos, "last")


def test_a_class_with_no_training_clip_is_noted(roots: dict[str, Path], tmp_path: Path) -> None:
    """Probe T57: a class only in the test split was built without a word."""
    last = VGG_CLASSES[-1]
    out = _build_from_labels(roots["vggsound"], tmp_path, test_class=last)
    notes = json.loads((out / "meta.json").read_text())["notes"]
    assert any(f"classes with no training sample: ['{last}']" in n for n in notes), notes


def test_two_different_videos_with_one_stem_are_named_not_guessed(tmp_path: Path) -> None:
    """Probe T23: of a/dog0.mp4 and b/dog0.mp4 the first in sorted order was used silently
    (and, when it was the broken one, the good one was never mentioned)."""
    write_clip(tmp_path / "a" / "dog0.mp4", 0)
    write_clip(tmp_path / "b" / "dog0.mp4", 1)
    for copy in (tmp_path / "a" / "cat0.mp4", tmp_path / "b" / "cat0.mp4"):
        copy.write_bytes((tmp_path / "a" / "dog0.mp4").read_bytes())
    videos = prepare.video_index(tmp_path)
    assert videos["cat0"] == (tmp_path / "a" / "cat0.mp4",)  # byte-identical copies count once
    rows = [prepare.Row(k, "x", "train", (k,)) for k in ("cat0", "dog0")]
    kept, skipped = prepare.clips_from_rows(rows, ["x"], videos)
    assert [c.key for c in kept] == ["cat0"]
    assert [s.key for s in skipped] == ["dog0"]
    assert skipped[0].reason.startswith("ambiguous video: 2 different files named dog0 (")
    # Probe L23: named by their common folder, so meta.json holds no absolute path
    assert "(a/dog0.mp4, b/dog0.mp4)" in skipped[0].reason
    assert str(tmp_path) not in skipped[0].reason


def test_clips_in_a_symlinked_folder_under_root_are_found(tmp_path: Path) -> None:
    """Probe F09: clips under a linked-in folder were "missing video: no file named ..."."""
    write_clip(tmp_path / "root" / "dog0.mp4", 0)
    write_clip(tmp_path / "scratch" / "cat0.mp4", 1)
    (tmp_path / "root" / "batch2").symlink_to(tmp_path / "scratch")
    (tmp_path / "scratch" / "loop").symlink_to(tmp_path / "root")  # a cycle is walked once
    videos = prepare.video_index(tmp_path / "root")
    assert videos == {
        "cat0": (tmp_path / "root" / "batch2" / "cat0.mp4",),
        "dog0": (tmp_path / "root" / "dog0.mp4",),
    }


@pytest.mark.parametrize("header", ["clip, label, split", "Clip,Label,Split"])
def test_a_labels_header_with_spaces_or_capitals_is_read(tmp_path: Path, header: str) -> None:
    """Probe F10: such headers were "must be a CSV with a header clip,label,split"."""
    (tmp_path / "labels.csv").write_text(f"{header}\ndog00, dog, train\n")
    rows, bad = prepare.csv_rows(tmp_path / "labels.csv")
    assert (rows, bad) == ([prepare.Row("dog00", "dog", "train", ("dog00",))], [])


def test_a_labels_file_without_its_header_quotes_what_it_read(tmp_path: Path) -> None:
    """Probe F10: the refusal did not say what the header was."""
    (tmp_path / "labels.csv").write_text("dog00,dog,train\n")
    with pytest.raises(BuildError, match=r"its first line is \['dog00', 'dog', 'train'\]"):
        prepare.csv_rows(tmp_path / "labels.csv")


def test_a_labels_clip_column_holding_a_path_under_root_finds_the_file(tmp_path: Path) -> None:
    """Probe F35: "vids/dog00.mp4" was "missing video: no file named vids/dog00"."""
    (tmp_path / "labels.csv").write_text("clip,label,split\nvids/dog00.mp4,dog,train\n")
    rows, _ = prepare.csv_rows(tmp_path / "labels.csv")
    videos = {"dog00": (tmp_path / "vids" / "dog00.mp4",)}
    kept, skipped = prepare.clips_from_rows(rows, ["dog"], videos)
    assert ([c.video for c in kept], skipped) == ([tmp_path / "vids" / "dog00.mp4"], [])


def test_loading_more_frames_than_every_clip_stores_is_refused(built: dict[str, Path]) -> None:
    """Probe F22: a cache of 1 frame per clip loaded with frames=3 as three copies of it."""
    with pytest.raises(ValueError, match=r"keeps 3 frame\(s\) per clip.*frames=3.*--frames-per"):
        load_vggsound(built["vggsound"], frames=4)


def test_a_soundtrack_too_short_for_a_sound_is_listed_not_looped(tmp_path: Path) -> None:
    """Probe F29: a 10 ms soundtrack was tiled 1,000 times into a 10 s buzz and cached."""
    from tests.data_fixtures import tone, write_video

    wave = tone(0, 0.01, 16000, seed=0)
    video = write_video(
        tmp_path / "dog00.mkv", 3.0, 0, fps=4, audio=(wave, 16000), audio_codec="pcm_s16le"
    )
    recipe = avcache.ClipRecipe(prepare.AUDIO, (24, 24), frames_per_clip=3)
    shard = avcache.process_clips([avcache.Clip("dog00", 0, video)], recipe, tmp_path)
    assert shard.keys == []
    assert "10.0 ms at 16000 Hz), too short" in shard.skipped[0].reason


@pytest.fixture
def without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyAV as a base install (without the `video` extra) lacks it: ``import av`` fails, and the
    modules that import it are imported afresh."""
    monkeypatch.setitem(sys.modules, "av", None)
    for name in [n for n in sys.modules if n.startswith("g2d_lite.data.")]:
        if name.endswith(("video", "avcache", "prepare.clips", "prepare.cremad")):
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize("builder", ["clips", "cremad"])
def test_a_video_builder_without_pyav_says_to_install_it(without_pyav, capsys, builder) -> None:
    from g2d_lite.data.prepare.__main__ import main as dispatch

    assert dispatch([builder, "--help"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "PyAV is not installed" in err and "pip install av" in err


def test_a_damaged_clip_cache_is_named_without_pyav(
    built: dict[str, Path], tmp_path: Path, without_pyav
) -> None:
    """Loading needs no PyAV, so a base install that is handed a damaged cache still hears what
    is damaged and how to rebuild it, not an ImportError from building that message."""
    cache = tmp_path / "ave"
    shutil.copytree(built["ave"], cache)
    labels = cache / "labels.npy"
    labels.write_bytes(labels.read_bytes()[:-8])
    with pytest.raises(MissingDatasetError) as refused:
        load_ave(cache)
    message = str(refused.value)
    assert "is damaged" in message and "labels.npy" in message
    assert "prepare clips" in message and "PyAV is not installed" in message


def _labels_file(folder: Path, rows: list[str], name: str = "labels.csv") -> Path:
    """A clip,label,split CSV of ``rows`` ("clip,label,split" lines) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(["clip,label,split", *rows]) + "\n")
    return path


def _vgg_rows(splits: dict[int, str], classes: int = 3) -> list[str]:
    """Label rows for the VGGSound fixture's clips: clip i of each class gets ``splits[i]``."""
    return [
        f"vgg{label}{i}_{30 + i:06d},{VGG_CLASSES[label]},{split}"
        for label in range(classes)
        for i, split in splits.items()
    ]


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any clip is decoded: the refusal must come from the list alone."""

    def decode(*args: object) -> None:
        raise AssertionError("a clip was decoded before the refusal")

    monkeypatch.setattr(avcache, "process_clips", decode)


def test_a_dev_split_is_the_validation_split(roots: dict[str, Path], tmp_path: Path) -> None:
    """Probe 26 AB04: rows of split "dev" were dropped as "unknown split" and validation was
    carved from train instead, exit 0."""
    labels = _labels_file(tmp_path, _vgg_rows({0: "train", 1: "train", 2: "dev", 3: "test"}))
    out = tmp_path / "vggsound"
    assert build("vggsound", roots["vggsound"], out, "--labels", str(labels)) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["splits"]["official"] == {"train": 6, "validation": 3, "test": 3}
    assert not any("validation:" in note for note in meta["notes"])  # nothing carved


def test_an_unknown_split_name_is_refused_before_decoding(
    roots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_decoding
) -> None:
    """Probe 26 AB04: a whole split under an unknown name was left out row by row, exit 0."""
    rows = _vgg_rows({0: "train", 1: "train", 2: "holdout", 3: "test"})
    labels = _labels_file(tmp_path, rows)
    status = build("vggsound", roots["vggsound"], tmp_path / "out", "--labels", str(labels))
    refused(
        capsys,
        status,
        2,
        "3 row(s) of labels.csv use split 'holdout'",
        "write train, validation or test",
    )
    assert not (tmp_path / "out").exists()


def test_a_labels_folder_is_named_as_a_folder(
    roots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Probe 26 AB15: --labels given a folder said "annotation files not found: ['vg']"."""
    status = build("vggsound", roots["vggsound"], tmp_path / "out", "--labels", str(tmp_path))
    refused(capsys, status, 2, f"--labels {tmp_path} is a folder", "as --annotations")


def test_a_validation_carve_of_no_clip_is_refused_before_decoding(
    roots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_decoding
) -> None:
    """Probe 26 AB16: 4 training clips and --val-fraction 0.1 were refused only after every
    clip was decoded, without naming --val-fraction, and left a half cache."""
    labels = _labels_file(tmp_path, _vgg_rows({0: "train", 1: "train", 5: "test"}, classes=2))
    status = build("vggsound", roots["vggsound"], tmp_path / "out", "--labels", str(labels))
    refused(
        capsys,
        status,
        2,
        "--val-fraction 0.1 of 4 training clip(s) gives no validation clip",
        "pass --val-fraction 0.13 or more",
    )
    assert not (tmp_path / "out").exists()
    assert round(0.13 * 4) == 1 and round(0.12 * 4) == 0  # the suggested fraction is the least


def test_too_few_frames_for_every_clip_names_the_option(
    roots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Probe 26 AB24: the refusal quoted the one unrelated skip (a conflicting listing) and
    never said that every clip keeps fewer frames than --frames-per-clip."""
    rows = [*_vgg_rows(dict.fromkeys(range(5), "train") | {5: "test"}), "vgg00_000030,rain,test"]
    labels = _labels_file(tmp_path, rows)
    out = tmp_path / "out"
    status = build(
        "vggsound", roots["vggsound"], out, "--labels", str(labels), "--frames-per-clip", "9"
    )
    line = refused(capsys, status, 2, "17 too few frames", "pass --frames-per-clip 4 or less")
    assert "for example vgg01_000031: too few frames: 4 kept at 1 fps, 9 needed" in line
    assert "17 clip(s) keep at most 4 frame(s) at 1 fps, fewer than --frames-per-clip 9" in line


def test_a_changed_labels_file_names_the_clips_it_added(
    roots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Probe 26 AB07: one row added to --labels was "other clips_sha256 sources (other files)"."""
    rows = _vgg_rows(dict.fromkeys(range(5), "train") | {5: "test"})
    labels = _labels_file(tmp_path, [r for r in rows if not r.startswith("vgg25")])
    out = tmp_path / "out"
    assert build("vggsound", roots["vggsound"], out, "--labels", str(labels)) == 0
    capsys.readouterr()
    labels.write_text(labels.read_text() + "vgg25_000035,rain,test\n")
    status = build("vggsound", roots["vggsound"], out, "--labels", str(labels))
    line = refused(capsys, status, 2, "labels.csv changed: 1 clip(s) added (vgg25_000035)")
    assert "clips_sha256" not in line and "--force" in line


def test_one_clip_under_two_spellings_is_one_clip_with_conflicting_listings(
    tmp_path: Path,
) -> None:
    """Probe 32 DB17, DB30: `AVE/v006.mp4,...,train` beside `v006.mp4,...,test` (or ./v006,
    an absolute path under --root, AVE/v006) built one video twice, in train and in test, with
    "skipped: 0": the path was the clip's key, not its file name."""
    root = tmp_path / "root"
    video = root / "AVE" / "v006.mp4"
    for spelling in ("AVE/v006.mp4", "./v006.mp4", str(video), "AVE/v006"):
        path = _labels_file(tmp_path, [f"{spelling},dog,train", "v006.mp4,dog,test"])
        rows, _ = prepare.csv_rows(path, root)
        assert {r.key for r in rows} == {"v006"}, spelling
        kept, skipped = prepare.clips_from_rows(rows, ["dog"], {"v006": (video,)})
        assert kept == [] and [s.reason for s in skipped] == [
            "conflicting annotations: ['dog/test', 'dog/train']"
        ]


def test_a_labels_path_outside_root_is_refused(tmp_path: Path) -> None:
    """Probe 26 AB29: an absolute path outside --root built the file of that name under --root
    and wrote the absolute path into index.csv."""
    root = tmp_path / "root"
    outside = tmp_path / "alt" / "dog01.mp4"
    inside = root / "vids" / "dog02.mp4"
    path = _labels_file(tmp_path, [f"{inside},dog,train", "dog03,dog,test"])
    rows, _ = prepare.csv_rows(path, root)
    assert [r.key for r in rows] == ["dog02", "dog03"]  # no absolute path in the cache
    path = _labels_file(tmp_path, ["dog03,dog,test", f"{outside},dog,train"])
    with pytest.raises(BuildError, match=f"labels.csv:3 names {outside}, which is not under"):
        prepare.csv_rows(path, root)


def test_a_missing_clip_that_differs_only_in_case_is_named() -> None:
    """Probe 26 AB34: "Dog01" for dog01.mp4 was "missing video: no file named Dog01"."""
    videos = {"dog01": (Path("clips/dog01.mp4"),)}
    rows = [prepare.Row("Dog01", "dog", "train", ("Dog01",))]
    _, skipped = prepare.clips_from_rows(rows, ["dog"], videos)
    assert skipped[0].reason == (
        "missing video: no file named Dog01 (dog01.mp4 differs only in case: fix the labels file)"
    )


@pytest.mark.parametrize("rows", [20, 6000])
def test_a_stray_quote_in_a_labels_file_names_its_line(tmp_path: Path, rows: int) -> None:
    """Probe 26 AB36: a quote never closed gave "field larger than field limit (a bug in
    g2d-lite?)" on a long list, and a bad line holding the rest of the file on a short one."""
    body = [f"dog{i:04d},dog,train" for i in range(rows)]
    path = _labels_file(tmp_path, ['dog01,"dog,train', *body])
    with pytest.raises(BuildError, match=r"labels.csv:2: a quote opened here is never closed"):
        prepare.csv_rows(path)


def test_a_still_image_renamed_mp4_is_named_as_one(tmp_path: Path) -> None:
    """Probe 26 AB02: a JPEG renamed fake.mp4 was "unreadable audio: the file has no audio
    stream"."""
    from PIL import Image

    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "photo.jpg")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes((tmp_path / "photo.jpg").read_bytes())
    recipe = avcache.ClipRecipe(prepare.AUDIO, (24, 24), frames_per_clip=3)
    shard = avcache.process_clips([avcache.Clip("fake", 0, fake)], recipe, tmp_path)
    assert shard.skipped[0].reason == (
        "not a video: fake.mp4 is a still image (JPEG), not a video clip; remove it or replace "
        "it with the real clip"
    )


def test_a_damaged_labels_built_cache_quotes_its_labels_option(
    roots: dict[str, Path], tmp_path: Path
) -> None:
    """Probe 26 AB17: the repair advice for a cache built with --labels was the template with
    --annotations <folder with vggsound.csv>."""
    out = _build_from_labels(roots["vggsound"], tmp_path)
    index = out / "index.csv"
    index.write_bytes(index.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(MissingDatasetError) as error:
        load_vggsound(out)
    message = str(error.value)
    assert "--root <folder of clips> --labels <path to labels.csv> --out" in message
    assert "--annotations" not in message


def test_a_full_disk_while_consolidating_is_one_line_and_resumes(
    roots: dict[str, Path],
    built: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Probe 26 AB21: a disk filling while frames.npy was written through its memory map
    ended in "Bus error" with no message, and the temporary file stayed in the cache."""

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "vggsound"
    with monkeypatch.context() as patch:
        patch.setattr(os, "posix_fallocate", full)
        status = build("vggsound", roots["vggsound"], out)
    refused(capsys, status, 2, "could not write audio.npy", "the disk may be full")
    assert not list(out.glob(".*.tmp"))
    (out / ".frames.npy.99999.tmp").write_bytes(b"\0" * 4096)  # what a SIGBUS crash leaves
    assert build("vggsound", roots["vggsound"], out) == 0
    assert "removed 1 temporary file(s) an interrupted build left" in capsys.readouterr().out
    assert tree_hashes(out) == tree_hashes(built["vggsound"])


def test_a_split_emptied_by_decoding_leaves_no_cache_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Probe 26 AB16: a split found empty after decoding left audio.npy, frames.npy and
    index.csv without a meta.json; only the resumable shards may stay."""
    root = tmp_path / "clips"
    for label, name in enumerate(("cat", "dog")):
        for i in range(3):
            write_clip(root / f"{name}{i}.mp4", label)
    garbage(root / "broken.mp4")
    rows = [f"{n}{i},{n},{'test' if i == 2 else 'train'}" for n in ("cat", "dog") for i in range(3)]
    labels = _labels_file(tmp_path, [*rows, "broken,cat,validation"])
    out = tmp_path / "out"
    status = build("vggsound", root, out, "--labels", str(labels))
    refused(capsys, status, 2, "the validation split(s) would be empty")
    assert sorted(p.name for p in out.iterdir()) == [".build"]

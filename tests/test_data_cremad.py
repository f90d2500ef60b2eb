"""CREMA-D preparation and loading on a generated release folder (WAV + FLV)."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from g2d_lite.data import MissingDatasetError, load_dataset
from g2d_lite.data.cache import WORK_DIR, BuildError
from g2d_lite.data.cremad import load_cremad
from g2d_lite.data.prepare import avcache
from g2d_lite.data.prepare import cremad as prepare
from g2d_lite.data.readers import official_frame_picks
from tests.data_fixtures import garbage, make_cremad, tree_hashes, truncate, write_cremad_csvs

REPO = Path(__file__).resolve().parents[1]
FRAME = ["--frame-size", "24", "32"]


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """18 clips of 3 actors, plus: a truncated WAV, a garbage FLV, a WAV with no video."""
    root = tmp_path_factory.mktemp("cremad") / "CREMA-D"
    keys = make_cremad(root, actors=3)
    truncate(root / "AudioWAV" / f"{keys[0]}.wav")
    garbage(root / "VideoFlash" / f"{keys[1]}.flv")
    (root / "VideoFlash" / f"{keys[2]}.flv").unlink()
    splits = write_cremad_csvs(root.parent / "splits", train=keys[:14], test=keys[14:])
    return root, splits


def build(out: Path, release: tuple[Path, Path], *extra: str) -> int:
    root, splits = release
    argv = [
        "--root",
        str(root),
        "--split-dir",
        str(splits),
        "--out",
        str(out),
        "--no-progress",
        "--shard-size",
        "4",
        *FRAME,
        *extra,
    ]
    return prepare.main(argv)


@pytest.fixture(scope="module")
def built(release: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cremad-cache") / "cremad"
    assert build(out, release) == 0
    return out


def test_cache_arrays_and_corrupt_files_reported(built: Path) -> None:
    meta = json.loads((built / "meta.json").read_text())
    assert meta["samples"] == 15
    reasons = sorted(s["reason"].split(":")[0] for s in meta["skipped"])
    assert reasons == ["missing video", "unreadable audio", "unreadable video"]
    audio = np.load(built / "audio.npy")
    counts = np.load(built / "frame_counts.npy")
    frames = np.load(built / "frames.npy")
    assert audio.shape == (15, 257, 188) and audio.dtype == np.float16
    assert frames.shape == (counts.sum(), 24, 32, 3) and frames.dtype == np.uint8
    assert set(counts) <= {2, 3}  # 1-fps frames of 2.0-2.4 s clips
    labels = np.load(built / "labels.npy")
    index = (built / "index.csv").read_text().splitlines()[1:]
    for line, label in zip(index, labels, strict=True):
        key = line.split(",")[1]
        assert prepare.EMOTIONS.index(key.split("_")[2]) == label  # NEU..ANG -> 0..5


def test_paper_and_stratified_splits(built: Path) -> None:
    meta = json.loads((built / "meta.json").read_text())
    assert meta["split_schemes"] == ["paper", "stratified"]
    paper = meta["splits"]["paper"]
    assert paper["validation"] >= 1 and paper["train"] + paper["validation"] == 11
    assert paper["test"] == 4  # keys[14:], all readable
    assert any("not in the cache" in note for note in meta["notes"])
    for scheme in ("paper", "stratified"):
        rows = [
            set(np.load(built / "splits" / f"{scheme}_{s}.npy"))
            for s in ("train", "validation", "test")
        ]
        assert all(rows) and not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])


def test_loader_gives_the_paper_tensors(built: Path) -> None:
    data = load_dataset("cremad", root=str(built))
    assert data.info.class_names == prepare.CLASS_NAMES
    assert data.info.spec("audio").shape == (1, 257, 188)
    assert data.info.spec("visual").shape == (3, 1, 224, 224)
    assert not data.train.deterministic and data.test.deterministic
    inputs, target = data.train[0]
    assert inputs["audio"].dtype == torch.float32 and inputs["audio"].shape == (1, 257, 188)
    assert inputs["visual"].shape == (3, 1, 224, 224) and target.dtype == torch.long
    first, again = data.test[1][0]["visual"], data.test[1][0]["visual"]
    assert torch.equal(first, again)  # evaluation: Resize only
    two = load_cremad(built, "stratified", frames=2, image_size=64)
    assert two.validation[0][0]["visual"].shape == (3, 2, 64, 64)
    assert torch.equal(
        two.test.targets,
        torch.as_tensor(np.load(built / "labels.npy"))[
            np.load(built / "splits" / "stratified_test.npy")
        ],
    )


def test_official_frame_choice_is_reproduced() -> None:
    counts = np.array([3, 5, 3])
    picks = official_frame_picks(counts, 1)
    for clip, count in enumerate(counts):
        np.random.seed(999)
        official = np.random.choice(count, size=1, replace=False)
        assert picks[clip, 0] == counts[:clip].sum() + official[0]


def test_rebuild_is_byte_identical(built: Path, release: tuple[Path, Path], tmp_path: Path) -> None:
    assert build(tmp_path / "cremad", release, "--shard-size", "7") == 0
    assert tree_hashes(tmp_path / "cremad") == tree_hashes(built)


def test_interrupted_build_resumes(
    built: Path, release: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = avcache.process_clips
    calls: list[list[str]] = []

    def crash_after_two(clips, recipe, root):
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        calls.append([c.key for c in clips])
        return real(clips, recipe, root)

    monkeypatch.setattr(avcache, "process_clips", crash_after_two)
    monkeypatch.setenv("G2D_LITE_DEBUG", "1")  # the crash propagates instead of one line
    out = tmp_path / "cremad"
    with pytest.raises(RuntimeError, match="simulated crash"):
        build(out, release)
    done = [key for shard in calls for key in shard]
    assert len(list((out / WORK_DIR).glob("shard-*"))) == 2
    with pytest.raises(MissingDatasetError, match="interrupted build"):
        load_cremad(out)

    calls.clear()
    monkeypatch.setattr(
        avcache,
        "process_clips",
        lambda clips, recipe, root: (
            calls.append([c.key for c in clips]) or real(clips, recipe, root)
        ),
    )
    assert build(out, release) == 0
    redone = {key for shard in calls for key in shard}
    assert len(calls) == 3 and not redone & set(done)  # 5 shards of 4 (17 clips), 2 kept
    assert tree_hashes(out) == tree_hashes(built)


def test_without_split_dir_only_stratified(release: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "cremad"
    argv = ["--root", str(release[0]), "--out", str(out), "--no-progress", *FRAME]
    assert prepare.main(argv) == 0
    assert len(load_cremad(out, "stratified").train) > 0
    with pytest.raises(ValueError, match="--split-dir"):
        load_cremad(out, "paper")


def test_the_paper_split_is_added_by_the_command_the_loader_prints(
    release: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Probe 30 BB20: the loader said to rebuild with --split-dir, and that command was refused
    as "built from other sources (train.csv, test.csv changed ...)": the cache had no lists."""
    out = tmp_path / "cremad"
    argv = ["--root", str(release[0]), "--out", str(out), "--no-progress", *FRAME]
    assert prepare.main(argv) == 0
    with pytest.raises(ValueError, match="no paper split|unknown split 'paper'") as error:
        load_cremad(out, "paper")
    command = str(error.value).split("The command: ")[1]
    assert command.endswith(f"--out {out} --frame-size 24 32 --force"), command
    capsys.readouterr()
    assert prepare.main([*argv, "--split-dir", str(release[1])]) == 2
    assert "was built without --split-dir, so it has no paper split" in capsys.readouterr().err
    assert prepare.main([*argv, "--split-dir", str(release[1]), "--force"]) == 0
    assert len(load_cremad(out, "paper").test) > 0


def test_missing_inputs_and_cache_name_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(MissingDatasetError, match=r"g2d_lite\.data\.prepare cremad --root"):
        load_cremad(tmp_path / "nowhere")
    assert prepare.main(["--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")]) == 2
    assert "pass --root" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    code = prepare.main(
        [
            "--root",
            str(tmp_path / "empty"),
            "--split-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "c"),
        ]
    )
    assert code == 2 and "train.csv and test.csv" in capsys.readouterr().err


def test_script_runs_as_a_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["prepare_cremad.py", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO / "data_scripts" / "prepare_cremad.py"), run_name="__main__")
    assert exit_.value.code == 0 and "train.csv" in capsys.readouterr().out


def test_a_videoflash_of_mp4_copies_is_named_not_called_missing(
    release: tuple[Path, Path], tmp_path: Path
) -> None:
    """Probe 26 AB31: VideoFlash/ holding the clips re-encoded as .mp4 gave "missing video ...
    check that `git lfs pull` fetched them"."""
    root = tmp_path / "crema"
    shutil.copytree(release[0] / "AudioWAV", root / "AudioWAV")
    (root / "VideoFlash").mkdir()
    keys = sorted(p.stem for p in (release[0] / "VideoFlash").glob("*.flv"))
    for key in keys:
        shutil.copy(release[0] / "VideoFlash" / f"{key}.flv", root / "VideoFlash" / f"{key}.mp4")
    with pytest.raises(BuildError, match=r"holds \d+ \.mp4 file\(s\) and no \.flv: this build"):
        prepare.list_clips(root)
    shutil.copy(release[0] / "VideoFlash" / f"{keys[1]}.flv", root / "VideoFlash")
    _, skipped = prepare.list_clips(root)
    reason = next(s.reason for s in skipped if s.key == keys[0])
    assert f"(VideoFlash/{keys[0]}.mp4 is there: this build reads the release's .flv" in reason

"""Data cannot be silently wrong: damaged caches, mismatched files, bad labels and dtypes,
truncated or missing media, empty builds, all named in one line with the fix."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from g2d_lite.data import MissingDatasetError, load_dataset
from g2d_lite.data.avmnist import load_avmnist
from g2d_lite.data.base import SPLITS, DatasetInfo, ModalitySpec, TensorMultimodalDataset
from g2d_lite.data.cache import BuildError
from g2d_lite.data.cremad import load_cremad
from g2d_lite.data.prepare import avmnist as prepare_avmnist
from g2d_lite.data.prepare import cremad as prepare_cremad
from g2d_lite.data.validate import DatasetError
from tests.bad_inputs import refused, tree_bytes
from tests.data_fixtures import (
    idx_bytes,
    make_cremad,
    make_fsdd,
    make_mnist,
    write_cremad_csvs,
    write_video,
)

COMMAND = "python -m g2d_lite.data.prepare avmnist"
LFS = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 132489\n"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    return make_mnist(folder / "mnist"), make_fsdd(folder / "fsdd" / "recordings", takes=2)


def build(out: Path, mnist: Path, fsdd: Path, *extra: str) -> int:
    argv = ["--mnist-dir", str(mnist), "--fsdd-dir", str(fsdd), "--out", str(out), "--no-progress"]
    shards = [] if "--shard-size" in extra else ["--shard-size", "50"]  # an option goes in once
    return prepare_avmnist.main([*argv, *shards, *extra])


@pytest.fixture(scope="module")
def pristine(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "avmnist"
    assert build(out, *sources) == 0
    return out


@pytest.fixture
def cache(pristine, tmp_path):
    copy = tmp_path / "avmnist"
    shutil.copytree(pristine, copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: p.unlink(), "audio/validation_data.npy is missing"),
        (
            lambda p: p.write_bytes(p.read_bytes()[:1000]),
            "audio/validation_data.npy has 1,000 bytes",
        ),
        (lambda p: p.write_bytes(p.read_bytes() + b"\0" * 64), "audio/validation_data.npy has"),
    ],
    ids=["deleted", "truncated", "grown"],
)
def test_a_damaged_cache_is_named_and_rebuilt_by_the_command_it_suggests(
    sources, pristine, cache, capsys, damage, needle
):
    damage(cache / "audio" / "validation_data.npy")
    with pytest.raises(MissingDatasetError, match="damaged") as error:
        load_avmnist(cache)
    assert needle in str(error.value) and COMMAND in str(error.value)
    assert build(cache, *sources) == 0
    out = capsys.readouterr().out
    assert "rebuilt" in out and "nothing to do" not in out
    assert tree_bytes(cache) == tree_bytes(pristine)
    load_avmnist(cache)


def test_verify_finds_a_changed_byte_that_sizes_miss(sources, pristine, cache, capsys):
    path = cache / "image" / "train_data.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert build(cache, *sources) == 0
    assert "nothing to do" in capsys.readouterr().out  # sizes agree
    assert build(cache, *sources, "--verify") == 0
    assert "does not match its SHA-256" in capsys.readouterr().out
    assert tree_bytes(cache) == tree_bytes(pristine)


def test_a_same_size_file_from_another_build_is_refused_when_loaded(
    sources, pristine, cache, capsys
):
    """Probe R37: test_labels.npy swapped for another build's (same size), or a flipped byte in
    a shard, was trained on without a word (test accuracy 11.5 % instead of 64 %)."""
    path = cache / "image" / "train_data.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MissingDatasetError, match="does not match its SHA-256") as error:
        load_avmnist(cache)
    assert "plus --verify" in str(error.value) and COMMAND in str(error.value)
    # probe 30 BB09: the printed command lacked --verify, and pasted it found nothing to do
    first = str(error.value).split(f"{COMMAND} ", 1)[1].split(" (or:")[0]
    assert first.endswith(" --verify"), first
    assert build(cache, *sources, "--verify") == 0
    assert "rebuilt" in capsys.readouterr().out
    assert tree_bytes(cache) == tree_bytes(pristine)
    load_avmnist(cache)


def test_a_broken_meta_json_is_named(cache):
    (cache / "meta.json").write_text("{ half")
    with pytest.raises(BuildError, match="meta.json is not a g2d-lite cache manifest.*or new"):
        load_avmnist(cache)


def _without_meta(cache: Path) -> Path:
    """MultiBench's layout: no meta.json to check sizes against, none of the kit's own files."""
    (cache / "meta.json").unlink()
    shutil.rmtree(cache / "pairing")
    (cache / "recordings.txt").unlink()
    return cache


def test_row_counts_that_disagree_are_refused(cache):
    labels = np.load(cache / "validation_labels.npy")
    np.save(cache / "validation_labels.npy", labels[:10])
    with pytest.raises(
        DatasetError, match=r"row counts disagree.*validation_labels.npy has 10"
    ) as e:
        load_avmnist(_without_meta(cache))
    # probe 31 CB38: the fix was a build into the folder, which refuses a folder it did not make
    assert "was not built by the kit (no meta.json: MultiBench's release?)" in str(e.value)
    assert "--out <new folder>" in str(e.value) and f"--out {cache}" not in str(e.value)


def test_labels_out_of_range_are_refused(cache):
    labels = np.load(cache / "train_labels.npy")
    labels[3] = 12
    np.save(cache / "train_labels.npy", labels)
    with pytest.raises(DatasetError, match=r"train_labels.npy: label 12 is outside 0..9"):
        load_avmnist(_without_meta(cache))


def test_inputs_of_the_wrong_dtype_are_refused(cache):
    image = np.load(cache / "image" / "test_data.npy")
    np.save(cache / "image" / "test_data.npy", image.astype(np.float64) / 255)
    with pytest.raises(DatasetError, match=r"image/test_data.npy holds float64.*uint8"):
        load_avmnist(_without_meta(cache))


@pytest.mark.parametrize(
    ("options", "error", "needle"),
    [
        ({"in_memory": "no"}, TypeError, "in_memory is True, False or None"),
        ({"in_memory": 1}, TypeError, "in_memory is True, False or None"),
        ({"audio_pool": True}, ValueError, "audio_pool must be a whole number"),
        ({"audio_pool": 2.0}, ValueError, "audio_pool must be a whole number"),
    ],
    ids=["in-memory-text", "in-memory-int", "pool-bool", "pool-float"],
)
def test_loader_options_of_the_wrong_type_are_refused(cache, options, error, needle):
    """Probe T41, T42: the string "no" loaded the splits into memory; audio_pool=True meant no
    pooling while config.json recorded true."""
    with pytest.raises(error, match=needle):
        load_dataset("avmnist", root=str(cache), **options)


def test_unknown_loader_options_list_the_valid_ones(cache):
    with pytest.raises(
        ValueError, match=r"unknown avmnist option\(s\) \['audio_nrm'\].*audio_norm"
    ):
        load_dataset("avmnist", str(cache), audio_nrm="utterance")


INFO = DatasetInfo("toy", (ModalitySpec("x", (2,), "vector"),), "classification", ("a", "b"))


@pytest.mark.parametrize(
    ("inputs", "targets", "needle"),
    [
        (torch.zeros(4, 2), torch.zeros(3, dtype=torch.long), "row counts disagree"),
        (torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.long), "float64"),
        (torch.full((4, 2), float("nan")), torch.zeros(4, dtype=torch.long), "8 NaN or infinite"),
        (torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]), "label 2 is outside 0..1"),
        (torch.zeros(4, 2), torch.tensor([0, -1, 1, 0]), "label -1 is outside"),
        (torch.zeros(4, 2), torch.zeros(4), "targets must be torch.int64"),
        (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), "sample shape (3,)"),
    ],
    ids=["rows", "dtype", "nan", "label-high", "label-negative", "target-dtype", "shape"],
)
def test_in_memory_datasets_are_checked_where_they_are_made(inputs, targets, needle):
    with pytest.raises(DatasetError, match="toy/train") as error:
        TensorMultimodalDataset(INFO, "train", {"x": inputs}, targets)
    assert needle in str(error.value)


def test_a_truncated_wav_is_listed_not_used(sources, tmp_path, capsys):
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    wav = folder / "3_george_0.wav"
    wav.write_bytes(wav.read_bytes()[:-1500])  # the header still promises every frame
    assert build(tmp_path / "cache", mnist, folder) == 0
    assert "3_george_0.wav: unreadable audio: ValueError: truncated WAV" in capsys.readouterr().out
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert [s["key"] for s in meta["skipped"]] == ["3_george_0.wav"]


def test_a_recording_too_short_for_a_word_is_listed_not_used(sources, tmp_path, capsys):
    """Probe T34: WAVs of 1 and 10 samples went into the cache as spoken digits."""
    import soundfile

    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    wave, rate = soundfile.read(folder / "5_george_0.wav", dtype="int16")
    soundfile.write(folder / "5_george_0.wav", wave[100:101], rate, subtype="PCM_16")
    soundfile.write(folder / "5_george_1.wav", wave[100:110], rate, subtype="PCM_16")
    assert build(tmp_path / "cache", mnist, folder) == 0
    out = capsys.readouterr().out
    assert "5_george_0.wav: unreadable audio: ValueError: the file holds 1 samples" in out
    assert "too short to hold a spoken word" in out
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert [s["key"] for s in meta["skipped"]] == ["5_george_0.wav", "5_george_1.wav"]


def test_an_interrupted_build_resumed_with_other_options_names_them(
    sources, tmp_path, monkeypatch, capsys
):
    """Probe T35: the refusal said "other settings" without saying which."""
    real = prepare_avmnist.spectrogram_shard
    calls: list[int] = []

    def crash_after_one(samples, plan):
        if calls:
            raise RuntimeError("simulated crash")
        calls.append(1)
        return real(samples, plan)

    monkeypatch.setattr(prepare_avmnist, "spectrogram_shard", crash_after_one)
    monkeypatch.setenv("G2D_LITE_DEBUG", "1")
    out = tmp_path / "avmnist"
    with pytest.raises(RuntimeError, match="simulated crash"):
        build(out, *sources)
    monkeypatch.setattr(prepare_avmnist, "spectrogram_shard", real)
    monkeypatch.delenv("G2D_LITE_DEBUG")
    before = tree_bytes(out)
    status = build(out, *sources, "--snr-db", "5")
    refused(capsys, status, 2, "interrupted build with other settings", "snr_db", "--force")
    assert tree_bytes(out) == before


def test_skip_reasons_hold_no_memory_address_so_rebuilds_are_identical(sources, tmp_path):
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    (folder / "5_lucas_1.wav").write_bytes(os.urandom(3000))
    assert build(tmp_path / "a", mnist, folder) == 0
    assert build(tmp_path / "b", mnist, folder) == 0
    text = (tmp_path / "a" / "meta.json").read_text()
    assert "unreadable audio" in text and " at 0x" not in text
    assert text == (tmp_path / "b" / "meta.json").read_text()


def test_lfs_pointer_recordings_are_named_and_no_cache_is_written(sources, tmp_path, capsys):
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    folder.mkdir()
    for wav in fsdd.glob("*.wav"):
        (folder / wav.name).write_bytes(LFS)
    refused(
        capsys, build(tmp_path / "cache", mnist, folder), 2, "no usable samples", "git lfs pull"
    )
    assert not (tmp_path / "cache").exists()


def test_an_lfs_pointer_mnist_file_is_named(sources, tmp_path, capsys):
    mnist, fsdd = sources
    folder = tmp_path / "mnist"
    shutil.copytree(mnist, folder)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(LFS)
    refused(capsys, build(tmp_path / "cache", folder, fsdd), 2, "t10k-images", "git lfs pull")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("cremad") / "CREMA-D"
    keys = make_cremad(root, actors=2)
    return root, write_cremad_csvs(root.parent / "splits", keys[:9], keys[9:])


def build_cremad(root: Path, out: Path, *extra: str) -> int:
    argv = ["--root", str(root), "--out", str(out), "--no-progress", "--frame-size", "24", "32"]
    return prepare_cremad.main([*argv, *extra])


def test_a_cremad_clone_without_lfs_media_writes_nothing(release, tmp_path, capsys):
    root = tmp_path / "CREMA-D"
    shutil.copytree(release[0], root)
    for path in [*root.glob("AudioWAV/*"), *root.glob("VideoFlash/*")]:
        path.write_bytes(LFS)
    out = tmp_path / "cache"
    line = refused(capsys, build_cremad(root, out), 2, "no usable samples", "all 12 inputs")
    assert "Git LFS pointer" in line and "git lfs pull" in line
    assert not out.exists() or not any(out.iterdir())
    with pytest.raises(MissingDatasetError):
        load_cremad(out, split="stratified")


def test_a_cache_that_lost_its_meta_json_is_rebuilt_by_the_command_it_names(
    release, tmp_path, capsys
):
    """Probe 30 BB29: with meta.json deleted, the loader said "no prepared cache" and its build
    command (with or without --force) was refused as someone else's folder: a dead end."""
    out = tmp_path / "cache"
    assert build_cremad(release[0], out) == 0
    pristine = tree_bytes(out)
    (out / "meta.json").unlink()
    with pytest.raises(MissingDatasetError, match="meta.json is missing") as error:
        load_cremad(out, split="stratified")
    assert "rebuild it by rerunning the command that built it" in str(error.value)
    assert build_cremad(release[0], out) == 0
    assert tree_bytes(out) == pristine
    (out / "notes.txt").write_text("mine")  # a file the kit never writes: not its folder
    (out / "meta.json").unlink()
    refused(capsys, build_cremad(release[0], out, "--force"), 2, "holds no g2d-lite cache")


def test_an_empty_split_is_refused_unless_asked(release, tmp_path, capsys):
    out = tmp_path / "cache"
    status = build_cremad(release[0], out, "--val-fraction", "0")
    refused(capsys, status, 2, "validation split(s) would be empty", "--allow-empty")
    assert not (out / "meta.json").exists()
    assert build_cremad(release[0], out, "--val-fraction", "0", "--allow-empty") == 0
    with pytest.raises(DatasetError, match="validation split"):
        load_cremad(out, split="stratified")


def test_split_csvs_that_leak_or_match_no_clip_are_refused_before_a_build(
    release, tmp_path, capsys
):
    """Probe V36 (a clip in both lists was built into train and test), V35 (lists naming no
    clip were told to --allow-empty)."""
    root, splits = release
    keys = sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))
    leaky = write_cremad_csvs(tmp_path / "leaky", keys, keys[:3])
    status = build_cremad(root, tmp_path / "a", "--split-dir", str(leaky))
    refused(capsys, status, 2, "3 clips are listed in both", keys[0], "would hold training clips")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "train.csv").write_text("a,b\n1,2\n")
    shutil.copy(splits / "test.csv", tmp_path / "other" / "test.csv")
    status = build_cremad(root, tmp_path / "b", "--split-dir", str(tmp_path / "other"))
    refused(capsys, status, 2, "train.csv names none of the", "its first row is 'a'")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("umask", [0o002, 0o022])
def test_cache_files_respect_the_umask(sources, tmp_path, umask):
    old = os.umask(umask)
    try:
        assert build(tmp_path / "cache", *sources) == 0
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files and {p.stat().st_mode & 0o777 for p in files} == {0o666 & ~umask}


def test_teachers_from_another_audio_norm_are_refused(pristine, tmp_path, capsys):
    from g2d_lite.cli import main

    small = ["epochs=1", "batch_size=32", "progress=False", "encoder=mlp", "dataset=avmnist"]
    small.append(f"data_root={pristine}")
    teachers = tmp_path / "teachers"
    none = "data_options={'audio_pool': 4, 'audio_norm': 'none'}"
    assert main(["teacher", "--out", str(teachers), *small, none]) == 0
    capsys.readouterr()
    utterance = "data_options={'audio_pool': 4, 'audio_norm': 'utterance'}"
    argv = ["student", "--teachers", str(teachers), "--out", str(tmp_path / "s"), *small]
    line = refused(capsys, main([*argv, utterance]), 2, "option audio_norm 'none' vs 'utterance'")
    assert "--allow-teacher-data-mismatch" in line


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["--snr-db", "nan"], "--snr-db: must be a number of dB or inf"),
        (["--snr-db=-inf"], "--snr-db: must be a number of dB or inf"),
        (["--subset", "0"], "--subset: must be in (0, 1]"),
        (["--subset", "7"], "--subset: must be in (0, 1]"),
        (["--image-energy", "-1"], "--image-energy: must be in (0, 1]"),
        (["--val-fraction", "1.5"], "--val-fraction: must be in [0, 1)"),
        (["--seed=-1"], "--seed: must be at least 0"),
        (["--shard-size", "0"], "--shard-size: must be at least 1"),
        (["--shard-size", "1.5"], "--shard-size: must be a whole number, got '1.5'"),  # T47
        (["--seed", "1e3"], "--seed: must be a whole number, got '1e3'"),
        (["--test-speakers", "george,jackson,lucas,theo,yweweler"], "no speaker is left"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_build_options_out_of_range_are_refused(sources, tmp_path, capsys, option, needle):
    with pytest.raises(SystemExit) as stop:
        status = build(tmp_path / "cache", *sources, *option)
        raise SystemExit(status)
    refused(capsys, stop.value.code, 2, needle)
    assert not (tmp_path / "cache").exists()


def test_a_build_never_writes_over_files_it_did_not_make(sources, tmp_path, capsys):
    other = tmp_path / "someone-else"
    (other / "audio").mkdir(parents=True)
    np.save(other / "train_labels.npy", np.arange(5))
    before = tree_bytes(other)
    refused(capsys, build(other, *sources), 2, "holds no g2d-lite cache")
    assert tree_bytes(other) == before
    target = tmp_path / "a-file"
    target.write_text("x")
    refused(capsys, build(target, *sources), 2, "is a file")


def test_a_cache_whose_folder_was_replaced_by_a_file_is_rebuilt(sources, pristine, cache, capsys):
    shutil.rmtree(cache / "audio")
    (cache / "audio").write_text("not a folder")
    assert build(cache, *sources) == 0
    assert tree_bytes(cache) == tree_bytes(pristine)


def test_a_second_build_into_the_same_folder_is_refused(sources, tmp_path, capsys):
    from g2d_lite.locks import locked

    out = tmp_path / "cache"
    out.mkdir()
    with locked(out):
        refused(capsys, build(out, *sources), 2, "is being written by pid")


def test_a_file_given_for_a_source_folder_names_its_folder(sources, tmp_path, capsys):
    """Probe D1/D2: a file given for --mnist-dir or --fsdd-dir was called "folder not found"."""
    mnist, fsdd = sources
    image_file = next(mnist.glob("*.gz"))
    refused(capsys, build(tmp_path / "c", image_file, fsdd), 2, "is a file", str(mnist))
    wav = next(fsdd.glob("*.wav"))
    refused(capsys, build(tmp_path / "c", mnist, wav), 2, "is a file", str(fsdd))
    assert not (tmp_path / "c").exists()


def test_a_subset_that_keeps_no_sample_is_refused_before_anything_is_written(
    sources, tmp_path, capsys
):
    """Probe D4: --subset 1e-9 ended in a NumPy reshape error and left .build/ behind."""
    refused(capsys, build(tmp_path / "c", *sources, "--subset", "1e-9"), 2, "--subset", "empty")
    assert not (tmp_path / "c").exists()


def test_a_kit_cache_that_lost_its_meta_json_is_not_read_unchecked(sources, pristine, cache):
    """Probe B54: without meta.json a kit build loaded as MultiBench's layout, even zeroed."""
    (cache / "meta.json").unlink()
    np.save(
        cache / "audio" / "train_data.npy",
        np.zeros_like(np.load(pristine / "audio" / "train_data.npy")),
    )
    with pytest.raises(MissingDatasetError, match="meta.json is missing") as error:
        load_avmnist(cache)
    assert COMMAND in str(error.value)
    assert build(cache, *sources) == 0  # the suggested command rebuilds it in place
    assert tree_bytes(cache) == tree_bytes(pristine)


def test_expect_with_local_sources_is_refused_not_ignored(sources, tmp_path, capsys):
    """Probe B62: --expect was silently ignored without --download."""
    status = build(tmp_path / "c", *sources, "--expect", "t10k-images-idx3-ubyte.gz=deadbeef")
    refused(capsys, status, 2, "--expect", "--download")


def test_loading_a_cache_that_is_being_built_names_the_builder(pristine):
    """Probe B111: a live build was called "interrupted: rerun to resume" (the rerun is refused)."""
    from g2d_lite.locks import locked

    with locked(pristine), pytest.raises(MissingDatasetError, match="being built by pid"):
        load_avmnist(pristine)


def test_mnist_images_and_labels_that_do_not_pair_are_refused(sources, tmp_path, capsys):
    """Probe P47/P47b: 5,000 labels for 10,000 images built a half-size cache, silently; more
    labels than images ended in an IndexError."""
    import gzip

    from tests.data_fixtures import idx_bytes

    mnist, fsdd = sources
    for count, name in ((50, "fewer"), (400, "more")):
        folder = tmp_path / name
        shutil.copytree(mnist, folder)
        labels = np.resize(np.arange(10, dtype=np.uint8), count)
        (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
        status = build(tmp_path / f"cache-{name}", folder, fsdd)
        refused(capsys, status, 2, "200 images but", f"{count} labels", "do not belong together")
        assert not (tmp_path / f"cache-{name}").exists()


def test_a_rebuild_with_other_settings_names_them(sources, pristine, cache, capsys):
    """Probe P44: "built with other settings or sources" without saying which."""
    refused(capsys, build(cache, *sources, "--seed", "3"), 2, "seed 0 vs 3", "--force")


@pytest.mark.parametrize(
    ("option", "needles"),
    [
        (["--test-speakers", "nobody"], ["--test-speakers names nobody", "george"]),
        (["--test-speakers", ""], ["--test-speakers is empty", "george"]),
        (["--download-dir", "/tmp/somewhere"], ["--download-dir", "only apply with --download"]),
        (["--download"], ["--download and --mnist-dir and --fsdd-dir", "not both"]),
        (
            ["--test-speakers", "nicolas"],
            ["nicolas would be in the test and the validation split", "theo,yweweler and nicolas"],
        ),
    ],
    ids=[
        "unknown-speaker",
        "no-test-speaker",
        "download-dir-alone",
        "download-and-local",
        "overlap-with-default",
    ],
)
def test_source_and_speaker_options_that_cannot_work(sources, tmp_path, capsys, option, needles):
    """Probe P46, P49, P50, P51; T26 (the overlap named neither the speaker nor the default)."""
    refused(capsys, build(tmp_path / "c", *sources, *option), 2, *needles)
    assert not (tmp_path / "c").exists()


def test_verify_of_a_read_only_cache_checks_it_without_a_lock(pristine, tmp_path, capsys):
    """Probe P55c: --verify needed write access for its lock."""
    import subprocess

    copy = tmp_path / "ro"
    shutil.copytree(pristine, copy)
    done = subprocess.run(["mount", "--bind", str(copy), str(copy)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(copy)], check=True)
        status = prepare_avmnist.main(["--out", str(copy), "--verify", "--no-progress"])
        assert status == 0, capsys.readouterr().err
        assert "match their SHA-256" in capsys.readouterr().out
    finally:
        subprocess.run(["umount", "-l", str(copy)], capture_output=True)


def test_a_cremad_folder_with_no_media_says_so(tmp_path, capsys):
    """Probe P59: "see the skipped list: []"."""
    root = tmp_path / "CREMA-D"
    (root / "AudioWAV").mkdir(parents=True)
    (root / "VideoFlash").mkdir()
    refused(capsys, build_cremad(root, tmp_path / "cache"), 2, "no media files found", "--root")


def test_a_meta_json_that_is_a_folder_is_named(sources, cache, capsys):
    """Probe Q57: the suggested rebuild failed naming a temporary file."""
    (cache / "meta.json").unlink()
    (cache / "meta.json").mkdir()
    with pytest.raises(BuildError, match="meta.json is a folder"):
        load_avmnist(cache)
    refused(capsys, build(cache, *sources), 2, "meta.json is a folder", "move that folder away")


# ---------------------------------------------------------------- the seventh probe's cases
def test_a_data_root_that_is_not_this_dataset_s_cache_says_what_it_is(
    pristine, release, tmp_path, capsys
):
    """Probes S12 (a folder inside the cache), S13 (a run folder), S14 and S65 (another
    dataset's cache): each got "build a cache here", or a bare KeyError."""
    with pytest.raises(MissingDatasetError, match=f"inside the avmnist cache at {pristine}"):
        load_avmnist(pristine / "audio")
    with pytest.raises(MissingDatasetError, match="holds a prepared avmnist cache, not a cremad"):
        load_cremad(pristine)
    cremad = tmp_path / "cremad"
    assert build_cremad(release[0], cremad) == 0
    with pytest.raises(MissingDatasetError, match="holds a prepared cremad cache, not a avmnist"):
        load_avmnist(cremad)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    with pytest.raises(MissingDatasetError, match="is a training run's folder"):
        load_avmnist(run)


def test_a_cache_in_another_format_is_refused_and_named_by_its_build(sources, cache, capsys):
    """Probe S20: a meta.json format 2 was read silently, and the rebuild named no difference."""
    meta = json.loads((cache / "meta.json").read_text())
    meta["identity"]["format"] = 2
    (cache / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(MissingDatasetError, match="records cache format 2.*reads format 1"):
        load_avmnist(cache)
    refused(capsys, build(cache, *sources), 2, "cache format 2 vs 1")


def test_clip_labels_that_differ_only_in_case_are_noted(capsys):
    """Probe S45: 'Dog' and 'dog' became two classes without a word."""
    from g2d_lite.data.prepare.clips import _note_near_duplicate_classes

    _note_near_duplicate_classes(["Dog", "cat", "dog"])
    err = capsys.readouterr().err
    assert "'Dog' and 'dog' differ only in case" in err and "3 in all" in err
    _note_near_duplicate_classes(["cat", "dog"])
    assert capsys.readouterr().err == ""


def test_source_folders_half_right_say_what_is_wrong(sources, release, tmp_path, capsys):
    """Probes T17 (recordings named *.WAV: "pass the recordings folder", the folder given) and
    T24 (a CREMA-D root with AudioWAV/ only: "no AudioWAV/ and VideoFlash/")."""
    mnist, fsdd = sources
    upper = tmp_path / "recordings"
    upper.mkdir()
    for wav in fsdd.glob("*.wav"):
        shutil.copy(wav, upper / f"{wav.stem}.WAV")
    status = build(tmp_path / "c", mnist, upper)
    refused(capsys, status, 2, "upper-case .WAV", "rename them")
    root = tmp_path / "CREMA-D"
    shutil.copytree(release[0] / "AudioWAV", root / "AudioWAV")
    line = refused(capsys, build_cremad(root, tmp_path / "k"), 2, "has no VideoFlash/ folder")
    assert "no AudioWAV/" not in line


# ---------------------------------------------------------------- the eighth probe's cases
def test_a_cache_named_where_its_parent_was_meant_says_which_folder_to_give(
    pristine, monkeypatch, tmp_path
):
    """Probe T15: G2D_LITE_DATA set to the cache itself got "no prepared cache … build it", a
    0.9 GB download for a cache that was there."""
    monkeypatch.setenv("G2D_LITE_DATA", str(pristine))
    with pytest.raises(MissingDatasetError, match=f"G2D_LITE_DATA={pristine} names a prepared"):
        load_avmnist(None)
    with pytest.raises(MissingDatasetError, match=f"set G2D_LITE_DATA={pristine.parent} "):
        load_avmnist(None)
    # probe 34 FB10: a cache folder named otherwise (av1) is not found as <parent>/avmnist
    other = tmp_path / "av1"
    shutil.copytree(pristine, other)
    monkeypatch.setenv("G2D_LITE_DATA", str(other))
    with pytest.raises(MissingDatasetError, match=f"give data_root={other} \\(or name the fold"):
        load_avmnist(None)
    monkeypatch.delenv("G2D_LITE_DATA")
    with pytest.raises(MissingDatasetError, match="give data_root the cache folder itself"):
        load_avmnist(pristine / "avmnist")


# ---------------------------------------------------------------- the ninth probe's cases
def test_a_meta_json_edited_by_hand_is_damage_the_build_repairs(sources, cache, capsys):
    """Probe U51: an 11th class added to meta.json trained an 11-way model without a word."""
    meta = json.loads((cache / "meta.json").read_text())
    meta["class_names"].append("10")
    (cache / "meta.json").write_text(json.dumps(meta, indent=2))
    with pytest.raises(MissingDatasetError, match="meta.json was changed after the build"):
        load_avmnist(cache)
    assert build(cache, *sources) == 0  # the command the message names repairs it
    assert len(load_avmnist(cache).info.class_names) == 10


def test_a_hostile_manifest_cannot_make_force_delete_files_outside_the_cache(
    sources, cache, tmp_path, capsys
):
    """A meta.json that lists ``../thesis.tex`` (someone else's folder, or a crafted one, resealed
    so that it reads as intact) made ``--force`` delete that file."""
    from g2d_lite.data.cache import meta_seal

    victim = cache.parent / "thesis.tex"
    victim.write_text("two years of work")
    meta = json.loads((cache / "meta.json").read_text())
    meta["files"]["../thesis.tex"] = next(iter(meta["files"].values()))
    meta["sha256"] = meta_seal(meta)
    (cache / "meta.json").write_text(json.dumps(meta, indent=2))
    before = tree_bytes(cache)
    refused(capsys, build(cache, *sources, "--force"), 2, "'../thesis.tex'", "outside the cache")
    assert victim.read_text() == "two years of work"
    assert tree_bytes(cache) == before  # checked before anything was deleted


def test_a_silent_recording_is_listed_not_used(sources, tmp_path, capsys):
    """Probe X21: an all-zero FSDD file was kept without a word, and as the split's minimum it
    changed the scaling of every other training spectrogram."""
    import soundfile

    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    wav = folder / "3_george_0.wav"
    frames = soundfile.info(wav).frames
    soundfile.write(wav, np.zeros(frames, dtype=np.int16), 8000, subtype="PCM_16")
    assert build(tmp_path / "cache", mnist, folder) == 0
    assert "3_george_0.wav: silent recording: every sample is zero" in capsys.readouterr().out
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert [s["key"] for s in meta["skipped"]] == ["3_george_0.wav"]


def test_a_digit_without_any_usable_recording_says_why_they_were_skipped(sources, tmp_path, capsys):
    """Probe Z30/Z33/Z35: every digit-0 recording silent (or not audio) gave only "no usable
    FSDD recording of digit 0 for the train split", with no reason and no file."""
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    for wav in folder.glob("0_*.wav"):
        wav.write_text("not audio")
    status = build(tmp_path / "cache", mnist, folder)
    refused(capsys, status, 2, "no usable FSDD recording of digit 0", "were skipped", "unreadable")


def test_a_tensor_dataset_names_a_missing_info_and_a_list_of_inputs():
    """Own probe: info=None gave "'NoneType' object has no attribute 'modality_names'", and a
    list of tensors for inputs "Boolean value of Tensor ... is ambiguous"."""
    specs = (ModalitySpec("a", (3,), "vector"), ModalitySpec("b", (3,), "vector"))
    info = DatasetInfo("toy", specs, class_names=("x", "y"))
    inputs, targets = {"a": torch.zeros(4, 3), "b": torch.zeros(4, 3)}, torch.zeros(4).long()
    assert len(TensorMultimodalDataset(info, "train", inputs, targets)) == 4
    with pytest.raises(TypeError, match=r"info must be a DatasetInfo .*got NoneType"):
        TensorMultimodalDataset(None, "train", inputs, targets)
    with pytest.raises(TypeError, match="inputs must map each modality name to its tensor"):
        TensorMultimodalDataset(info, "train", list(inputs.values()), targets)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("huge", "far past a WAV's full scale of ±1: a damaged or mis-encoded file"),
        ("nan", "the file holds NaN or infinite samples"),
    ],
)
def test_a_float_recording_with_huge_or_nan_samples_is_listed_not_used(
    sources, pristine, tmp_path, capsys, damage, reason
):
    """Probe Q32 (float WAVs at 1e30 changed all 720 training spectrograms through the split's
    scaling), Q33 (a NaN sample became uint8 zeros: every training spectrogram was 0)."""
    import soundfile

    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    wav = folder / "3_george_0.wav"
    wave, rate = soundfile.read(wav, dtype="float32")
    if damage == "huge":
        wave = wave * 1e30
    else:
        wave[10] = np.nan
    soundfile.write(wav, wave, rate, subtype="FLOAT")
    assert build(tmp_path / "cache", mnist, folder) == 0
    out = capsys.readouterr().out
    assert "3_george_0.wav: unreadable audio: ValueError: " in out and reason in out
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert [s["key"] for s in meta["skipped"]] == ["3_george_0.wav"]


def test_an_mnist_label_that_is_not_a_digit_stops_the_build(sources, tmp_path, capsys):
    """Probe Q38: a label of 42 in t10k-labels went into the cache's training labels."""
    import gzip

    mnist, fsdd = sources
    folder = tmp_path / "mnist"
    shutil.copytree(mnist, folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[13] = 42
    labels.write_bytes(gzip.compress(bytes(data)))
    status = build(tmp_path / "cache", folder, fsdd)
    refused(capsys, status, 2, "label 42 at index 5 is not a digit 0-9", "--download")
    assert not (tmp_path / "cache" / "meta.json").exists()


def test_upper_case_wav_files_beside_lower_case_ones_are_listed(sources, tmp_path, capsys):
    """Probe R33: 3_lucas_*.WAV beside .wav files were left out with "skipped: 0"."""
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    (folder / "3_george_0.wav").rename(folder / "3_george_0.WAV")
    assert build(tmp_path / "cache", mnist, folder) == 0
    out = capsys.readouterr().out
    assert "3_george_0.WAV: extension .WAV: FSDD's names end in .wav; rename it" in out
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert [s["key"] for s in meta["skipped"]] == ["3_george_0.WAV"]


def test_a_test_speaker_whose_recordings_were_all_skipped_is_named_so(sources, tmp_path, capsys):
    """Probe S21: every recording of the test speaker silent gave "theo is not in the
    recordings"; S24: a folder named like a recording was "a folder, not a file: give a file
    path"."""
    import soundfile

    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    (folder / "4_george_99.wav").mkdir()
    assert build(tmp_path / "cache", mnist, folder) == 0
    assert "4_george_99.wav: a folder, not a recording" in capsys.readouterr().out
    speaker = "theo"  # a default test speaker
    for wav in folder.glob(f"*_{speaker}_*.wav"):
        soundfile.write(wav, np.zeros(800, dtype=np.int16), 8000, subtype="PCM_16")
    status = build(tmp_path / "cache2", mnist, folder)
    refused(capsys, status, 2, f"names {speaker}, and all", "recordings were skipped", "silent")


@pytest.mark.parametrize(
    ("source", "copy", "needle"),
    [
        (
            "3_theo_0.wav",
            "3_george_9.wav",
            "3_george_9.wav and 3_theo_0.wav hold the same audio, in two splits (train and test)",
        ),
        (
            "5_george_0.wav",
            "6_george_9.wav",
            "5_george_0.wav and 6_george_9.wav hold the same audio, under digits 5 and 6",
        ),
    ],
    ids=["test-clip-renamed-into-train", "one-clip-two-digits"],
)
def test_one_recording_under_two_names_is_refused(sources, tmp_path, capsys, source, copy, needle):
    """Probe V29: a test speaker's recording copied under a training speaker's name built a
    cache whose test audio had been trained on, and exit 0."""
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    shutil.copy(folder / source, folder / copy)
    status = build(tmp_path / "cache", mnist, folder)
    refused(capsys, status, 2, needle, "delete the copy")
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------- probe L's cases
@pytest.mark.parametrize("mixed", [False, True], ids=["reordered", "mixed-in"])
def test_mnist_train_files_holding_the_test_images_are_refused(sources, tmp_path, capsys, mixed):
    """Probe L10: train files holding the 10k test digits in another order (or among other
    digits) built a cache whose test images were trained on: only identical files were
    caught."""
    mnist, fsdd = sources
    folder = tmp_path / "mnist"
    shutil.copytree(mnist, folder)
    test = gzip.decompress((mnist / "t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((mnist / "t10k-labels-idx1-ubyte.gz").read_bytes())
    images = np.frombuffer(test, np.uint8, offset=16).reshape(-1, 28, 28)[::-1]
    digits = np.frombuffer(labels, np.uint8, offset=8)[::-1]
    if mixed:  # half of them hidden among as many other digits
        images = np.concatenate([255 - images, images[::2]])
        digits = np.concatenate([digits, digits[::2]])
    for kind, array in (("images-idx3", images), ("labels-idx1", digits)):
        (folder / f"train-{kind}-ubyte.gz").write_bytes(gzip.compress(idx_bytes(array)))
    what = "100 of its 300 images also in" if mixed else "the same images as"
    status = build(tmp_path / "cache", folder, fsdd)
    line = refused(capsys, status, 2, f"holds {what} t10k-images-idx3-ubyte.gz", "--no-mnist-train")
    assert "would see test images" in line
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("snr", ["1e308", "-1e308", "-1000", "100.5"])
def test_an_snr_the_noise_cannot_be_made_at_is_refused_before_anything_is_written(
    sources, tmp_path, capsys, snr
):
    """Probe L13, L14: --snr-db 1e308 and -1e308 crashed as "a bug" and left .build/ behind;
    -1000 built an all-zero audio cache with NaN in meta.json, exit 0."""
    with pytest.raises(SystemExit) as stop:
        raise SystemExit(build(tmp_path / "cache", *sources, f"--snr-db={snr}"))
    refused(capsys, stop.value.code, 2, "--snr-db: must be between -100 and 100 dB", repr(snr))
    assert not (tmp_path / "cache").exists()


def test_the_lowest_snr_allowed_still_builds_usable_audio(sources, tmp_path):
    """Probe L14: the range refusing -1000 dB must not refuse what works: at -100 dB the audio
    is all noise, but finite, scaled and varied (not the all-zero cache of -1000 dB)."""
    assert build(tmp_path / "cache", *sources, "--snr-db=-100") == 0
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert np.isfinite([meta["audio"]["log_min"], meta["audio"]["log_max"]]).all()
    assert len(np.unique(np.load(tmp_path / "cache" / "audio" / "train_data.npy"))) > 1


def _split_csvs(folder: Path, rows: dict[str, list[str]], encoding: str = "utf-8") -> Path:
    folder.mkdir()
    for split, lines in rows.items():
        (folder / f"{split}.csv").write_bytes("".join(f"{r}\r\n" for r in lines).encode(encoding))
    return folder


def test_a_clip_listed_twice_in_a_split_csv_is_refused(release, tmp_path, capsys):
    """Probe L18: a train.csv pasted twice gave duplicates in train, a clip in both train and
    validation, and the note "-12 cached clips are in neither official CSV"."""
    root, _ = release
    keys = sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))
    rows = [f"{k},{k.split('_')[2]}" for k in keys]
    splits = _split_csvs(tmp_path / "csvs", {"train": rows[:9] + rows[:3], "test": rows[9:]})
    status = build_cremad(root, tmp_path / "c", "--split-dir", str(splits))
    line = refused(capsys, status, 2, "train.csv lists 3 clips more than once", "lines 1, 10")
    assert keys[0] in line and "remove the repeated lines" in line
    assert not (tmp_path / "c").exists()


def test_a_header_row_in_a_split_csv_is_named_as_a_header(release, tmp_path, capsys):
    """Probe 30 BB18: a `clip,label` header (a pandas or Excel export) was read as a clip named
    "clip": called a train/test leak when both files had it, else dropped with a note."""
    root, _ = release
    keys = sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))
    rows = [f"{k},{k.split('_')[2]}" for k in keys]
    header = ["clip,label"]
    for name, test_header in (("both", header), ("train_only", [])):
        lists = {"train": header + rows[:9], "test": test_header + rows[9:]}
        splits = _split_csvs(tmp_path / name, lists)
        status = build_cremad(root, tmp_path / "c", "--split-dir", str(splits))
        refused(capsys, status, 2, "train.csv:1 looks like a header (clip,label)", "delete that")
    assert not (tmp_path / "c").exists()


def test_split_csv_labels_that_contradict_the_file_names_are_refused(release, tmp_path, capsys):
    """Probe L19: CSVs labelling every clip HAP were used without a word; the official loader
    takes its label from that column (class_dict[item[1]]), the kit from the file name."""
    root, _ = release
    keys = sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))
    relabelled = {"train": [f"{k},HAP" for k in keys[:9]], "test": [f"{k},HAP" for k in keys[9:]]}
    status = build_cremad(
        root, tmp_path / "c", "--split-dir", str(_split_csvs(tmp_path / "a", relabelled))
    )
    first = keys[0]
    line = refused(capsys, status, 2, f"train.csv:1: {first} is labelled 'HAP'", "10 rows")
    assert f"its file name says {first.split('_')[2]}" in line and "official loader" in line
    bare = {"train": keys[:9], "test": keys[9:]}  # no label column: the official loader fails
    status = build_cremad(
        root, tmp_path / "c", "--split-dir", str(_split_csvs(tmp_path / "b", bare))
    )
    refused(capsys, status, 2, f"train.csv:1: {first} has no label column")
    assert not (tmp_path / "c").exists()


def test_split_csvs_in_another_encoding_name_the_file_and_the_fix(release, tmp_path, capsys):
    """Probe L20: UTF-16 split CSVs (Excel's "Unicode text") failed with "'utf-8' codec can't
    decode byte 0xff in position 0", naming neither the file nor the fix."""
    from g2d_lite.data.prepare.common import read_text

    root, _ = release
    keys = sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))
    rows = {
        split: [f"{k},{k.split('_')[2]}" for k in part]
        for split, part in (("train", keys[:9]), ("test", keys[9:]))
    }
    splits = _split_csvs(tmp_path / "csvs", rows, "utf-16")
    status = build_cremad(root, tmp_path / "c", "--split-dir", str(splits))
    refused(capsys, status, 2, f"{splits / 'train.csv'} is UTF-16", "save it as UTF-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("clip,label,split\nx,caf\xe9,train\n".encode("latin-1"))
    with pytest.raises(BuildError, match=r"latin.csv is not UTF-8 text \(byte 22 is 0xe9"):
        read_text(latin)


def test_a_cut_off_video_is_listed_not_stored_short(release, tmp_path, capsys):
    """Probe L22: an FLV cut after half its frames (its header still saying 6 s) went into the
    cache with half its frames, "skipped: 0"."""
    root = tmp_path / "CREMA-D"
    shutil.copytree(release[0], root)
    flv = next(root.glob("VideoFlash/*.flv"))
    write_video(flv, 6.0, 0, codec="flv", container="flv")
    with av.open(str(flv)) as container:  # cut between two packets, as a download stops
        middle = [packet.pos for packet in container.demux(video=0)][14]
    flv.write_bytes(flv.read_bytes()[:middle])
    assert build_cremad(root, tmp_path / "c") == 0
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    [skipped] = meta["skipped"]
    assert skipped["key"] == flv.stem
    assert "unreadable video: ValueError: truncated video: " in skipped["reason"]
    assert "of the 30 frames its container declares (6.0 s)" in skipped["reason"]
    assert meta["samples"] == 11


def test_skip_reasons_name_files_relative_to_root(release, tmp_path, monkeypatch):
    """Probe L23: with an absolute --root, PyAV's and libsndfile's messages put absolute paths
    into meta.json, which then differed from a build of the same files through a relative
    --root."""
    root = tmp_path / "CREMA-D"
    shutil.copytree(release[0], root)
    flv = next(root.glob("VideoFlash/*.flv"))
    flv.write_bytes(b"not a video")
    assert build_cremad(root.resolve(), tmp_path / "absolute") == 0
    monkeypatch.chdir(tmp_path)
    assert build_cremad(Path("CREMA-D"), tmp_path / "relative") == 0
    text = (tmp_path / "absolute" / "meta.json").read_text()
    assert f"'VideoFlash/{flv.name}'" in text and str(tmp_path) not in text
    assert text == (tmp_path / "relative" / "meta.json").read_text()


def test_a_labels_csv_row_without_all_its_fields_is_a_bad_annotation_line(tmp_path):
    """Probe L27: a --labels row `clip17,dog` (no split) crashed with "unexpected
    AttributeError: 'NoneType' object has no attribute 'strip'"."""
    from g2d_lite.data.cache import Skipped
    from g2d_lite.data.prepare.clips import csv_rows

    labels = tmp_path / "labels.csv"
    labels.write_text("clip,label,split\nclip00,dog,train\n\nclip17,dog\nclip18\n")
    rows, bad = csv_rows(labels)
    assert [(r.key, r.label, r.split) for r in rows] == [("clip00", "dog", "train")]
    assert bad == [
        Skipped("labels.csv:4", "bad annotation line: 'clip17,dog': no split"),
        Skipped("labels.csv:5", "bad annotation line: 'clip18': no label and no split"),
    ]


def test_a_labels_csv_row_with_an_empty_label_is_no_class(tmp_path):
    """Probe L39: `clip05,,train` (a cell left blank) became a class named '', widening the
    model's output layer, with "skipped: 0"."""
    from g2d_lite.data.cache import Skipped
    from g2d_lite.data.prepare.clips import csv_rows

    labels = tmp_path / "labels.csv"
    labels.write_text("clip,label,split\nclip04,bird,train\nclip05,,train\n")
    rows, bad = csv_rows(labels)
    assert [r.label for r in rows] == ["bird"]
    assert bad == [Skipped("labels.csv:3", "bad annotation line: 'clip05,,train': no label")]


def test_a_labels_csv_row_with_a_field_too_many_is_a_bad_annotation_line(tmp_path):
    """Probe 31 CB16: `vid03,car,train,test` went into train, its `test` dropped, skipped: 0.
    A trailing comma (an empty last field, as spreadsheets write) is no extra field."""
    from g2d_lite.data.cache import Skipped
    from g2d_lite.data.prepare.clips import csv_rows

    labels = tmp_path / "labels.csv"
    labels.write_text("clip,label,split\nvid01,dog,train,\nvid03,car,train,test\n")
    rows, bad = csv_rows(labels)
    assert [r.key for r in rows] == ["vid01"]
    reason = "bad annotation line: 'vid03,car,train,test': 4 fields for the header's 3"
    assert bad == [Skipped("labels.csv:3", f"{reason} (quote a comma)")]


def test_a_kinetics_sounds_class_index_below_zero_is_a_bad_annotation_line(tmp_path):
    """Probe L28: class index -1 (a common "unknown" marker) became class 30, "tickling"."""
    from g2d_lite.data.prepare.clips import kinetics_sounds_rows

    (tmp_path / "my_train.txt").write_text("a_1,10,-1\nb_1,10,30\n")
    (tmp_path / "my_test.txt").write_text("c_1,10,31\n")
    rows, bad = kinetics_sounds_rows(tmp_path)
    assert [(r.key, r.label) for r in rows] == [("b_1", "tickling")]
    assert [(s.key, s.reason.split(": ", 2)[2]) for s in bad] == [
        ("my_train.txt:1", "class index -1 is outside 0..30"),
        ("my_test.txt:1", "class index 31 is outside 0..30"),
    ]


def test_a_cache_file_replaced_by_a_folder_is_named_and_nothing_deleted(
    sources, pristine, cache, capsys
):
    """Probe L30: the loader called such a file "missing", and the rebuild it suggested deleted
    meta.json and audio/ before failing with "is a folder, not a file: give a file path"."""
    (cache / "image" / "test_data.npy").unlink()
    (cache / "image" / "test_data.npy").mkdir()
    (cache / "image" / "test_data.npy" / "notes.txt").write_text("someone's")
    with pytest.raises(MissingDatasetError, match="test_data.npy is a folder where the cache"):
        load_avmnist(cache)
    before = tree_bytes(cache)
    line = refused(capsys, build(cache, *sources), 2, "image/test_data.npy is a folder")
    assert "move that folder away and rerun" in line
    assert tree_bytes(cache) == before  # checked before anything was deleted
    shutil.rmtree(cache / "image" / "test_data.npy")
    assert build(cache, *sources) == 0  # then the same command repairs the cache
    assert tree_bytes(cache) == tree_bytes(pristine)


def test_regression_targets_wider_or_narrower_than_target_dim_are_refused():
    """Probe L31: targets of width 3 under target_dim=1 were accepted, and training failed
    later with a builtins.ValueError, after making the run folder."""
    from g2d_lite.data.base import DatasetSplits

    specs = (ModalitySpec("a", (4,), "vector"), ModalitySpec("b", (4,), "vector"))
    info = DatasetInfo("reg", specs, task="regression", target_dim=1)
    inputs = {"a": torch.zeros(8, 4), "b": torch.zeros(8, 4)}
    with pytest.raises(DatasetError, match=r"3 value\(s\) per sample .*pass target_dim=3"):
        TensorMultimodalDataset(info, "train", inputs, torch.randn(8, 3))
    wide = DatasetInfo("reg", specs, task="regression", target_dim=2)
    with pytest.raises(DatasetError, match=r"target_dim is 2; pass target_dim=1"):
        TensorMultimodalDataset(wide, "train", inputs, torch.randn(8))
    with pytest.raises(DatasetError, match=r"shape \(N,\) or \(N, target_dim\), got \(8, 2, 1\)"):
        TensorMultimodalDataset(wide, "train", inputs, torch.randn(8, 2, 1))
    splits = {s: TensorMultimodalDataset(wide, s, inputs, torch.randn(8, 2)) for s in SPLITS}
    with pytest.raises(DatasetError, match=r"\(2 outputs\), the dataset .*\(1 outputs\)"):
        DatasetSplits(info=info, **splits)


def test_a_synthetic_amplitude_that_is_not_finite_names_the_knob():
    """Probe L32: audio_amplitude nan (or inf) was refused later as "modality 'audio' holds
    16,384 NaN or infinite values; clean or drop those samples", data the user never made."""
    from g2d_lite.data.synthetic import make_synthetic

    for knob, value in (("audio_amplitude", float("nan")), ("visual_amplitude", float("inf"))):
        with pytest.raises(ValueError, match=rf"\({knob}\) must be a finite number >= 0"):
            make_synthetic(n_train=8, n_validation=8, n_test=8, **{knob: value})


def test_synthetic_data_larger_than_memory_names_the_knob():
    """Probe L33: audio_size 100000 ended in "unexpected MemoryError ... (a bug in g2d-lite?)",
    exit 1."""
    from g2d_lite.data.synthetic import make_synthetic

    with pytest.raises(ValueError, match=r"needs about [\d,.]+ GiB, more than this machine's") as e:
        make_synthetic(n_train=64, n_validation=32, n_test=32, audio_size=100_000)
    assert "lower audio_size (now 100000) or the sample counts" in str(e.value)


@pytest.mark.parametrize(
    ("knobs", "needle"),
    [
        ({"n_classes": 50}, "n_classes = 50 needs as many distinct 3x3 glyphs"),
        (
            {"n_classes": 20, "visual_distractor_pool": 10},
            "n_classes + visual_distractor_pool = 30 needs as many distinct 3x3 glyphs",
        ),
    ],
    ids=["classes", "distractors"],
)
def test_more_glyphs_than_fit_are_refused_naming_the_knobs(knobs, needle):
    """Probe L34: 300 classes of 5x5 glyphs ran 53 s, then blamed "10 glyphs" (the distractors);
    3,000 gave no answer in a minute. Drawing now stops once 20,000 draws in a row miss (3,000
    classes: about 5 s) and says how many fit."""
    from g2d_lite.data.synthetic import make_synthetic

    with pytest.raises(ValueError, match=r"only \d+ fit") as error:
        make_synthetic(n_train=8, n_validation=8, n_test=8, visual_glyph_size=3, **knobs)
    assert needle in str(error.value) and "raise visual_glyph_size (now 3)" in str(error.value)


SLEEPING_BUILD = """
import os, sys, time
from pathlib import Path
from g2d_lite.data.cache import ShardedBuild
from g2d_lite.data.prepare.common import run_shards
from g2d_lite.locks import locked

def work(chunk):
    Path(sys.argv[1], f"worker-{os.getpid()}").touch()
    time.sleep(600)

root = Path(sys.argv[1])
with locked(root):
    build = ShardedBuild(root, {"dataset": "probe"}, shard_size=1)
    run_shards(build, [[0], [1]], work, desc="probe", progress=False, workers=2)
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it holds no file, so no lock)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="forked workers and /proc are Linux's")
def test_a_killed_parallel_build_leaves_no_worker_holding_its_lock(tmp_path):
    """Probe L44: after kill -9 of a --workers 2 build its orphaned workers kept the cache's
    lock, so every rerun (and the loader) said to wait for the dead pid."""
    from g2d_lite.locks import holder
    from tests.bad_inputs import REPO

    script, root = tmp_path / "build.py", tmp_path / "cache"
    script.write_text(SLEEPING_BUILD)
    root.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen([sys.executable, str(script), str(root)], cwd=REPO, env=env)
    deadline = time.monotonic() + 120
    while len(list(root.glob("worker-*"))) < 2:
        assert parent.poll() is None and time.monotonic() < deadline, "the workers never started"
        time.sleep(0.1)
    workers = [int(p.name.split("-")[1]) for p in root.glob("worker-*")]
    parent.kill()
    parent.wait()
    try:
        deadline = time.monotonic() + 30
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(_running, workers)), "the workers outlived their killed parent"
        assert holder(root) is None
    finally:
        for pid in filter(_running, workers):
            os.kill(pid, signal.SIGKILL)


def test_a_build_into_another_dataset_s_cache_says_whose_it_is(sources, release, tmp_path, capsys):
    """Probe L45: AV-MNIST built into a CREMA-D cache listed every avmnist option as "changed"
    and offered --force, which would delete the other dataset's cache."""
    cremad = tmp_path / "cremad"
    assert build_cremad(release[0], cremad) == 0
    before = tree_bytes(cremad)
    line = refused(capsys, build(cremad, *sources), 2, "holds a prepared cremad cache, not a")
    assert "choose another --out (--force would delete that cremad cache)" in line
    assert tree_bytes(cremad) == before


# --- Probe F: the data side --------------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--force",)], ids=["plain", "force"])
def test_force_never_replaces_a_folder_holding_someone_else_s_meta_json(
    sources, tmp_path, capsys, extra
):
    """Probe F01: the advised --force deleted a user's own meta.json and built among their files."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "meta.json").write_text('{"experiment": "mine"}')
    (project / "notes.txt").write_text("notes")
    before = tree_bytes(project)
    line = refused(
        capsys, build(project, *sources, *extra), 2, "not a g2d-lite cache manifest", "--out"
    )
    assert "empty or new" in line and "--force" not in line
    assert tree_bytes(project) == before


@pytest.mark.parametrize("extra", [(), ("--force",)], ids=["plain", "force"])
def test_a_build_folder_the_kit_did_not_make_is_neither_used_nor_deleted(
    sources, tmp_path, capsys, extra
):
    """Probe F02: a project's own .build/ was taken for an interrupted build and deleted."""
    project = tmp_path / "proj"
    (project / ".build" / "debug").mkdir(parents=True)
    (project / ".build" / "debug" / "app.o").write_text("obj")
    (project / "main.swift").write_text("code")
    before = tree_bytes(project)
    refused(capsys, build(project, *sources, *extra), 2, ".build", "empty or new --out")
    assert tree_bytes(project) == before


def test_a_file_named_build_in_out_is_named_with_the_fix(sources, tmp_path, capsys):
    """Probe F26: a file named .build gave the bare OS error "File exists (cX/.build)"."""
    out = tmp_path / "cX"
    out.mkdir()
    (out / ".build").write_text("")
    refused(capsys, build(out, *sources), 2, "cX/.build is a file", "move it away")
    assert [p.name for p in out.iterdir()] == [".build"]


def _recordings(fsdd: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    return folder


def test_a_recording_whose_header_claims_a_sub_audio_rate_is_listed_not_used(
    sources, tmp_path, capsys
):
    """Probe F04: a take whose header said 80 Hz was resampled 100x and kept as a digit."""
    import soundfile

    mnist, fsdd = sources
    folder = _recordings(fsdd, tmp_path)
    wave, _ = soundfile.read(folder / "0_george_0.wav", dtype="int16")
    soundfile.write(folder / "0_george_0.wav", wave, 80, subtype="PCM_16")
    assert build(tmp_path / "cache", mnist, folder) == 0
    assert "0_george_0.wav: unreadable audio: ValueError: sample rate 80 Hz" in (
        capsys.readouterr().out
    )
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert [s["key"] for s in meta["skipped"]] == ["0_george_0.wav"]


def test_a_stereo_take_whose_channels_cancel_is_named_so(sources, tmp_path, capsys):
    """Probe F06: channels [x, -x] were reported as "every sample is zero"."""
    import soundfile

    mnist, fsdd = sources
    folder = _recordings(fsdd, tmp_path)
    wave, rate = soundfile.read(folder / "0_george_1.wav", dtype="float32")
    soundfile.write(folder / "0_george_1.wav", np.stack([wave, -wave], 1), rate, "PCM_16")
    assert build(tmp_path / "cache", mnist, folder) == 0
    out = capsys.readouterr().out
    assert "0_george_1.wav: silent recording: its channels cancel when averaged to mono" in out
    assert "keep one channel" in out


def test_a_dangling_link_among_the_recordings_is_listed_with_its_target(sources, tmp_path, capsys):
    """Probe F07: one broken link stopped the build as "does not exist: check the path"."""
    mnist, fsdd = sources
    folder = _recordings(fsdd, tmp_path)
    (folder / "5_lucas_1.wav").unlink()
    (folder / "5_lucas_1.wav").symlink_to("/nonexistent/x.wav")
    assert build(tmp_path / "cache", mnist, folder) == 0
    out = capsys.readouterr().out
    assert "5_lucas_1.wav: broken link: a symbolic link to /nonexistent/x.wav" in out


def test_the_same_held_out_speakers_in_another_order_are_the_same_cache(sources, cache, capsys):
    """Probe F14: --test-speakers yweweler,theo was "a cache built with other settings"."""
    before = tree_bytes(cache)
    assert build(cache, *sources, "--test-speakers", "yweweler,theo,theo") == 0
    assert "nothing to do" in capsys.readouterr().out
    assert tree_bytes(cache) == before


def test_a_cache_file_linked_to_another_copy_is_named_as_a_link_on_force(
    sources, pristine, cache, capsys
):
    """Probe F21: a linked cache file was "listed outside the cache, no kit cache's manifest"."""
    link = cache / "audio" / "train_data.npy"
    link.unlink()
    link.symlink_to(pristine / "audio" / "train_data.npy")
    before = tree_bytes(pristine)
    line = refused(capsys, build(cache, *sources, "--force"), 2, "is a symbolic link to")
    assert f"rm {link}" in line and "no kit cache" not in line
    assert tree_bytes(pristine) == before


def test_a_cache_file_that_is_an_lfs_pointer_says_git_lfs_pull(cache):
    """Probe F30: a clone without `git lfs pull` was "damaged ... rebuild it"."""
    (cache / "audio" / "test_data.npy").write_bytes(LFS)
    with pytest.raises(MissingDatasetError, match="Git LFS pointer") as error:
        load_avmnist(cache)
    assert "git lfs pull" in str(error.value) and COMMAND not in str(error.value)


def test_a_damaged_cache_names_the_options_it_was_built_with(sources, tmp_path, capsys):
    """Probe F31: the repair advice was a template, and rerunning it met "other settings, pass
    --force", which would change the data under the teachers trained on it."""
    out = tmp_path / "c"
    assert build(out, *sources, "--seed", "3", "--snr-db", "10") == 0
    (out / "pairing" / "test_audio.npy").unlink()
    with pytest.raises(MissingDatasetError, match="--seed 3") as error:
        load_avmnist(out)
    assert "--snr-db 10" in str(error.value) and "--subset" not in str(error.value)
    capsys.readouterr()
    line = refused(capsys, build(out, *sources), 2, "damaged", "--snr-db 10 --seed 3")
    assert "--force would" in line
    assert build(out, *sources, "--seed", "3", "--snr-db", "10") == 0
    load_avmnist(out)


def test_a_relative_data_variable_names_itself_and_its_resolved_path(
    pristine, tmp_path, monkeypatch
):
    """Probe F32: G2D_LITE_DATA=dc from another folder said "no prepared cache at dc/avmnist"."""
    monkeypatch.setenv("G2D_LITE_DATA", "dc")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingDatasetError, match="G2D_LITE_DATA=dc is relative") as error:
        load_avmnist()
    assert str(tmp_path / "dc" / "avmnist") in str(error.value)


def test_an_empty_root_string_is_refused_not_read_as_the_working_folder():
    """Probe F25: root='' meant the working directory, and the advice built a cache into it."""
    with pytest.raises(ValueError, match="root is an empty string.*None for the default"):
        load_dataset("avmnist", root="")


def test_a_download_that_cannot_connect_names_the_offline_way_and_leaves_no_folders(
    tmp_path, capsys
):
    """Probe F37: an offline --download named the URL but no way forward, and left an empty
    _downloads/ tree behind."""
    url = (tmp_path / "nowhere").as_uri()
    argv = ["--download", "--mnist-url", url, "--out", str(tmp_path / "c"), "--no-progress"]
    refused(capsys, prepare_avmnist.main(argv), 2, "could not download", "--mnist-dir")
    assert list(tmp_path.iterdir()) == []


def test_split_fractions_that_leave_no_train_are_refused_before_decoding(release, tmp_path, capsys):
    """Probe F19: 0.5 + 0.6 was refused after the full decode, left a half cache, and the advice
    ("rerun with its options") could never finish."""
    out = tmp_path / "c"
    status = build_cremad(release[0], out, "--val-fraction", "0.5", "--test-fraction", "0.6")
    refused(capsys, status, 2, "--val-fraction 0.5 + --test-fraction 0.6 = 1.1", "less than 1")
    assert not out.exists()


def test_cremad_videos_with_an_upper_case_extension_are_read(release, tmp_path, capsys):
    """Probe F18: VideoFlash/*.FLV (a copy from FAT media) were "missing video"."""
    root = tmp_path / "CREMA-D"
    shutil.copytree(release[0], root)
    for video in root.glob("VideoFlash/1001_*.flv"):
        video.rename(video.with_suffix(".FLV"))
    assert build_cremad(root, tmp_path / "c") == 0
    assert json.loads((tmp_path / "c" / "meta.json").read_text())["samples"] == 12


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: torch.randn(4, 3).to_sparse(), r"sparse tensor .*\.to_dense\(\)"),
        (lambda: torch.empty(4, 3, device="meta"), "on the meta device"),
    ],
    ids=["sparse", "meta"],
)
def test_a_tensor_dataset_names_sparse_and_meta_tensors(make, needle):
    """Probe F33: raw torch errors ("Could not run 'aten::ne.Scalar' ... SparseCPU")."""
    specs = (ModalitySpec("a", (3,), "vector"), ModalitySpec("b", (3,), "vector"))
    info = DatasetInfo("toy", specs, class_names=("x", "y"))
    inputs = {"a": make(), "b": torch.zeros(4, 3)}
    with pytest.raises(DatasetError, match=f"toy/train: modality 'a' is (a )?{needle}"):
        TensorMultimodalDataset(info, "train", inputs, torch.zeros(4).long())


def test_a_tensor_dataset_holds_inputs_detached_from_autograd():
    """Probe F34: inputs with requires_grad=True got gradients written into them by training."""
    specs = (ModalitySpec("a", (3,), "vector"),)
    info = DatasetInfo("toy", specs, class_names=("x", "y"))
    x = torch.randn(4, 3, requires_grad=True)
    data = TensorMultimodalDataset(info, "train", {"a": x}, torch.zeros(4).long())
    assert not data.inputs["a"].requires_grad
    assert torch.equal(data.inputs["a"], x.detach())


@pytest.mark.parametrize(
    ("knob", "value", "needle"),
    [
        ("audio_informative", True, "audio_informative must be a number, got True"),
        ("visual_size", False, "visual_size must be a whole number, got False"),
        ("audio_amplitude", "loud", "audio_amplitude must be a number, got 'loud'"),
    ],
)
def test_a_synthetic_knob_of_the_wrong_kind_names_the_knob(knob, value, needle):
    """Probe F15 (a bool for a float knob was taken as 1.0) and F16 (a word gave "could not
    convert string to float: 'loud'", naming no knob)."""
    from g2d_lite.data.synthetic import make_synthetic

    with pytest.raises(ValueError, match=needle):
        make_synthetic(n_train=8, n_validation=8, n_test=8, **{knob: value})


def test_a_synthetic_train_split_missing_a_class_is_warned_about():
    """Probe F17: n_train=20 drew no class 4, and it was trained and scored without a word."""
    from g2d_lite.data.synthetic import make_synthetic

    with pytest.warns(UserWarning, match=r"no sample of class\(es\) \[4\].*raise n_train"):
        make_synthetic(n_train=20, n_validation=5, n_test=5)


def test_a_take_tens_of_seconds_long_is_listed_not_used(sources, tmp_path, capsys):
    """Probe F04: a take far longer than any spoken digit was centre-cropped and kept."""
    import soundfile

    mnist, fsdd = sources
    folder = _recordings(fsdd, tmp_path)
    soundfile.write(folder / "0_george_0.wav", np.full(12 * 8000, 0.1), 8000, subtype="PCM_16")
    assert build(tmp_path / "cache", mnist, folder) == 0
    assert "0_george_0.wav: implausible recording: 12.0 s at 8,000 Hz" in capsys.readouterr().out


def test_an_odd_sample_rate_is_resampled_without_a_huge_kernel():
    """Probe I04: one take at 96,001 Hz asked torchaudio for a 6 GB resampling kernel and
    stopped the build; an odd rate is snapped to the nearest 100 Hz, and a rate past any
    recording rate is a damaged header."""
    from g2d_lite.data import audio

    assert audio.tractable_rate(96_001, 8000) == 96_000
    assert audio.tractable_rate(44_100, 8000) == 44_100
    wave = np.sin(np.linspace(0, 200, 96_001)).astype(np.float32)
    out = audio.resample(wave, 96_001, 8000)
    assert abs(len(out) - 8000) <= 1
    with pytest.raises(ValueError, match="above any recording rate"):
        audio.checked_mono(np.zeros((500_000, 1), np.float32) + 0.1, 500_000)


def test_a_changed_source_folder_is_named_with_how_it_changed():
    """Probe I07: a rerun after one FSDD file was deleted and another changed said only "other
    source files", with MNIST and FSDD both given."""
    from g2d_lite.data.cache import identity_differences

    mnist = {"t10k": {"sha256": "a"}}
    theirs = {
        "dataset": "avmnist",
        "sources": {"fsdd": {"files": 3000, "sha": "x"}, "mnist": mnist},
    }
    ours = {"dataset": "avmnist", "sources": {"fsdd": {"files": 2999, "sha": "y"}, "mnist": mnist}}
    assert identity_differences(theirs, ours) == "other fsdd sources (3,000 files vs 2,999)"


def test_a_quoted_tilde_in_the_data_variable_is_the_home_folder(tmp_path, monkeypatch):
    """Probe 26 AB08: G2D_LITE_DATA='~/dcx' (quoted, so the shell left the ~) built into a
    folder literally named "~" in the working folder."""
    from g2d_lite.data.paths import default_root

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("G2D_LITE_DATA", "~/dcx")
    monkeypatch.chdir(tmp_path)
    assert default_root("avmnist") == tmp_path / "home" / "dcx" / "avmnist"
    with pytest.raises(MissingDatasetError) as error:
        load_avmnist()
    assert "is relative" not in str(error.value)


@pytest.mark.parametrize("name", [None, "", "  "])
def test_a_class_without_a_name_is_refused(name):
    """Probe 26 AB32: class names None and "" were accepted and reached plots and checkpoints."""
    specs = (ModalitySpec("x", (4,), "vector"),)
    with pytest.raises(ValueError, match=r"class_names\[1\] is .*: every class needs a non-empty"):
        DatasetInfo("t", specs, class_names=("a", name))


def _copied_splits(test_rows: torch.Tensor, validation_rows: torch.Tensor):
    """Splits of 140 random samples: train holds the first 100, test and validation the given
    rows (rows past 99 are held out, the others copies of train samples)."""
    from g2d_lite.data.base import DatasetSplits

    specs = (ModalitySpec("a", (3, 4, 4), "image"), ModalitySpec("b", (5,), "vector"))
    info = DatasetInfo("toy", specs, class_names=("x", "y"))
    generator = torch.Generator().manual_seed(0)
    xa, xb = (
        torch.randn(140, 3, 4, 4, generator=generator),
        torch.randn(140, 5, generator=generator),
    )
    y = torch.randint(0, 2, (140,), generator=generator)

    def split(name, rows):
        return TensorMultimodalDataset(info, name, {"a": xa[rows], "b": xb[rows]}, y[rows])

    return DatasetSplits(
        info, split("train", torch.arange(100)), split("validation", validation_rows),
        split("test", test_rows),
    )  # fmt: skip


def test_held_out_splits_made_of_train_rows_in_any_order_are_named():
    """Probe 26 AB12: a test split of the train samples shuffled, and a validation split of the
    first 20 train rows, passed without a word (only a copy in the same order warned)."""
    shuffled = torch.randperm(100, generator=torch.Generator().manual_seed(1))
    with pytest.warns(UserWarning) as caught:
        _copied_splits(shuffled, torch.arange(20))
    messages = [str(w.message) for w in caught]
    assert any("the test split is the train split itself (or its samples" in m for m in messages)
    assert any("20 of the 20 validation samples are copies of train" in m for m in messages)


def test_held_out_splits_with_a_few_train_rows_say_how_many():
    """Probe 26 AB12: a share of copied rows is named with its count; held-out rows are not."""
    with pytest.warns(UserWarning, match="3 of the 10 test samples are copies of train samples"):
        _copied_splits(
            torch.cat([torch.tensor([7, 3, 50]), torch.arange(100, 107)]), torch.arange(110, 140)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _copied_splits(torch.arange(100, 110), torch.arange(110, 140))


@pytest.mark.parametrize("packed", [True, False], ids=["gz", "unpacked"])
def test_a_truncated_mnist_file_says_it_is_cut_short_and_how_to_get_it_again(
    sources, tmp_path, capsys, packed
):
    """Probe AH13/AH14: a file cut short by an interrupted copy gave only byte counts, or
    gzip's "Compressed file ended ..." with no fix."""
    mnist, fsdd = sources
    folder = tmp_path / "mnist"
    shutil.copytree(mnist, folder)
    packed_path = folder / "t10k-images-idx3-ubyte.gz"
    path = packed_path if packed else folder / "t10k-images-idx3-ubyte"
    if not packed:
        path.write_bytes(gzip.decompress(packed_path.read_bytes()))
        packed_path.unlink()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = "download or copy it again" if packed else "unpack t10k-images-idx3-ubyte.gz"
    refused(capsys, build(tmp_path / "cache", folder, fsdd), 2, path.name, "cut short", again)
    assert not (tmp_path / "cache").exists()


def test_a_speaker_missing_a_digit_is_named_with_the_files_and_the_fix(sources, tmp_path, capsys):
    """Probe AH15: an FSDD copy without nicolas's 7s said only "no usable FSDD recording of
    digit 7 for the validation split", naming neither the speaker, the files nor a fix; the
    refused build also left a .build folder that refused the fixed command as "other settings"."""
    mnist, fsdd = sources
    folder = tmp_path / "recordings"
    shutil.copytree(fsdd, folder)
    for wav in folder.glob("7_nicolas_*.wav"):
        wav.unlink()
    status = build(tmp_path / "cache", mnist, folder)
    refused(capsys, status, 2, "digit 7", "nicolas", "7_nicolas_*.wav", "--val-speakers")
    assert not (tmp_path / "cache").exists()
    assert build(tmp_path / "cache", mnist, folder, "--val-speakers", "jackson") == 0
    capsys.readouterr()
    status = build(tmp_path / "carved", mnist, folder, "--val-speakers", "")
    refused(capsys, status, 2, "digit 7", "--val-fraction 0.1", "name --val-speakers")


def test_a_damaged_cache_built_from_local_folders_suggests_that_build_first(cache):
    """Probe AH04: the repair put `--download` first for a cache built from local folders,
    which fails offline, where the local build is what worked."""
    (cache / "recordings.txt").write_text("x\n", encoding="utf-8")
    with pytest.raises(MissingDatasetError, match="damaged") as error:
        load_avmnist(cache)
    message = str(error.value)
    assert message.index("--mnist-dir") < message.index("--download")


def test_a_cache_is_not_built_inside_a_cache(sources, cache, tmp_path, capsys, monkeypatch):
    """Probe 31 CB09: G2D_LITE_DATA naming a cache itself was named by the loader, but the
    build wrote a second cache inside the first, which the loader then read."""
    before = tree_bytes(cache)
    mnist, fsdd = sources
    monkeypatch.setenv("G2D_LITE_DATA", str(cache))
    argv = ["--mnist-dir", str(mnist), "--fsdd-dir", str(fsdd), "--no-progress"]
    status = prepare_avmnist.main(argv)
    needles = (f"G2D_LITE_DATA={cache} names a prepared avmnist cache itself", f"={tmp_path} (")
    refused(capsys, status, 2, *needles)
    status = build(cache / "inner", mnist, fsdd)
    refused(capsys, status, 2, f"{cache} is a prepared avmnist cache; choose an --out outside")
    assert tree_bytes(cache) == before


def test_the_folder_that_holds_a_cache_names_the_cache_inside(cache, tmp_path):
    """Probe 32 DA22: `--data-root cache` (holding cache/avmnist/) printed a build into
    cache/, which the build then refused as someone else's folder."""
    with pytest.raises(MissingDatasetError, match="holds the avmnist cache") as error:
        load_avmnist(tmp_path)
    assert f"{cache}: give that folder itself" in str(error.value)
    assert "data.prepare" not in str(error.value)


def test_a_source_replaced_with_the_same_size_after_a_build_is_noted(release, tmp_path, capsys):
    """Probe 33 EB30: a CREMA-D WAV replaced in place (same name and size) and the build rerun:
    "already complete ... nothing to do", and the cache kept the old audio without a word."""
    root = tmp_path / "CREMA-D"
    shutil.copytree(release[0], root)
    out = tmp_path / "cache"
    assert build_cremad(root, out) == 0
    capsys.readouterr()
    assert build_cremad(root, out) == 0
    assert "modified after this cache was built" not in capsys.readouterr().out
    wav = sorted((root / "AudioWAV").glob("*.wav"))[0]
    data = bytearray(wav.read_bytes())
    data[-10:] = bytes(10)  # other samples, the same size
    time.sleep(0.01)
    wav.write_bytes(bytes(data))
    assert build_cremad(root, out) == 0
    printed = capsys.readouterr().out
    assert "nothing to do" in printed
    assert f"1 source file(s) were modified after this cache was built (e.g. {wav})" in printed
    assert "rebuild with --force" in printed


def test_a_subset_too_small_to_split_names_subset(sources, tmp_path, capsys):
    """Probe 34 FB14: --subset 0.0001 (one image) blamed --val-fraction, and raising that, as
    told, gave the same line again."""
    status = build(tmp_path / "tiny", *sources, "--subset", "0.005")
    refused(capsys, status, 2, "--subset 0.005 leaves", "raise --subset (about")
    assert not (tmp_path / "tiny").exists()

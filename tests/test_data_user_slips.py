"""Slips a tired or hostile user makes with the data layer: variables in paths, blanks, sizes
and counts out of reach, links and re-saved files (probe 27, cases AE04 to AE36)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from g2d_lite.data import load_dataset
from g2d_lite.data.base import DatasetInfo, DatasetSplits, ModalitySpec, TensorMultimodalDataset
from g2d_lite.data.paths import default_root
from g2d_lite.data.prepare import avcache, common
from g2d_lite.data.prepare import avmnist as prepare_avmnist
from g2d_lite.data.prepare import clips as prepare_clips
from g2d_lite.data.synthetic import make_synthetic
from tests.bad_inputs import refused
from tests.data_fixtures import make_fsdd, make_mnist, write_clip

CLASSES = ("dog", "piano", "rain")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("sources")
    return make_mnist(folder / "mnist"), make_fsdd(folder / "fsdd" / "recordings", takes=2)


def build_avmnist(out: Path, mnist: Path, fsdd: Path, *extra: str) -> int:
    argv = ["--mnist-dir", str(mnist), "--fsdd-dir", str(fsdd), "--out", str(out)]
    return prepare_avmnist.main([*argv, "--no-progress", "--shard-size", "50", *extra])


@pytest.fixture(scope="module")
def clip_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """clips/sub/<class><i>.mp4 (two train clips and one test clip a class) and labels.csv."""
    base = tmp_path_factory.mktemp("clips")
    rows = ["clip,label,split"]
    for label, name in enumerate(CLASSES):
        for i, split in enumerate(("train", "train", "test")):
            write_clip(base / "clips" / "sub" / f"{name}{i}.mp4", label)
            rows.append(f"{name}{i},{name},{split}")
    (base / "labels.csv").write_text("\n".join(rows) + "\n")
    return base / "clips" / "sub"


def build_clips(root: Path, labels: Path, out: Path, *extra: str) -> int:
    argv = ["--dataset", "vggsound", "--root", str(root), "--labels", str(labels)]
    argv += ["--out", str(out), "--no-progress", "--val-fraction", "0.5"]
    size = [] if "--frame-size" in extra else ["--frame-size", "24", "24"]  # given once
    return prepare_clips.main([*argv, *size, *extra])


def test_ae04_a_val_fraction_of_zero_is_refused_naming_the_option(sources, tmp_path, capsys):
    """AE04: --val-fraction 0 was refused as "give more samples", never naming the option."""
    for extra in ((), ("--subset", "0.5")):
        status = build_avmnist(tmp_path / "c_v0", *sources, "--val-fraction", "0", *extra)
        line = refused(capsys, status, 2, "--val-fraction 0 leaves no validation images")
        assert "give more samples" not in line and "subset" not in line
    assert not (tmp_path / "c_v0").exists()


def test_ae06_variables_in_g2d_lite_data_are_expanded_or_refused(tmp_path, monkeypatch):
    """AE06: G2D_LITE_DATA='$HOME/dc' built into a folder literally named "$HOME"."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for spelling in ("$HOME/dc", "${HOME}/dc"):
        monkeypatch.setenv("G2D_LITE_DATA", spelling)
        assert default_root("avmnist") == tmp_path / "home" / "dc" / "avmnist"
    monkeypatch.delenv("G2D_LITE_AE06_UNSET", raising=False)
    monkeypatch.setenv("G2D_LITE_DATA", "${G2D_LITE_AE06_UNSET}/dc")
    with pytest.raises(Exception, match=r"holds the variable \$\{G2D_LITE_AE06_UNSET\}, which is"):
        default_root("avmnist")


class RecordingPool:
    """A stand-in for ProcessPoolExecutor that runs shards in this process and records the
    size asked for (a real pool of 99,999 would fork them all)."""

    sizes: list[int] = []

    def __init__(self, max_workers: int, **_: object) -> None:
        self.sizes.append(max_workers)

    def __enter__(self) -> RecordingPool:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def map(self, work, items):  # noqa: ANN001, ANN201 - the executor's signature
        return map(work, items)


def test_ae15_workers_beyond_the_cores_are_capped_with_a_note(
    clip_root, tmp_path, capsys, monkeypatch
):
    """AE15: --workers 99999 forked 99,999 processes for one shard, hanging a shared machine."""
    RecordingPool.sizes = []
    monkeypatch.setattr(common, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(common, "available_cores", lambda: 2, raising=False)
    labels = clip_root.parents[1] / "labels.csv"
    out = tmp_path / "k_w"
    assert build_clips(clip_root, labels, out, "--workers", "99999", "--shard-size", "3") == 0
    err = capsys.readouterr().err
    assert "--workers 99999 is more than the 2 core(s) available; using 2" in err
    assert RecordingPool.sizes == [2]


def test_ae16_a_misspelt_modality_field_names_the_fix():
    """AE16: a dict modality with "sze" gave a raw dataclass TypeError."""
    modalities = [
        {"name": "audio", "pattern": "ripple", "sze": 16},
        {"name": "visual", "pattern": "glyph"},
    ]
    with pytest.raises(ValueError, match="modality 'audio': unknown field 'sze'") as error:
        make_synthetic(modalities=modalities, n_train=64, n_validation=32, n_test=32)
    assert "did you mean 'size'?" in str(error.value)
    assert "valid fields: name, pattern, amplitude" in str(error.value)


def test_ae18_a_train_split_missing_a_class_is_warned_about():
    """AE18: hand-made splits whose train holds only class 0 were accepted without a word."""
    info = DatasetInfo("toy", (ModalitySpec("v", (3,), "vector"),), class_names=("x", "y"))

    def split(name: str, n: int, label: int) -> TensorMultimodalDataset:
        inputs = {"v": torch.randn(n, 3, generator=torch.Generator().manual_seed(n + label))}
        return TensorMultimodalDataset(info, name, inputs, torch.full((n,), label))

    with pytest.warns(UserWarning, match=r"train has no sample of class 'y' \(1 of 2 classes\)"):
        DatasetSplits(info, split("train", 40, 0), split("validation", 10, 0), split("test", 10, 1))


def test_ae22_a_non_ascii_speaker_is_named_with_a_name_that_works(sources, tmp_path):
    """AE22: 5_jöhn_2.wav was skipped as "expected digit_speaker_take.wav", which it is."""
    mnist, fsdd = sources
    own = shutil.copytree(fsdd, tmp_path / "recordings")
    shutil.copy(own / "5_nicolas_0.wav", own / "5_jöhn_2.wav")
    assert build_avmnist(tmp_path / "c", mnist, own) == 0
    skipped = json.loads((tmp_path / "c" / "meta.json").read_text())["skipped"]
    reasons = {s["key"]: s["reason"] for s in skipped}
    assert "speaker 'jöhn' is not ASCII lower-case letters" in reasons["5_jöhn_2.wav"]
    assert "5_john_2.wav" in reasons["5_jöhn_2.wav"]


def test_ae25_a_relative_clip_path_leaving_root_is_refused(clip_root, tmp_path, capsys):
    """AE25: "../../clips_out/dog0" built --root's own dog0.mp4 under the "../.." key."""
    write_clip(clip_root.parents[1] / "clips_out" / "dog0.mp4", 2)
    text = (clip_root.parents[1] / "labels.csv").read_text()
    labels = tmp_path / "labels.csv"
    labels.write_text(text.replace("dog0,", "../../clips_out/dog0,"))
    status = build_clips(clip_root, labels, tmp_path / "out")
    refused(capsys, status, 2, "names ../../clips_out/dog0, which is not under --root")
    assert not (tmp_path / "out").exists()


def test_ae26_a_frame_size_too_big_for_memory_is_refused_before_decoding(
    clip_root, tmp_path, capsys, monkeypatch
):
    """AE26: --frame-size 20000 20000 was killed by the kernel after eating the memory."""

    def no_decoding(*_: object, **__: object) -> None:
        raise AssertionError("a clip was decoded")

    monkeypatch.setattr(avcache, "process_clips", no_decoding)
    monkeypatch.setattr(avcache, "memory_bytes", lambda: 16 * 2**30, raising=False)
    labels = clip_root.parents[1] / "labels.csv"
    status = build_clips(clip_root, labels, tmp_path / "k", "--frame-size", "20000", "20000")
    refused(capsys, status, 2, "--frame-size 20000 20000 makes 1,200 MB per frame", "224 224")
    assert not (tmp_path / "k").exists()


def test_ae27_a_path_option_with_blanks_around_it_is_refused(sources, tmp_path, capsys):
    """AE27: --out 'c1 ' built a second cache "c1 " beside c1."""
    with pytest.raises(SystemExit) as exit_:
        build_avmnist(tmp_path / "c1 ", *sources, "--subset", "0.5")
    refused(capsys, exit_.value.code, 2, "argument --out", "ends with a space", "did you mean")
    assert not list(tmp_path.iterdir())


def test_ae29_a_meta_json_linked_to_another_manifest_is_named(sources, tmp_path):
    """AE29: a meta.json linked to another cache's manifest got that cache's repair advice."""
    assert build_avmnist(tmp_path / "c1", *sources, "--subset", "0.5") == 0
    linked = shutil.copytree(tmp_path / "c1", tmp_path / "c_ln")
    (linked / "meta.json").unlink()
    (linked / "meta.json").symlink_to(Path("..") / "c1" / "meta.json")
    with pytest.raises(Exception, match=r"meta.json is a symbolic link \(to \.\./c1/meta.json\)"):
        load_dataset("avmnist", root=linked)


def test_ae36_labels_re_saved_with_padding_leave_the_cache_current(clip_root, tmp_path, capsys):
    """AE36: the same labels padded ("dog " for "dog"), which the build trims, were refused as
    "other labels, splits or video files"; labels that really differ still are."""
    labels = tmp_path / "labels.csv"
    text = (clip_root.parents[1] / "labels.csv").read_text()
    labels.write_text(text)
    out = tmp_path / "k"
    assert build_clips(clip_root, labels, out) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    labels.write_text(text.replace(",dog,", ", dog ,").replace("\n", "\r\n"))
    assert build_clips(clip_root, labels, out) == 0
    captured = capsys.readouterr()
    assert "labels.csv changed since the build, but its rows read the same" in captured.err
    assert "already complete" in captured.out
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    labels.write_text(text.replace("dog1,dog,train", "dog1,dog,test"))
    status = build_clips(clip_root, labels, out)
    refused(capsys, status, 2, "built from other sources", "--force")

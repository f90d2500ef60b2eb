"""AV-MNIST preparation and loading: fixtures, corrupt input, resume, downloads, real data."""

from __future__ import annotations

import gzip
import hashlib
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from g2d_lite.data import MissingDatasetError, load_dataset
from g2d_lite.data.avmnist import load_avmnist
from g2d_lite.data.cache import WORK_DIR
from g2d_lite.data.prepare import avmnist as prepare
from g2d_lite.data.prepare import mnist_fsdd
from tests.data_fixtures import (
    build_shared_avmnist,
    fsdd_archive,
    make_fsdd,
    make_mnist,
    needs_shared_mnist_fsdd,
    tree_hashes,
    truncate,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("avmnist-sources")
    return make_mnist(folder / "mnist"), make_fsdd(folder / "fsdd" / "recordings")


def build(out: Path, sources: tuple[Path, Path], *extra: str) -> int:
    mnist, fsdd = sources
    argv = [
        "--mnist-dir",
        str(mnist),
        "--fsdd-dir",
        str(fsdd),
        "--out",
        str(out),
        "--no-progress",
        "--shard-size",
        "40",
        *extra,
    ]
    return prepare.main(argv)


@pytest.fixture(scope="module")
def built(sources: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("avmnist-cache") / "avmnist"
    assert build(out, sources) == 0
    return out


def test_cache_layout_shapes_and_splits(built: Path) -> None:
    meta = json.loads((built / "meta.json").read_text())
    # 200 t10k digits: 40 test, 160 pool -> 16 validation, 144 train.
    assert meta["splits"] == {"train": 144, "validation": 16, "test": 40}
    assert meta["params"]["mnist_train"] is False
    assert not meta["sources"]["fsdd"]["official"]  # fixtures are not the official release
    assert "CC BY-SA 4.0" in meta["licences"]["fsdd"] and "LeCun" in meta["licences"]["mnist"]
    for split, n in meta["splits"].items():
        image = np.load(built / "image" / f"{split}_data.npy")
        audio = np.load(built / "audio" / f"{split}_data.npy")
        labels = np.load(built / f"{split}_labels.npy")
        assert image.shape == (n, 784) and image.dtype == np.uint8
        assert audio.shape == (n, 112, 112) and audio.dtype == np.uint8
        assert labels.dtype == np.int64 and set(labels) <= set(range(10))
    assert not (built / WORK_DIR).exists()


def test_pairing_matches_digits_and_holds_out_speakers(built: Path) -> None:
    names = (built / "recordings.txt").read_text().split()
    speakers = {}
    for split in ("train", "validation", "test"):
        labels = np.load(built / f"{split}_labels.npy")
        paired = [names[i] for i in np.load(built / "pairing" / f"{split}_audio.npy")]
        assert [int(n.split("_")[0]) for n in paired] == labels.tolist()
        speakers[split] = {n.split("_")[1] for n in paired}
    assert speakers == {
        "train": {"george", "jackson", "lucas"},
        "validation": {"nicolas"},
        "test": {"theo", "yweweler"},
    }


def test_validation_from_held_out_takes(sources: tuple[Path, Path], tmp_path: Path) -> None:
    assert build(tmp_path / "avmnist", sources, "--val-speakers", "") == 0
    names = (tmp_path / "avmnist" / "recordings.txt").read_text().split()
    used = {
        s: {names[i] for i in np.load(tmp_path / "avmnist" / "pairing" / f"{s}_audio.npy")}
        for s in ("train", "validation")
    }
    assert {n.split("_")[1] for n in used["validation"]} <= {
        "george",
        "jackson",
        "lucas",
        "nicolas",
    }
    assert not used["train"] & used["validation"]  # same speakers, other takes


def test_loader_gives_scaled_float_tensors(built: Path) -> None:
    data = load_dataset("avmnist", root=str(built))
    assert data.sizes() == {"train": 144, "validation": 16, "test": 40}
    assert data.info.modality_names == ("audio", "image")
    assert [m.kind for m in data.info.modalities] == ["spectrogram", "image"]
    inputs, target = data.train[0]
    assert inputs["audio"].shape == (1, 112, 112) and inputs["image"].shape == (1, 28, 28)
    assert inputs["audio"].dtype == torch.float32 and target.dtype == torch.long
    assert float(inputs["audio"].min()) >= 0.0 and float(inputs["audio"].max()) <= 1.0
    mapped = load_avmnist(built, in_memory=False)
    assert torch.equal(mapped.test[3][0]["audio"], data.test[3][0]["audio"])
    assert torch.equal(mapped.test.targets, data.test.targets)


def test_audio_pool_shrinks_spectrograms_for_cpu_runs(built: Path) -> None:
    full, pooled = load_avmnist(built), load_avmnist(built, audio_pool=4)
    assert pooled.info.spec("audio").shape == (1, 28, 28)
    torch.testing.assert_close(
        pooled.test.inputs["audio"][:2], F.avg_pool2d(full.test.inputs["audio"][:2], 4)
    )
    with pytest.raises(ValueError, match="must divide 112"):
        load_avmnist(built, audio_pool=5)


def test_utterance_norm_standardises_each_spectrogram_on_both_paths(built: Path) -> None:
    raw = load_avmnist(built).test.inputs["audio"][:3]
    normed = load_avmnist(built, audio_norm="utterance")
    audio = normed.test.inputs["audio"][:3]
    torch.testing.assert_close(audio.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(audio.std(dim=(1, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    # Exactly (x - mean) / std of the raw [0, 1] spectrogram; images untouched.
    torch.testing.assert_close(audio[1], (raw[1] - raw[1].mean()) / raw[1].std())
    assert normed.test.inputs["image"].equal(load_avmnist(built).test.inputs["image"])
    mapped = load_avmnist(built, in_memory=False, audio_norm="utterance")
    torch.testing.assert_close(mapped.test[2][0]["audio"], audio[2])
    with pytest.raises(ValueError, match="valid: none, utterance"):
        load_avmnist(built, audio_norm="speaker")


def test_rebuild_is_byte_identical_and_rerun_does_nothing(
    built: Path, sources: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = tmp_path / "avmnist"
    assert build(again, sources, "--shard-size", "64") == 0
    assert tree_hashes(again) == tree_hashes(built)
    before = tree_hashes(again)
    capsys.readouterr()
    assert build(again, sources) == 0
    assert "already complete" in capsys.readouterr().out
    assert tree_hashes(again) == before


def test_other_settings_need_force(
    built: Path, sources: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "avmnist"
    assert build(out, sources) == 0
    assert build(out, sources, "--snr-db", "10") == 2
    assert "--force" in capsys.readouterr().err
    assert build(out, sources, "--snr-db", "10", "--force") == 0
    assert json.loads((out / "meta.json").read_text())["params"]["snr_db"] == 10.0


def test_corrupt_recording_is_reported_and_counted(
    sources: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fsdd = make_fsdd(tmp_path / "recordings")
    truncate(fsdd / "3_george_1.wav")
    (fsdd / "notes.wav").write_bytes(b"")
    assert build(tmp_path / "avmnist", (sources[0], fsdd)) == 0
    out = capsys.readouterr().out
    assert "skipped: 2" in out and "3_george_1.wav" in out
    meta = json.loads((tmp_path / "avmnist" / "meta.json").read_text())
    reasons = {s["key"]: s["reason"] for s in meta["skipped"]}
    assert reasons["3_george_1.wav"].startswith("unreadable audio")
    assert reasons["notes.wav"].startswith("unrecognised file name")
    assert "3_george_1.wav" not in (tmp_path / "avmnist" / "recordings.txt").read_text()


def interrupt_build(
    out: Path, sources: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, finished: int = 3
) -> None:
    """A build that crashes after ``finished`` shards, leaving them in the work folder."""
    real = prepare.spectrogram_shard
    done: list[str] = []

    def crash_after(samples, plan):
        if len(done) == finished:
            raise RuntimeError("simulated crash")
        done.append(samples[0][0])
        return real(samples, plan)

    monkeypatch.setattr(prepare, "spectrogram_shard", crash_after)
    monkeypatch.setenv("G2D_LITE_DEBUG", "1")  # the crash propagates instead of one line
    with pytest.raises(RuntimeError, match="simulated crash"):
        build(out, sources)
    monkeypatch.setattr(prepare, "spectrogram_shard", real)


def count_shards(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each shard computed from now on (its first sample's split)."""
    real = prepare.spectrogram_shard
    calls: list[str] = []

    def count(samples, plan):
        calls.append(samples[0][0])
        return real(samples, plan)

    monkeypatch.setattr(prepare, "spectrogram_shard", count)
    return calls


def test_interrupted_build_resumes_without_redoing_shards(
    built: Path, sources: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "avmnist"
    interrupt_build(out, sources, monkeypatch)
    assert len(list((out / WORK_DIR).glob("shard-*"))) == 3
    assert not (out / "meta.json").exists()
    with pytest.raises(MissingDatasetError, match="interrupted build") as error:
        load_avmnist(out)
    # probe 33 EB14: the command printed lacked the build's --shard-size, and was refused
    assert f"--out {out} --no-mnist-train --shard-size 40)" in str(error.value)
    calls = count_shards(monkeypatch)
    assert build(out, sources) == 0
    assert len(calls) == 6 - 3  # shards of 40: train 144 -> 4, validation 16 -> 1, test 40 -> 1
    assert tree_hashes(out) == tree_hashes(built)


def test_resume_recomputes_damaged_or_unchecked_shards(
    built: Path,
    sources: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "avmnist"
    interrupt_build(out, sources, monkeypatch)
    damaged = out / WORK_DIR / "shard-000001" / "audio_train.npy"
    spectrograms = np.load(damaged)
    spectrograms[:] = 0
    np.save(damaged, spectrograms)  # same size, other bytes
    old = out / WORK_DIR / "shard-000002" / "shard.json"  # as an older kit wrote it
    record = json.loads(old.read_text())
    del record["files"]
    old.write_text(json.dumps(record))
    calls = count_shards(monkeypatch)
    capsys.readouterr()
    assert build(out, sources) == 0
    printed = capsys.readouterr().out
    assert len(calls) == 6 - 3 + 2
    assert "shards: 5 computed, 1 resumed" in printed
    assert "shard-000001 from the interrupted build has audio_train.npy changed" in printed
    assert "shard-000002 from the interrupted build was written by an older kit" in printed
    assert tree_hashes(out) == tree_hashes(built)


def test_unpacked_mnist_files_build_the_same_cache(
    built: Path, sources: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """MNIST as torchvision and many mirrors keep it (IDX files without .gz) is read, and
    meta.json records the digests of what was read."""
    unpacked = tmp_path / "mnist_raw"
    unpacked.mkdir()
    for packed in sources[0].glob("*.gz"):
        (unpacked / packed.stem).write_bytes(gzip.decompress(packed.read_bytes()))
    out = tmp_path / "avmnist"
    assert build(out, (unpacked, sources[1])) == 0
    arrays = {k: v for k, v in tree_hashes(out).items() if k.endswith(".npy")}
    assert arrays == {k: v for k, v in tree_hashes(built).items() if k.endswith(".npy")}
    ours, theirs = (json.loads((c / "meta.json").read_text())["sources"] for c in (out, built))
    for name, record in ours["mnist"].items():
        assert record["sha256"] == theirs["mnist"][name]["sha256"]
        assert "gz_md5" not in record
    for packed in unpacked.iterdir():
        packed.unlink()
    capsys.readouterr()
    assert build(tmp_path / "empty", (unpacked, sources[1])) == 2
    assert "or the same files unpacked, without .gz" in capsys.readouterr().err


def test_missing_cache_and_missing_sources_name_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(MissingDatasetError, match=r"g2d_lite\.data\.prepare avmnist"):
        load_avmnist(tmp_path / "nowhere")
    assert prepare.main(["--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "--download" in capsys.readouterr().err
    code = prepare.main(
        [
            "--mnist-dir",
            str(tmp_path / "no-mnist"),
            "--fsdd-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2 and "--mnist-dir folder not found" in capsys.readouterr().err


def test_multibench_layout_without_validation_files(built: Path, tmp_path: Path) -> None:
    # MultiBench's release: train/test only and no meta.json; the last twelfth becomes validation.
    for sub in ("image", "audio"):
        (tmp_path / sub).mkdir()
        for split in ("train", "test"):
            (tmp_path / sub / f"{split}_data.npy").write_bytes(
                (built / sub / f"{split}_data.npy").read_bytes()
            )
    for split in ("train", "test"):
        (tmp_path / f"{split}_labels.npy").write_bytes((built / f"{split}_labels.npy").read_bytes())
    data = load_avmnist(tmp_path)
    assert data.sizes() == {"train": 132, "validation": 12, "test": 40}


def _digest_args(mnist: Path, fsdd: Path) -> list[str]:
    args = []
    for name in mnist_fsdd.TEST_FILES:
        data = gzip.decompress((mnist / f"{name}.gz").read_bytes())
        args += ["--expect", f"{name}={hashlib.sha256(data).hexdigest()}"]
    files = {p.name: p.read_bytes() for p in fsdd.glob("*.wav")}
    return args + ["--expect", f"{mnist_fsdd.FSDD_KEY}={mnist_fsdd.recordings_digest(files)}"]


def test_download_from_urls_with_checksums(
    sources: tuple[Path, Path], built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mnist, fsdd = sources
    archive = fsdd_archive(fsdd, tmp_path / "v1.0.10.tar.gz")
    urls = ["--mnist-url", mnist.as_uri(), "--fsdd-url", archive.as_uri(), "--no-mnist-train"]
    common = [
        "--download",
        *urls,
        "--download-dir",
        str(tmp_path / "dl"),
        "--no-progress",
        "--shard-size",
        "40",
    ]
    # The fixtures are not the official files: the pinned checksums reject them, clearly.
    assert prepare.main([*common, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch for t10k-images-idx3-ubyte" in err and "--expect" in err
    assert not (tmp_path / "dl" / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    # Trusted with their own digests, the same URLs build the same cache as the local folders.
    out = tmp_path / "avmnist"
    assert prepare.main([*common, *_digest_args(mnist, fsdd), "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["downloaded_from"][mnist_fsdd.FSDD_KEY] == archive.as_uri()
    assert meta["sources"] == json.loads((built / "meta.json").read_text())["sources"]
    assert (out / "audio" / "test_data.npy").read_bytes() == (
        built / "audio" / "test_data.npy"
    ).read_bytes()
    wrong = ["--expect", f"{mnist_fsdd.FSDD_KEY}={'0' * 64}"]
    assert prepare.main([*common, *_digest_args(mnist, fsdd), *wrong, "--out", str(out)]) == 2
    assert f"checksum mismatch for {mnist_fsdd.FSDD_KEY}" in capsys.readouterr().err


def test_script_runs_as_a_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["prepare_avmnist.py", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(str(REPO / "data_scripts" / "prepare_avmnist.py"), run_name="__main__")
    assert exit_.value.code == 0 and "--image-energy" in capsys.readouterr().out


@needs_shared_mnist_fsdd
def test_real_data_each_modality_is_above_chance(tmp_path: Path) -> None:
    out = tmp_path / "avmnist"
    assert build_shared_avmnist(out) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["sources"]["fsdd"]["official"]
    assert all(v["official"] for v in meta["sources"]["mnist"].values())
    data = load_avmnist(out)
    accuracy = {m: _linear_probe(data, m, pool) for m, pool in (("image", 2), ("audio", 8))}
    # Chance is 10 %; the recipe makes images clearly stronger than held-out-speaker audio.
    assert accuracy["image"] > 0.3 and accuracy["audio"] > 0.2, accuracy
    assert accuracy["image"] > accuracy["audio"], accuracy


def _linear_probe(data, modality: str, pool: int) -> float:
    """Test accuracy of an L2-regularised logistic regression on average-pooled inputs."""
    torch.manual_seed(0)
    feats = {
        s: F.avg_pool2d(data[s].as_tensors()[0][modality], pool).flatten(1)
        for s in ("train", "test")
    }
    mean, std = feats["train"].mean(0), feats["train"].std(0) + 1e-3
    x, y = (feats["train"] - mean) / std, data.train.targets
    weight = torch.zeros(x.shape[1], 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ weight + bias, y) + 1e-3 * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    logits = ((feats["test"] - mean) / std) @ weight + bias
    return float((logits.argmax(1) == data.test.targets).float().mean())


def test_progress_environment_switch_silences_the_build_bar(
    sources: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mnist, fsdd = sources
    for switch, shown in (("1", True), ("0", False)):
        monkeypatch.setenv("G2D_LITE_PROGRESS", switch)
        argv = ["--mnist-dir", str(mnist), "--fsdd-dir", str(fsdd), "--out", str(tmp_path / switch)]
        assert prepare.main(argv) == 0
        assert ("sample/s" in capsys.readouterr().err) is shown, f"G2D_LITE_PROGRESS={switch}"


def test_a_pool_leaving_one_value_refuses_utterance_norm(built: Path) -> None:
    """Probe 26 AB25: audio_pool=112 with audio_norm="utterance" made NaNs itself, then blamed
    the cache ("clean or drop those samples")."""
    with pytest.raises(ValueError, match="audio_pool 112 leaves 1x1 spectrograms.*at most 56"):
        load_avmnist(built, audio_pool=112, audio_norm="utterance")

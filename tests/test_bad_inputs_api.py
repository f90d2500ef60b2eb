"""The Python API a notebook user calls answers wrong types and mismatched pieces clearly."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from g2d_lite.config import METHODS
from g2d_lite.data.base import DatasetInfo, ModalitySpec, TensorMultimodalDataset
from g2d_lite.data.validate import DatasetError
from g2d_lite.errors import KitError
from g2d_lite.notebook import load_data
from g2d_lite.rundir import RunFolderError
from g2d_lite.store import load_or_train_student, load_or_train_teacher
from g2d_lite.train import train_student
from tests.helpers import tiny_config, tiny_data

INFO = DatasetInfo("toy", (ModalitySpec("x", (2,), "vector"),), "classification", ("a", "b"))


def test_a_profile_name_or_a_dict_where_a_config_belongs(tmp_path):
    """Probe A08, A25."""
    with pytest.raises(TypeError, match=r"load_data takes a Config.*resolve\('smoke'\)"):
        load_data("smoke")
    with pytest.raises(TypeError, match="takes a Config, got dict"):
        load_or_train_teacher({"epochs": 1}, tiny_data(), "audio", tmp_path)
    with pytest.raises(TypeError, match="takes a Config, got dict"):
        train_student({"epochs": 1}, tiny_data())


@pytest.mark.parametrize("shape", [2, (2.0,), (), (0,), "2"], ids=repr)
def test_a_modality_shape_that_is_not_a_tuple_of_sizes(shape):
    """Probe A15: an int shape was accepted and failed later with a TypeError."""
    with pytest.raises(ValueError, match="shape must be a tuple of positive whole numbers"):
        ModalitySpec("x", shape, "vector")


def test_repeated_class_names_are_refused():
    """Probe A18."""
    with pytest.raises(ValueError, match=r"class names \['a'\] appear more than once"):
        DatasetInfo("toy", INFO.modalities, "classification", ("a", "b", "a"))


def test_inputs_that_are_not_tensors_and_targets_of_the_wrong_shape():
    """Probe A20 (a Python list: raw AttributeError), A22 ((N, 1) targets: torch error later)."""
    with pytest.raises(DatasetError, match="modality 'x' is a list, not a torch.Tensor"):
        TensorMultimodalDataset(
            INFO, "train", {"x": [[0.0, 1.0]]}, torch.zeros(1, dtype=torch.long)
        )
    with pytest.raises(DatasetError, match=r"one class index per sample.*\(3, 1\).*reshape"):
        TensorMultimodalDataset(INFO, "train", {"x": torch.zeros(3, 2)}, torch.zeros(3, 1).long())


def test_teachers_given_in_the_wrong_form(tmp_path):
    """Probe A27 (a path string), A29 (runs given to train_student: now accepted), A34 (models
    given to load_or_train_student)."""
    cfg, data = tiny_config(epochs=1), tiny_data()
    student = cfg.replace(**METHODS["g2d"])
    with pytest.raises(TypeError, match="teachers must map each modality to its teacher model"):
        train_student(student, data, str(tmp_path))
    runs = {m: load_or_train_teacher(cfg, data, m, tmp_path) for m in data.info.modality_names}
    assert train_student(student, data, runs).metrics["test"]  # runs stand for their models
    models = {m: run.model for m, run in runs.items()}
    with pytest.raises(KitError, match=r"teachers\['audio'\] is a UnimodalClassifier.*runs"):
        load_or_train_student(student, data, models, tmp_path)
    # probe T54: a joint run given as a teacher ended in torch's AttributeError
    joint = load_or_train_student(cfg.replace(**METHODS["joint"]), data, runs, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(TypeError, match="the teacher for 'audio' is a multimodal model"):
        load_or_train_student(student, data, {**runs, "audio": joint}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_model_cache_that_is_a_file(tmp_path):
    """Probe A30: a raw NotADirectoryError."""
    target = tmp_path / "afile"
    target.write_text("x")
    with pytest.raises(KitError, match="the model cache .* is a file"):
        load_or_train_teacher(tiny_config(), tiny_data(), "audio", target)


def test_data_that_do_not_match_the_config_get_their_own_run(tmp_path):
    """Probe A32: the seed-0 teacher was returned for seed-3 data."""
    cfg = tiny_config(epochs=1)
    first = load_or_train_teacher(cfg, tiny_data(seed=0), "audio", tmp_path)
    other = load_or_train_teacher(cfg, tiny_data(seed=3), "audio", tmp_path)
    assert first.run_dir != other.run_dir
    again = load_or_train_teacher(cfg, tiny_data(seed=0), "audio", tmp_path)
    assert again.run_dir == first.run_dir


def test_a_run_folder_moved_while_it_trains_is_not_recreated(tmp_path):
    """Probe P97: the run recreated its old path and finished there without a config.json."""
    from g2d_lite.train import train_teacher

    out, moved = tmp_path / "run", tmp_path / "moved"

    def move_away(trainer, epoch):
        if epoch == 0:
            out.rename(moved)

    with pytest.raises(RunFolderError, match="disappeared while the run was writing it"):
        train_teacher(tiny_config(epochs=3), tiny_data(), "audio", out, callbacks=[move_away])
    assert not out.exists()
    train_teacher(tiny_config(epochs=3), tiny_data(), "audio", moved)  # resumes where it is now


def test_fifth_probe_api_cases(tmp_path):
    """Probe Q79 (an empty modality name), Q82 (a config for other data), Q84 (a string of
    modalities), Q85 (a name among the configs), Q88 (a split of another shape), Q92 (no
    artifact folder)."""
    from g2d_lite.config import resolve
    from g2d_lite.data.base import DatasetSplits
    from g2d_lite.store import load_or_train_students, load_or_train_teachers

    with pytest.raises(ValueError, match="a modality needs a name"):
        ModalitySpec("", (4,), "vector")
    data = tiny_data()
    with pytest.raises(ValueError, match="dataset 'avmnist' but the data given are 'synthetic'"):
        load_or_train_teacher(tiny_config(dataset="avmnist"), data, "audio", tmp_path)
    with pytest.raises(TypeError, match=r"pass \['audio'\]"):
        load_or_train_teachers(tiny_config(), data, "audio", tmp_path)
    with pytest.raises(TypeError, match=r"item 1 of cfgs"):
        load_or_train_students([tiny_config(), "g2d"], data, None, tmp_path)
    with pytest.raises(TypeError, match="artifact_dir must be a folder path"):
        load_or_train_student(resolve(method="joint"), data, None, None)
    wide = DatasetInfo("toy", (ModalitySpec("x", (3,), "vector"),), "classification", ("a", "b"))
    split = TensorMultimodalDataset(INFO, "train", {"x": torch.zeros(4, 2)}, torch.zeros(4).long())
    other = TensorMultimodalDataset(wide, "test", {"x": torch.zeros(4, 3)}, torch.zeros(4).long())
    with pytest.raises(DatasetError, match=r"test split's 'x' samples have shape \(3,\)"):
        DatasetSplits(INFO, split, split, other)


def test_splits_with_other_classes_are_refused():
    """Probe R39: a 2-class test split under a 10-class train split trained and was scored."""
    from g2d_lite.data.base import DatasetSplits

    pets = DatasetInfo("toy", INFO.modalities, "classification", ("cat", "dog"))
    digits = DatasetInfo("toy", INFO.modalities, "classification", tuple("0123456789"))
    train = TensorMultimodalDataset(
        digits, "train", {"x": torch.zeros(4, 2)}, torch.zeros(4).long()
    )
    other = TensorMultimodalDataset(pets, "test", {"x": torch.zeros(4, 2)}, torch.zeros(4).long())
    with pytest.raises(
        DatasetError,
        match=r"the validation split has task 'classification' with classes \['cat', 'dog'\]",
    ):
        DatasetSplits(digits, train, other, other)


def test_numpy_numbers_are_config_values():
    """Probe R35: epochs=np.int64(2) was refused as "must be an integer"."""
    import numpy as np

    from g2d_lite.config import resolve

    cfg = resolve("smoke", epochs=np.int64(2), lr=np.float32(0.5))
    assert (cfg.epochs, type(cfg.epochs), cfg.lr) == (2, int, 0.5)
    with pytest.raises(ValueError, match="epochs must be an integer"):
        resolve("smoke", epochs=np.bool_(True))


def test_a_cnn_kind_with_a_flat_shape_is_refused_where_it_is_declared():
    """Probe R36: an image modality of shape (16,) failed at the first forward pass."""
    with pytest.raises(ValueError, match=r"modality 'a': kind 'image' takes a \(C, H, W\)"):
        ModalitySpec("a", (16,), "image")
    with pytest.raises(ValueError, match=r"kind 'video' takes a \(C, T, H, W\)"):
        ModalitySpec("v", (3, 8, 8), "video")
    assert ModalitySpec("x", (4, 4), "vector").shape == (4, 4)


def test_assigning_to_a_config_names_the_way_to_change_it():
    """Probe R40: a bare FrozenInstanceError."""
    import dataclasses

    from g2d_lite.config import resolve

    cfg = resolve("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError, match=r"cfg.replace\(epochs=5\)"):
        cfg.epochs = 5
    with pytest.raises(dataclasses.FrozenInstanceError, match="no key 'epoch'; valid keys"):
        cfg.epoch = 0
    assert cfg.replace(epochs=5).epochs == 5 and cfg.epochs != 5


def test_a_teacher_left_out_of_the_modalities_setting_is_refused(tmp_path):
    """Probe R07, from Python."""
    from g2d_lite.train import train_teacher

    cfg, data = tiny_config(modalities=("audio",)), tiny_data()
    with pytest.raises(ValueError, match="leaves out this teacher's modality 'visual'"):
        train_teacher(cfg, data, "visual", tmp_path / "t")


def test_seventh_probe_api_cases(tmp_path):
    """Probes S36 (class names as one string: 7 classes), S37 (modality names as strings),
    S48 (run_dir "" wrote into the working folder), S49 (the train split as the test split)."""
    from g2d_lite.train import train_teacher

    mods = (ModalitySpec("a", (4,), "vector"), ModalitySpec("b", (4,), "vector"))
    with pytest.raises(TypeError, match=r"got the string 'cat,dog'.*\('cat', 'dog'\)"):
        DatasetInfo("d", mods, class_names="cat,dog")
    with pytest.raises(TypeError, match="tuple of ModalitySpec"):
        DatasetInfo("d", ("a", "b"), class_names=("x", "y"))
    with pytest.raises(ValueError, match="run_dir must be a folder path"):
        train_teacher(tiny_config(epochs=1), tiny_data(), "audio", run_dir="")
    data = tiny_data()
    from g2d_lite.data.base import DatasetSplits

    with pytest.warns(UserWarning, match="the test split is the train split itself"):
        DatasetSplits(data.info, data.train, data.validation, data.train)


def test_a_model_cache_inside_a_training_run_is_refused(tmp_path):
    """Probe S50: the model cache was made inside a finished run's folder."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    with pytest.raises(KitError, match="inside the training run"):
        load_or_train_teacher(tiny_config(epochs=1), tiny_data(), "audio", run / "art")


def test_a_missing_split_is_named():
    """Probe T27: DatasetSplits(..., test=None) gave an AttributeError."""
    from g2d_lite.data.base import DatasetSplits

    data = tiny_data()
    with pytest.raises(TypeError, match="test is NoneType"):
        DatasetSplits(data.info, data.train, data.validation, None)


# ---------------------------------------------------------------- the ninth probe's cases
def test_loss_and_confidence_arguments_in_the_wrong_order_or_range():
    """Probes U35 (g2d_loss with logits and target swapped: "pass target.long()"), U36 (a label
    past the classes: a torch index error), U37 (a tensor for the dict), U42 (temperature=nan
    returned a NaN loss)."""
    from g2d_lite.losses import g2d_loss
    from g2d_lite.smp import teacher_confidence

    logits, y = torch.randn(2, 3), torch.tensor([0, 2])
    feats = {"a": torch.randn(2, 4)}
    with pytest.raises(ValueError, match=r"fused_logits of shape \(B, C\).*call g2d_loss\("):
        g2d_loss(y, feats, {"a": logits}, feats, logits)
    with pytest.raises(TypeError, match="target must be a tensor, got list"):
        g2d_loss(logits, feats, {"a": logits}, feats, [0, 2])
    with pytest.raises(ValueError, match="different batch sizes"):
        g2d_loss(logits, feats, {"a": logits}, feats, torch.tensor([0, 1, 2]))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
            g2d_loss(logits, feats, {"a": logits}, feats, y, temperature=bad)
    with pytest.raises(ValueError, match="logit_weight must be a finite number >= 0"):
        g2d_loss(logits, feats, {"a": logits}, feats, y, logit_weight=float("nan"))
    with pytest.raises(ValueError, match=r"labels range over 0..7.*class indices 0..2"):
        teacher_confidence({"a": logits, "b": logits}, torch.tensor([0, 7]))
    with pytest.raises(TypeError, match=r"got Tensor and Tensor; call teacher_confidence\("):
        teacher_confidence(logits, y)
    with pytest.raises(ValueError, match="logits of 'a': .* for 2 targets"):
        teacher_confidence({"a": torch.randn(3, 3)}, y)
    assert set(teacher_confidence({"a": logits}, y)) == {"a"}


def test_result_rows_from_a_hand_made_dict_and_summaries_of_a_list():
    """Probe U40: summarise([result_row("g2d", {"test": ...})]) gave KeyError: 'metric'."""
    from g2d_lite.results import result_row, summarise

    with pytest.raises(ValueError, match=r"metrics lack \['metric'.*TrainResult.metrics"):
        result_row("g2d", {"test": {"acc": 1.0}})
    metrics = {"metric": "acc", "test": {"acc": 90.0}, "role": "student", "seed": 0,
               "selection": "validation"}  # fmt: skip
    row = result_row("g2d", metrics)
    table = summarise([row, {**row, "seed": 1, "acc": 80.0}])  # a list is read as rows
    assert table.loc[0, "fused acc"] == "85.0 ± 7.1" and table.loc[0, "seeds"] == 2
    with pytest.raises(ValueError, match="rows lack the columns"):
        summarise([{"x": 1}])


def test_data_edited_in_place_is_fingerprinted_again():
    """Probe U57: a run trained on data zeroed in place must not record (or be matched by) the
    hash of the data before the edit; the fingerprint was computed once per data object."""
    from g2d_lite.provenance import data_fingerprint

    data = tiny_data()
    before = data_fingerprint(data)["content"]
    assert data_fingerprint(data)["content"] == before  # read again unchanged: the same hash
    data.train.inputs["audio"].mul_(0)
    edited = data_fingerprint(data)["content"]
    assert edited != before
    data.validation.inputs["visual"] = data.validation.inputs["visual"].clone()
    data.validation.inputs["visual"][0] = 1.0
    assert data_fingerprint(data)["content"] not in (before, edited)


# ---------------------------------------------------------------- the tenth probe's cases
def test_scores_refuse_a_task_typo_and_outputs_that_are_not_finite():
    """Probes W09 (all-NaN logits scored a plausible 50 %) and W10 ("classfication" was scored
    as regression)."""
    from g2d_lite.evaluate import metric_name, score

    logits, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="unknown task 'classfication'; valid tasks"):
        score(logits, y, "classfication")
    with pytest.raises(ValueError, match="unknown task"):
        metric_name("classfication")
    with pytest.raises(ValueError, match="NaN or inf"):
        score(torch.full((4, 3), float("nan")), y, "classification")
    assert 0 <= score(logits, y, "classification") <= 100


def test_spaces_around_an_override_value_mean_nothing(capsys):
    """Probe W (not counted): `epochs= 1` ended in "unexpected IndentationError … a bug?"."""
    from g2d_lite.config import parse_overrides

    assert parse_overrides(["epochs= 1", " seed = 3 "]) == {"epochs": 1, "seed": 3}


def test_store_calls_name_one_split_a_list_of_teachers_and_a_single_config(tmp_path):
    """Own probe: load_or_train_teacher(cfg, data.test, ...) failed with "too many indices for
    tensor", a list of teachers with AttributeError 'items', one Config for cfgs with "not
    iterable", no modalities trained nothing without a word, a mistyped role made a key."""
    from g2d_lite import store

    cfg, data = tiny_config(epochs=1), tiny_data()
    with pytest.raises(TypeError, match=r"got TensorMultimodalDataset \(one split; pass the whole"):
        load_or_train_teacher(cfg, data.test, "audio", tmp_path)
    with pytest.raises(TypeError, match="teachers must map each modality to its teacher run"):
        load_or_train_student(cfg, data, [1, 2], tmp_path)
    with pytest.raises(TypeError, match=r"cfgs must be a list of configs, got Config"):
        store.load_or_train_students(cfg, data, None, tmp_path)
    with pytest.raises(ValueError, match="modalities is empty"):
        store.load_or_train_teachers(cfg, data, [], tmp_path)
    with pytest.raises(ValueError, match="unknown role 'teachr'"):
        store.run_key(cfg, "teachr", "audio")
    assert not any(tmp_path.iterdir())


def test_notebook_helpers_and_smp_windows_name_their_arguments(tmp_path):
    """Own probe: save_figure("x") and show_markdown(5) were AttributeError and IPython's
    TypeError, save_metrics of a list wrote it, setup with a file for output_dir a raw
    FileExistsError, an epoch "x" a comparison TypeError, OGM(alpha=nan) was accepted, a list
    of encoders named "encoders: [1]"."""
    from g2d_lite import notebook, smp

    with pytest.raises(TypeError, match="fig must be a matplotlib figure"):
        notebook.save_figure("x", tmp_path, "a")
    with pytest.raises(TypeError, match="metrics must be a dict of named values"):
        notebook.save_metrics(tmp_path, [1, 2])
    with pytest.raises(TypeError, match="show_markdown takes text, got int"):
        notebook.show_markdown(5)
    a_file = tmp_path / "f"
    a_file.write_text("")
    with pytest.raises(ValueError, match="output_dir .* is a file"):
        notebook.setup("smoke", output_dir=a_file, progress=False)
    with pytest.raises(TypeError, match="epoch must be a whole number of epochs, got 'x'"):
        smp.SMP().coefficients({"a": 0.2, "b": 0.3}, "x")
    with pytest.raises(TypeError, match="start_epoch must be a whole number"):
        smp.SMP(start_epoch=1.5)
    with pytest.raises(ValueError, match="alpha must be a number >= 0, got nan"):
        smp.OGM(alpha=float("nan"))
    with pytest.raises(TypeError, match="encoders must be a dict keyed by modality"):
        smp.SMP().apply([torch.nn.Linear(2, 2)], {"a": 1.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_teachers_of_another_dataset_are_named_by_dataset_not_by_modality():
    """Probe S42: AV-MNIST teachers for a synthetic student were "teachers cover ['audio',
    'image'] ...; pass exactly one teacher per student modality", not the other dataset."""
    from g2d_lite.train import train_teacher

    cfg, data = tiny_config(epochs=1), tiny_data()
    teachers = {m: train_teacher(cfg, data, m).model for m in ("audio", "visual")}
    teachers["visual"].modality = "image"
    for teacher in teachers.values():
        teacher.data_fingerprint = {**teacher.data_fingerprint, "dataset": "avmnist"}
    teachers = {"audio": teachers["audio"], "image": teachers["visual"]}
    with pytest.raises(ValueError, match=r"the teachers were trained on avmnist .*dataset=avmnist"):
        train_student(cfg.replace(**METHODS["g2d"]), data, teachers)


def test_result_rows_under_a_method_s_name_hold_that_kind_of_run_and_datasets_take_names():
    """Probe S59: a teacher's metrics became a "g2d" row and a G²D student a "joint" one;
    S93: load_dataset(Config()) failed with "unhashable type: 'dict'"."""
    from g2d_lite import results
    from g2d_lite.data import load_dataset

    student = {"metric": "acc", "role": "student", "seed": 0, "selection": "validation"}
    student |= {"test": {"acc": 50.0}, "teachers": {"audio": "ab12"}}
    assert results.result_row("g2d", student)["acc"] == 50.0
    assert results.result_row("my variant", student)["method"] == "my variant"
    with pytest.raises(ValueError, match="of a run distilled from teachers, and joint trains"):
        results.result_row("joint", student)
    with pytest.raises(ValueError, match="trained without teachers, and g2d distils"):
        results.result_row("g2d", {**student, "teachers": {}})
    teacher = {**student, "role": "teacher", "modality": "audio", "teachers": {}}
    with pytest.raises(ValueError, match="these are the audio teacher's metrics, not a g2d run"):
        results.result_row("g2d", teacher)
    # probe 30 CC42: setup(method="g2d").replace(loss="ce") trained joint + SMP, reported as g2d
    recorded = {**student, "method": "joint+smp"}
    with pytest.raises(ValueError, match=r"of a joint\+smp run .*result_row\('joint\+smp'"):
        results.result_row("g2d", recorded)
    assert results.result_row("joint+smp", recorded)["acc"] == 50.0
    with pytest.raises(ValueError, match="of a run of no named method"):
        results.result_row("g2d", {**student, "method": None})
    with pytest.raises(TypeError, match=r"load_dataset takes a dataset name.*load_data\(cfg\)"):
        load_dataset(tiny_config())


def test_notebook_helpers_name_a_file_and_a_contradicting_method(tmp_path):
    """Probe V42 (save_metrics into a file: pathlib's FileExistsError), V52 (setup(method='g2d',
    loss='ce') trained joint+SMP recorded as g2d)."""
    from g2d_lite import notebook

    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="output_dir .*afile is a file"):
        notebook.save_metrics(tmp_path / "afile", {"a": 1})
    with pytest.raises(ValueError, match="loss='ce' contradicts method 'g2d'"):
        notebook.setup("smoke", 0, tmp_path / "o", False, method="g2d", loss="ce")
    assert notebook.setup("smoke", 0, tmp_path / "o", False, method="g2d", loss=None).loss == "g2d"


def test_a_training_run_as_a_notebooks_output_dir_is_refused_and_its_record_kept(tmp_path, data):
    """Probe 26 AC33 (lost work): setup/save_metrics with OUTPUT_DIR set to a finished teacher's
    folder replaced the run's metrics.json, and load_run then blamed "an older g2d-lite"."""
    from g2d_lite import notebook
    from g2d_lite.store import load_run
    from g2d_lite.train import train_teacher

    run = tmp_path / "teacher-audio"
    train_teacher(tiny_config(), data, "audio", run_dir=run)
    record = (run / "metrics.json").read_bytes()
    for output_dir, where in ((run, "is the training run"), (run / "figs", "is inside the")):
        with pytest.raises(ValueError, match=f"output_dir .* {where}.*a folder of their own"):
            notebook.setup("smoke", 0, output_dir, False)
        with pytest.raises(ValueError, match=where):
            notebook.save_metrics(output_dir, {"results": []})
    assert (run / "metrics.json").read_bytes() == record and not (run / "figs").exists()
    load_run(run)


def test_labels_out_of_range_and_infinite_inputs_are_named_not_blamed_on_torch_or_the_model(
    tmp_path,
):
    """Probes W54 (g2d_loss: torch's "Target 3 is out of bounds"), W65 (labels edited in place
    after load_data: an IndexError from deep in training) and W64 (inf inputs: evaluate said
    the model had diverged)."""
    from g2d_lite.evaluate import evaluate
    from g2d_lite.losses import g2d_loss
    from g2d_lite.train import train_teacher

    logits = {m: torch.zeros(4, 3) for m in ("audio", "visual")}
    features = {m: torch.zeros(4, 5) for m in ("audio", "visual")}
    with pytest.raises(ValueError, match=r"target holds label 3, but fused_logits has 3 classes"):
        g2d_loss(torch.zeros(4, 3), features, logits, features, torch.tensor([0, 1, 3, 0]))
    cfg = tiny_config(epochs=1)
    data = tiny_data()
    run = train_teacher(cfg, data, "audio", tmp_path / "teacher")
    data.train.targets[:] = 99
    with pytest.raises(DatasetError, match=r"synthetic/train: label 99 is outside 0\.\.\d+"):
        train_teacher(cfg, data, "audio", tmp_path / "again")
    assert not (tmp_path / "again").exists()
    data.test.inputs["audio"][:] = float("inf")
    with pytest.raises(DatasetError, match="synthetic/test: modality 'audio' holds .* infinite"):
        evaluate(run.model, data.test)


def test_load_model_names_a_run_folder_and_a_table_given_for_a_checkpoint(tmp_path, monkeypatch):
    """Probe W58: a run folder gave "no checkpoint at <folder>", and history.csv was called
    corrupt with --no-resume as the fix (which would start a healthy run over); W66: run_dir
    '~/t' made a folder named '~' in the working folder."""
    from g2d_lite.checkpoint import CheckpointError
    from g2d_lite.store import load_model
    from g2d_lite.train import train_teacher

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    run = train_teacher(tiny_config(epochs=1), tiny_data(), "audio", "~/t")
    assert run.run_dir == tmp_path / "home" / "t" and not (tmp_path / "~").exists()
    with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint.*best\.pt.*load_run"):
        load_model("~/t")
    with pytest.raises(CheckpointError, match=r"history\.csv is not a checkpoint but a text file"):
        load_model(run.run_dir / "history.csv")
    np.save(tmp_path / "x.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match=r"x\.npy is not a checkpoint but a NumPy array"):
        load_model(tmp_path / "x.npy")
    assert load_model("~/t/checkpoints/best.pt") is not None


def test_a_second_fit_of_a_trainer_without_a_run_folder_is_refused():
    """Probe M02: a rerun notebook cell calling fit() again trained one more epoch from the
    trained weights, logged it as epoch 0 again, and returned metrics of the first epoch 0
    beside the weights of the second."""
    from g2d_lite.train import Trainer

    trainer = Trainer(tiny_config(epochs=1).replace(**METHODS["joint"]), tiny_data())
    first = trainer.fit()
    weights = {k: v.clone() for k, v in first.model.state_dict().items()}
    with pytest.raises(KitError, match="already trained its model.*build a new Trainer"):
        trainer.fit()
    assert len(trainer.history) == 1
    assert all(torch.equal(v, weights[k]) for k, v in first.model.state_dict().items())


def test_figure_names_with_a_dot_and_folders_not_made_yet(tmp_path):
    """Probe M03 ("window_0.25" refused "without .25"), M04 (a missing output folder: a raw
    FileNotFoundError, where save_metrics makes the folder)."""
    import matplotlib.pyplot as plt

    from g2d_lite import notebook

    fig = plt.figure()
    assert notebook.save_figure(fig, tmp_path, "window_0.25") == tmp_path / "window_0.25.png"
    assert notebook.save_figure(fig, tmp_path / "new" / "sub", "lr_1e-3").is_file()
    with pytest.raises(ValueError, match="give the name 'fig.SVG' without .SVG"):
        notebook.save_figure(fig, tmp_path, "fig.SVG")
    plt.close(fig)


@pytest.mark.parametrize("value", ["no", "False", "off", 0, None], ids=repr)
def test_a_progress_setting_that_is_not_a_bool_is_refused(tmp_path, value):
    """Probe M05: setup(progress="no") (or "False", "off") turned the bars on: a non-empty
    string is truthy."""
    from g2d_lite import notebook

    with pytest.raises(TypeError, match=f"progress is True or False, got {value!r}"):
        notebook.setup("smoke", output_dir=tmp_path, progress=value)


def test_resume_must_be_a_bool_and_callbacks_a_list_of_functions(tmp_path):
    """Probe M31 (fit(resume="no") resumed a finished run: "no" is truthy), M32 (one function
    as callbacks: "'function' object is not iterable"; [1]: "'int' object is not callable",
    raised only after an epoch had trained)."""
    from g2d_lite.train import Trainer, train_teacher

    cfg, data = tiny_config(epochs=1), tiny_data()
    with pytest.raises(TypeError, match="resume is True or False, got 'no'"):
        Trainer(cfg.replace(**METHODS["joint"]), data, run_dir=tmp_path / "r").fit(resume="no")
    with pytest.raises(TypeError, match="resume is True or False, got 0"):
        train_teacher(cfg, data, "audio", run_dir=tmp_path / "t", resume=0)
    assert not (tmp_path / "r").exists() and not (tmp_path / "t").exists()
    for callbacks in (lambda trainer, epoch: None, [1], 5):
        with pytest.raises(TypeError, match="callbacks must be a list of functions f"):
            Trainer(cfg.replace(**METHODS["joint"]), data, callbacks=callbacks)


def test_a_validation_split_that_is_the_test_split_is_warned_about():
    """Probe M27: with validation = test, "honest" selection silently selected on test."""
    from g2d_lite.data.base import DatasetSplits

    data = tiny_data()
    with pytest.warns(UserWarning, match="the validation split is the test split itself"):
        DatasetSplits(data.info, data.train, data.test, data.test)


def test_sample_examples_of_a_regression_dataset_shows_targets():
    """Probe M33: a regression dataset (no classes) gave matplotlib's "Number of columns must
    be a positive integer, not 0"."""
    import matplotlib.pyplot as plt

    from g2d_lite import plots

    info = DatasetInfo("reg", (ModalitySpec("x", (2,), "vector"),), "regression", (), target_dim=1)
    ds = TensorMultimodalDataset(
        info, "train", {"x": torch.randn(6, 2)}, torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
    )
    fig = plots.sample_examples(ds, n_classes=3)
    assert [ax.get_title() for ax in fig.axes] == ["y = 0.5", "y = 1", "y = 2"]
    plt.close(fig)


def test_a_knob_typo_is_matched_to_the_knob_it_begins():
    """Probe M35: audio_amp suggested audio_dim (nearer by edit distance) over audio_amplitude."""
    from g2d_lite.data import load_dataset

    with pytest.raises(ValueError, match=r"did you mean audio_amplitude\?"):
        load_dataset("synthetic", audio_amp=0.5)


def test_a_split_size_typo_names_the_size_options_as_valid():
    """Probe AG01: n_val listed only the 22 per-modality knobs as valid, as if split sizes could
    not be set, and suggested nothing."""
    from g2d_lite.data import load_dataset

    with pytest.raises(ValueError, match=r"did you mean n_validation\?") as error:
        load_dataset("synthetic", n_train=64, n_val=32, n_test=32)
    assert "'n_train', 'n_validation', 'n_test'" in str(error.value)


def test_probe_24_api_cases(tmp_path, monkeypatch):
    """G06 (a student's name with "../" put its run folder outside the cache), G16 (a
    modality named "all" merged its steps with the ties in leader_share), G29
    (exercises.build("~/stud") wrote into a folder literally named "~")."""
    from g2d_lite import exercises

    data, cfg = tiny_data(), tiny_config(epochs=1)
    for name in ("x/../../escaped", "../escaped", "", " g2d"):
        with pytest.raises(ValueError, match="name .*(plain label|non-empty label)"):
            load_or_train_student(cfg.replace(**METHODS["joint"]), data, None, tmp_path, name=name)
    assert not any(tmp_path.iterdir()) and not (tmp_path.parent / "escaped").exists()
    for name in ("all", "None", "depth+flow", "rgb.left", "a/b"):
        with pytest.raises(
            ValueError, match=f"modality name {re.escape(repr(name))} cannot be used"
        ):
            ModalitySpec(name, (4,), "vector")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    written = exercises.build("~/stud")
    assert written[0].is_relative_to(tmp_path / "home" / "stud")
    assert not (tmp_path / "~").exists()


def test_probe_25_api_cases(tmp_path):
    """I09 (a NaN split fraction: "cannot convert float NaN to integer"), I10 (a 0-d target
    tensor: "len() of a 0-d tensor"), I11 (test and validation made from the train tensors,
    accepted without a word), J12 (one-hot targets in score: a torch broadcasting error), J13
    (save_metrics' arguments swapped), J15 (a dict holding itself: RecursionError), J16 (a
    modality named "fused"), J18 (METHODS edited in a notebook changed every later "g2d"), J24
    (summarise(by="Method") was told to rebuild its rows)."""
    import warnings

    import torch.nn.functional as F

    from g2d_lite.config import resolve
    from g2d_lite.data.base import DatasetSplits
    from g2d_lite.data.splits import stratified_split
    from g2d_lite.evaluate import score
    from g2d_lite.notebook import save_metrics
    from g2d_lite.results import result_row, summarise

    with pytest.raises(ValueError, match="fractions must be non-negative"):
        stratified_split(np.repeat(np.arange(3), 10), [float("nan")], 0)
    info = DatasetInfo("toy", (ModalitySpec("a", (2,), "vector"),), class_names=("x", "y"))
    with pytest.raises(DatasetError, match="targets is a 0-d tensor"):
        TensorMultimodalDataset(info, "train", {"a": torch.ones(1, 2)}, torch.tensor(1))
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    train = TensorMultimodalDataset(info, "train", {"a": x}, y)
    copy = TensorMultimodalDataset(info, "test", {"a": x.clone()}, y.clone())
    val = TensorMultimodalDataset(info, "validation", {"a": torch.randn(8, 2)}, y)
    with pytest.warns(UserWarning, match="test split is the train split itself"):
        DatasetSplits(info, train, val, copy)
    with pytest.raises(ValueError, match=r"one-hot labels pass targets.argmax\(1\)"):
        score(torch.randn(4, 3), F.one_hot(torch.tensor([0, 1, 2, 0]), 3), "classification")
    with pytest.raises(TypeError, match=r"call save_metrics\(OUTPUT_DIR, metrics\)"):
        save_metrics({"x": 1}, str(tmp_path))
    cycle: dict = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match=r"metrics\['self'\]: it refers back"):
        save_metrics(tmp_path, cycle)
    with pytest.raises(ValueError, match="modality name 'fused' cannot be used"):
        ModalitySpec("fused", (2,), "vector")
    with pytest.raises(TypeError, match=r"read-only: .*cfg.replace\(\*\*METHODS\['g2d'\]"):
        METHODS["g2d"]["temperature"] = 4.0
    assert resolve("smoke", method="g2d").temperature == 1.0
    metrics = {"metric": "acc", "test": {"acc": 90.0}, "role": "student", "seed": 0,
               "selection": "validation"}  # fmt: skip
    with pytest.raises(ValueError, match=r"by=\['Method'\].*did you mean \['method'\]"):
        summarise([result_row("g2d", metrics)], by=("Method",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DatasetSplits(info, train, val, TensorMultimodalDataset(info, "test", {"a": -x}, y))


def test_smp_takes_one_element_tensors_as_confidences_and_names_longer_ones():
    """Probe 26 AC11: ρ built from teacher_confidence_sums(...)[0][m] / n is a 0-d tensor, which
    coefficients refused without saying how to make it a number."""
    from g2d_lite.smp import SMP

    smp = SMP(start_epoch=0, end_epoch=0)
    rho = {"audio": torch.tensor(0.3), "visual": torch.tensor([0.6])}
    assert smp.coefficients(rho, epoch=0) == {"audio": 1.0, "visual": 0.0}
    with pytest.raises(TypeError, match=r"rho\['audio'\] is a tensor of shape \(2,\).*mean"):
        smp.coefficients({"audio": torch.tensor([0.3, 0.2]), "visual": 0.6}, epoch=0)


def test_cka_with_one_side_transposed_says_which():
    """Probe 26 AC22: (n, d) against (d, n) said only "50 != 8"."""
    from g2d_lite.diagnose import linear_cka

    with pytest.raises(ValueError, match=r"y looks transposed .*pass y\.T"):
        linear_cka(torch.randn(50, 8), torch.randn(8, 50))
    with pytest.raises(ValueError, match=r"x has 50 rows, y 30$"):
        linear_cka(torch.randn(50, 8), torch.randn(30, 8))


def test_a_callback_of_the_wrong_arity_is_refused_before_training(tmp_path, data):
    """Probe 26 AC24: a callback f(epoch) trained a whole epoch, then died with a bare
    TypeError naming neither callbacks nor the signature."""
    from g2d_lite.train import Trainer

    with pytest.raises(TypeError, match=r"called as f\(trainer, epoch\), but <lambda>\(epoch\)"):
        Trainer(
            tiny_config(),
            data,
            "teacher",
            "audio",
            run_dir=tmp_path / "r",
            callbacks=[lambda epoch: None],
        )
    assert not (tmp_path / "r").exists()
    Trainer(tiny_config(), data, "teacher", "audio", callbacks=[print, lambda *args: None])


def test_smp_inputs_probe_27():
    """Probe 27 AF24 (a negative window or epoch passed silently), AF33 (κ as 0-d tensors was
    called out of [0, 1]) and AF34 (logits with no class column: "class indices 0..-1")."""
    from g2d_lite.smp import SMP, teacher_confidence

    with pytest.raises(ValueError, match=r"start_epoch must be >= 0 \(epochs count from 0\)"):
        SMP(start_epoch=-3, end_epoch=5)
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        SMP(start_epoch=0, end_epoch=5).coefficients({"a": 0.3, "b": 0.5}, epoch=-1)
    encoders = {"a": torch.nn.Linear(2, 2), "b": torch.nn.Linear(2, 2)}
    for encoder in encoders.values():
        encoder(torch.ones(1, 2)).sum().backward()
    SMP(start_epoch=0, end_epoch=5).apply(
        encoders, {"a": torch.tensor(1.0), "b": torch.tensor(0.0)}
    )
    assert not encoders["b"].weight.grad.any() and encoders["a"].weight.grad.any()
    with pytest.raises(TypeError, match=r"kappa\['a'\] is a tensor of shape \(2,\)"):
        SMP(start_epoch=0, end_epoch=5).apply(encoders, {"a": torch.ones(2), "b": 0.0})
    with pytest.raises(ValueError, match=r"no class column \(shape \(4, 0\)\).*model's head"):
        teacher_confidence({"a": torch.randn(4, 0)}, torch.tensor([0, 0, 0, 0]))


def test_g2d_loss_names_numpy_teacher_outputs():
    """Probe 27 AF09: NumPy teacher logits (outputs cached with .numpy()) failed with
    "'str' object has no attribute 'type'"."""
    from g2d_lite.losses import g2d_loss

    fused, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    features = {"a": torch.randn(4, 5)}
    logits = {"a": torch.randn(4, 3).numpy()}
    with pytest.raises(TypeError, match=r"teacher_logits\['a'\] is a numpy.ndarray.*from_numpy"):
        g2d_loss(fused, features, logits, features, target)


def test_a_damaged_model_cache_entry_says_what_to_do_from_a_notebook(tmp_path, data):
    """Probe 27 AF11: a cache run whose best.pt was deleted was told to "rerun the same training
    command", and rerunning the notebook cell found the same damage again."""
    cache = tmp_path / "art"
    run = load_or_train_teacher(tiny_config(), data, "audio", cache).run_dir
    (run / "checkpoints" / "best.pt").unlink()
    with pytest.raises(RunFolderError, match=f"From a notebook.*remove {re.escape(str(run))}"):
        load_or_train_teacher(tiny_config(), data, "audio", cache)


def test_swapped_student_and_teacher_features_and_a_mistyped_method_are_named():
    """Probe 32 DC08: g2d_loss(fused, teacher_features, teacher_logits, student_features, y)
    returned the right value, but the students' features got no gradient; DC11:
    METHODS["G2D"] was a bare KeyError."""
    from g2d_lite.config import METHODS
    from g2d_lite.losses import g2d_loss

    target, fused = torch.tensor([0, 2]), torch.randn(2, 3, requires_grad=True)
    student, teacher = {"a": torch.randn(2, 4, requires_grad=True)}, {"a": torch.randn(2, 4)}
    logits = {"a": torch.randn(2, 3)}
    g2d_loss(fused, student, logits, teacher, target)[0].backward()
    assert student["a"].grad is not None
    with pytest.raises(ValueError, match=r"teacher_features\['a'\] carries a gradient .*swapped"):
        g2d_loss(fused, teacher, logits, student, target)
    detached = {"a": student["a"].detach()}  # evaluation: neither side carries a gradient
    g2d_loss(fused, teacher, logits, detached, target)
    with pytest.raises(KeyError, match=r"no 'G2D' here \(did you mean 'g2d'\?\); the keys are"):
        METHODS["G2D"]
    assert "g2d" in METHODS and "G2D" not in METHODS and METHODS.get("G2D") is None


def test_a_config_given_to_method_name():
    """Probe 34 FC32: method_name(cfg) raised AttributeError 'get'."""
    from g2d_lite.config import METHODS, method_name, resolve

    assert method_name(resolve("smoke", **METHODS["ogm_ge"])) == "ogm_ge"

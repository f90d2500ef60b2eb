"""Every command line answers a bad input with one line naming the problem and the fix."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from g2d_lite import exercises
from g2d_lite import run as runner
from g2d_lite.cli import main
from g2d_lite.config import parse_overrides
from g2d_lite.data.prepare.__main__ import main as prepare
from g2d_lite.errors import KitError
from tests.bad_inputs import TINY, refused, run_module, tree_bytes

# (overrides, what the message must name): config values of the wrong type or out of range.
BAD_OVERRIDES = [
    (["epochs=abc"], ["epochs", "an integer", "'abc'"]),
    (["epochs=2.5"], ["epochs", "an integer", "2.5"]),
    (["epochs=True"], ["epochs", "an integer", "True"]),
    (["epochs=0"], ["epochs", "at least 1"]),
    (["epochs=-3"], ["epochs", "at least 1"]),
    (["seed=1.5"], ["seed", "an integer"]),
    (["seed=-1"], ["seed", "in 0 .. 2**31 - 1"]),
    (["batch_size=0"], ["batch_size", "at least 1"]),
    (["batch_size=big"], ["batch_size", "an integer"]),
    (["lr=0"], ["lr", "above 0"]),
    (["lr=fast"], ["lr", "a number"]),
    (["lr=1e999"], ["lr", "finite"]),
    (["momentum=1.5"], ["momentum", "in [0, 1)"]),
    (["weight_decay=-0.1"], ["weight_decay", "at least 0"]),
    (["lr_gamma=2"], ["lr_gamma", "in (0, 1]"]),
    (["lr_step=0"], ["lr_step", "at least 1"]),
    (["temperature=0"], ["temperature", "above 0"]),
    (["progress=1"], ["progress", "True or False"]),
    (["drop_last=yes"], ["drop_last", "True or False"]),
    (["deterministic=None"], ["deterministic", "True or False"]),
    (["device=gpu"], ["unknown device", "'gpu'", "cuda:N"]),
    (["device=cuda:0"], ["no CUDA GPU", "device=cpu"]),
    (["encoder=resnet50"], ["unknown encoder", "resnet18"]),
    (["fusion=attention"], ["unknown fusion", "late"]),
    (["balance=magic"], ["unknown balance", "smp"]),
    (["selection=best"], ["unknown selection", "validation"]),
    (["optimizer=lbfgs"], ["unknown optimizer", "adam"]),
    (["dataset=mnist"], ["unknown dataset", "avmnist"]),
    (["epoch=3"], ["unknown config keys", "epochs"]),
    (["data_root="], ["data_root '' is empty", "working folder", "leave data_root out"]),
    (["data_root= "], ["data_root '' is empty", "the prepared cache's folder"]),
    (["profile=paper"], ["'profile' is not a config key", "--profile NAME"]),  # probe W15
    (["profile=paper", "epoch=3"], ["'profile' is not a config key", "unknown too: ['epoch']"]),
    (["method=g2d_partial"], ["'method' is not a config key", "--method NAME"]),  # probe E47
    (["out=runs/x"], ["'out' is not a config key", "--out FOLDER"]),  # probe E47
    (  # probe W13: torch's "Expected more than 1 value per channel" (the MLP's BatchNorm1d)
        ["encoder=mlp", "batch_size=1"],
        ["batch_size=1 gives batches of one sample", "BatchNorm1d"],
    ),
    (  # probe W14: torch's BatchNorm error mid-epoch, after config.json was written
        ["encoder=mlp", "batch_size=63", "drop_last=False", "data_options={'n_train': 64}"],
        ["the last batch holds one sample", "drop_last=True or another batch_size"],
    ),
    (["epochs"], ["key=value"]),
    (["modalities=audio"], ["at least two modalities", "teacher"]),
    (["modalities=audio,speech"], ["'speech'", "audio, visual"]),
    (["data_options=5"], ["data_options", "mapping"]),
    (["data_options={'n_trian': 5}"], ["n_trian", "valid knobs"]),
    (["data_options={'n_train': 0}"], ["n_train", "positive"]),
    (["data_options={'n_train': True}", "batch_size=1"], ["n_train", "positive", "True"]),
    (["data_options={'n_classes': True}"], ["n_classes", "True"]),
    (["data_root=/tmp"], ["synthetic", "no root"]),
    (["smp_stage_epochs=0"], ["smp_stage_epochs", "at least 1"]),
    (["balance=ogm", "balance_start_epoch=5", "epochs=9", "balance_end_epoch=2"], ["comes before"]),
    (["ogm_alpha=-1"], ["ogm_alpha", "at least 0"]),
    (["num_workers=-2"], ["num_workers", "at least 0"]),
    (["eval_every=x"], ["eval_every", "an integer"]),
    (["=3"], ["key=value"]),
    (["modalities=audio,audio"], ["modalities lists 'audio' more than once"]),
    (["seed=99999999999999999999"], ["seed", "2**31"]),
    (["balance=ogm", "epochs=2", "balance_start_epoch=2", "balance_end_epoch=3"], ["never act"]),
    (["balance=ogm", "epochs=1", "balance_start_epoch=1"], ["by default epochs // 2 = 0"]),
    (["device=mps"], ["'mps' is not available", "device=cpu"]),
    (["device=cuda:7"], ["no CUDA GPU"]),
    (["lr=nan"], ["lr must be a finite number", "'nan'"]),
    (["temperature=-inf"], ["temperature must be a finite number", "'-inf'"]),
]


@pytest.mark.parametrize(("overrides", "needles"), BAD_OVERRIDES, ids=lambda v: str(v)[:40])
def test_bad_config_values_name_the_field_and_what_it_takes(tmp_path, capsys, overrides, needles):
    out = tmp_path / "run"
    keys = {o.partition("=")[0] for o in overrides}
    base = [t for t in TINY if t.partition("=")[0] not in keys]
    status = main(["joint", "--out", str(out), *base, *overrides])
    refused(capsys, status, 2, *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["joint", "--out", "x", "--bogus"], ["unrecognized arguments: --bogus", "--help"]),
        (["joint"], ["--out"]),
        (["student", "--method", "magic", "--out", "x"], ["invalid choice: 'magic'", "g2d"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'", "teacher"]),
        (["joint", "--profile", "fast", "--out", "x"], ["invalid choice: 'fast'", "smoke"]),
        (["evaluate", "--run", "x", "--checkpoint", "worst"], ["invalid choice: 'worst'"]),
        # probe 26 AA28: a config key typed as an option
        (["joint", "--out", "x", "--epochs", "1"], ["--epochs is not an option", "epochs=1"]),
        (["joint", "--out", "x", "--batch-size=8"], ["--batch-size is not", "batch_size=8"]),
        (["student", "--out", "x", "--lr"], ["--lr is not an option", "lr=<value>"]),
        # probe 27 AD18, AD19, AD21: a second value after a one-value option, the runner's -p
        (["teacher", "--out", "x", "--modality", "audio", "visual"], ["takes one modality"]),
        (["student", "--teachers", "a", "b", "--out", "x"], ["repeat --teachers b"]),
        (["joint", "--out", "x", "-p", "EPOCHS", "1"], ["notebook runner's", "epochs=1"]),
        # probe 27 AD04, AD20: a dotted key into data_options, the notebooks' upper case
        (["joint", "--out", "x", "data_options.n_train=64"], ["data_options={'n_train': 64}"]),
        (["joint", "--out", "x", "EPOCHS=1"], ["config keys are lower case: write epochs=1"]),
        (["joint", "--out", "x" * 300], ["too long for the file system (300 bytes"]),
        # probe 26 AA29, AA30: a device as --config (read without end), a pasted line end
        (["joint", "--out", "x", "--config", "/dev/zero"], ["/dev/zero is a device, not a"]),
        (["joint", "--out", "j30\n"], ["--out: 'j30\\n' holds the control character"]),
        # own probe 29 S10: a student's option on the commands whose method is fixed
        (
            ["joint", "--out", "x", "--method", "g2d"],
            ["not an option of `joint`", "student --method g2d --teachers"],
        ),
        (["joint", "--out", "x", "--method=ogm_ge"], ["student --method ogm_ge --out"]),
        (
            ["teacher", "--out", "x", "--teachers", "t"],
            ["not an option of `teacher`", "methods: agm"],
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_usage_errors_are_one_line_too(capsys, tmp_path, monkeypatch, argv, needles):
    """Probe E42 too: main returns the status of a usage error (it raised SystemExit)."""
    monkeypatch.chdir(tmp_path)
    refused(capsys, main(argv), 2, *needles)
    assert not any(tmp_path.iterdir())


def test_the_runner_refuses_a_control_character_in_out(capsys, tmp_path, monkeypatch):
    """Probe 26 AA30: ``--out $'j30\\t'`` ran the notebook into a folder nobody can type."""
    monkeypatch.chdir(tmp_path)
    refused(capsys, runner.main(["01", "--out", "j\t30"]), 2, "holds the control character")
    assert not any(tmp_path.iterdir())


def test_overrides_may_come_before_and_after_options(tmp_path):
    argv = ["joint", "epochs=1", "--out", str(tmp_path / "run"), *TINY[1:], "seed=2"]
    assert main(argv) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["seed"] == 2 and config["epochs"] == 1


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed here"
)
def test_tensorboard_without_the_package_is_refused_before_writing(tmp_path, capsys):
    status = main(["joint", "--out", str(tmp_path / "run"), *TINY, "tensorboard=True"])
    refused(capsys, status, 2, "pip install tensorboard")
    assert not (tmp_path / "run").exists()


def test_a_key_given_twice_keeps_the_last_value_and_says_so(tmp_path, capsys):
    assert main(["joint", "--out", str(tmp_path / "run"), *TINY, "seed=4", "seed=5"]) == 0
    assert "seed is given twice; the last value counts" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 5


def test_an_explicit_none_on_the_command_line_is_kept(tmp_path, capsys):
    assert main(["joint", "--out", str(tmp_path / "run"), *TINY, "lr_step=None"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr_step"] is None


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["teacher", "--modality", "speech"], ["--modality 'speech'", "audio, visual"]),
        (["student", "--method", "g2d"], ["--teachers"]),
        (["student", "--teachers", "nowhere"], ["--teachers nowhere", "does not exist"]),
        (["joint", "--config", "missing.json"], ["missing.json", "does not exist"]),
        (["evaluate", "--run", "nowhere"], ["--run nowhere", "does not exist"]),
        (["evaluate", "--run", "."], ["no g2d-lite run", "--out"]),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_command_arguments(tmp_path, capsys, monkeypatch, argv, needles):
    monkeypatch.chdir(tmp_path)
    extra = [] if argv[0] == "evaluate" else ["--out", "run", *TINY]
    refused(capsys, main([*argv, *extra]), 2, *needles)


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"epochz": 3}', "epochz")],
)
def test_bad_config_files(tmp_path, capsys, content, needle):
    config = tmp_path / "overrides.json"
    config.write_text(content)
    status = main(["joint", "--config", str(config), "--out", str(tmp_path / "run"), *TINY])
    refused(capsys, status, 2, needle)


def test_a_config_file_may_start_with_a_bom_and_says_when_a_key_repeats(tmp_path, capsys):
    config = tmp_path / "overrides.json"
    config.write_bytes(b'\xef\xbb\xbf{"seed": 4, "seed": 5}')  # Notepad's UTF-8
    assert main(["joint", "--config", str(config), "--out", str(tmp_path / "run"), *TINY]) == 0
    assert f"seed is given twice in {config}; the last value counts" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 5


def test_an_option_given_twice_keeps_the_last_and_says_so(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["joint", "--out", str(first), f"--out={second}", *TINY]) == 0
    assert "note: --out is given more than once; the last one counts" in capsys.readouterr().err
    assert not first.exists() and (second / "metrics.json").is_file()


def test_a_tilde_in_out_means_the_home_folder(tmp_path, capsys, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert main(["joint", "--out", "~/run", *TINY]) == 0  # quoted: the shell left the ~ alone
    assert (home / "run" / "metrics.json").is_file()
    assert not (work / "~").exists()


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("teachers")
    assert main(["teacher", "--out", str(out), *TINY]) == 0
    return out


def test_two_teachers_for_one_modality_are_refused(teacher_dir, tmp_path, capsys):
    capsys.readouterr()
    other = tmp_path / "other-audio"
    shutil.copytree(teacher_dir / "teacher-audio", other)
    argv = ["student", "--teachers", str(teacher_dir), "--teachers", str(other)]
    status = main([*argv, "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, "two teachers for 'audio'")


def test_a_stray_folder_among_the_teachers_is_named_with_the_fix(teacher_dir, tmp_path, capsys):
    parent = tmp_path / "mixed"
    shutil.copytree(teacher_dir, parent)
    (parent / "teacher-junk").mkdir()
    (parent / "teacher-junk" / "notes.txt").write_text("not a run")
    capsys.readouterr()
    status = main(["student", "--teachers", str(parent), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, "teacher-junk", "no config.json", "out of the way")


def test_a_student_folder_given_as_teachers_is_refused(tmp_path, capsys):
    joint = tmp_path / "joint"
    assert main(["joint", "--out", str(joint), *TINY]) == 0
    capsys.readouterr()
    status = main(["student", "--teachers", str(joint), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, "a student run, not a teacher")


def test_teachers_for_only_one_modality_are_refused(teacher_dir, tmp_path, capsys):
    capsys.readouterr()
    argv = [
        "student",
        "--teachers",
        str(teacher_dir / "teacher-audio"),
        "--out",
        str(tmp_path / "s"),
    ]
    refused(
        capsys,
        main([*argv, *TINY]),
        2,
        "teachers cover modalities ['audio']",
        "no teacher for 'visual'",
        f"add --teachers {teacher_dir / 'teacher-visual'}",
        f"--teachers {teacher_dir}",
    )


def test_a_lone_teacher_says_how_to_train_the_missing_one(teacher_dir, tmp_path, capsys):
    """Own probe 29 S1: a teacher copied alone said "pass exactly one teacher per student
    modality", naming neither the missing modality nor how to get its teacher."""
    lone = tmp_path / "lone"
    shutil.copytree(teacher_dir / "teacher-visual", lone / "teacher-visual")
    capsys.readouterr()
    argv = ["student", "--teachers", str(lone), "--out", str(tmp_path / "s"), *TINY]
    refused(
        capsys,
        main(argv),
        2,
        "no teacher for 'audio'",
        f"python -m g2d_lite teacher --modality audio --out {lone}",
    )
    assert not (tmp_path / "s").exists()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="epochs must be an integer"):
        main(["--debug", "joint", "--out", str(tmp_path / "run"), *TINY, "epochs=abc"])


# ---------------------------------------------------------------------------- the runner
@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["03", "-p", "EPOCHS", "abc"], ["epochs must be an integer", "EPOCHS='abc'"]),
        (["03", "-p", "SEED", "1.5"], ["SEED takes int", "1.5"]),
        (["03", "-p", "PROFILE", "nope"], ["unknown profile 'nope'", "smoke"]),
        (["03", "-p", "DATASET", "mnist"], ["unknown dataset 'mnist'", "avmnist"]),
        (["03", "-p", "DEVICE", "gpu"], ["unknown device 'gpu'"]),
        (["03", "-p", "SHOW_CROSSOVER", "maybe"], ["SHOW_CROSSOVER takes bool"]),
        (["03", "-p", "NOPE", "1"], ["unknown parameter(s) ['NOPE']", "valid names"]),
        (["03", "-p", "OUTPUT_DIR", "x"], ["--out"]),
        (["09"], ["'09' matches no notebook", "01_teacher_training"]),
        (["0"], ["matches several notebooks"]),
        (["04", "--grid", "SEED"], ["NAME=v1,v2"]),
        (["04", "--grid", "=1,2"], ["NAME=v1,v2"]),  # own probe: "unknown parameter(s) ['']"
        (["04", "--grid", "SEED=a,b"], ["SEED takes int", "'a'"]),
        (["all", "--grid", "SEED=0,1"], ["single notebook"]),
        (["03", "-f", "missing.yaml"], ["missing.yaml not found", "smoke", "params/NAME.yaml"]),
        (["refresh", "-p", "SEED", "1"], ["refresh takes no parameters"]),
        (["refresh", "--only", "01", "--out", "r22"], ["takes no --out", "run 01 --out r22"]),
        (["01", "--only", "02"], ["--only applies to refresh", "python -m g2d_lite.run 02"]),
        # probe 30 BA22: the fix repeated a notebook that does not exist
        (["refresh", "--only", "09", "--out", "r22"], ["'09' matches no notebook"]),
        (["01", "--only", "09"], ["'09' matches no notebook"]),
        (["04", "--grid", "SEED=0,1", "--grid", "SEED=2"], ["--grid gives SEED twice"]),  # P75
        (["01", "--out", ""], ["--out is empty"]),  # probe P80
    ],
    ids=lambda v: str(v)[:40],
)
def test_runner_refuses_bad_parameters_before_running(tmp_path, capsys, monkeypatch, argv, needles):
    monkeypatch.chdir(tmp_path)
    refused(capsys, runner.main(argv), 2, *needles)


def test_runner_refuses_an_out_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("not a folder")
    refused(capsys, runner.main(["01", "--out", str(target)]), 2, str(target), "is a file")
    assert "running" not in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_runner_refuses_a_device_this_machine_lacks(tmp_path, capsys, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    monkeypatch.chdir(tmp_path)  # with cached models the notebook would never touch the device
    status = runner.main(["01", "-p", "DEVICE", "cuda", "--out", "run"])
    line = refused(capsys, status, 2, "parameter DEVICE", "no CUDA GPU", "use -p DEVICE cpu")
    assert "device=cpu" not in line  # probe 31 CA: the command line's syntax, not the runner's
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("EPOCHS: [1\nSEED: 2\n", "is not valid YAML at line 2"),
        ("- 1\n- 2\n", "must hold a mapping"),
        ("EPOCHZ: 3\n", "EPOCHZ"),
        ("EPOCHS: three\n", "epochs must be an integer"),
    ],
)
def test_runner_names_the_bad_params_file(tmp_path, capsys, content, needle):
    path = tmp_path / "params.yaml"
    path.write_text(content)
    refused(capsys, runner.main(["03", "-f", str(path)]), 2, needle)


# ---------------------------------------------------------------------------- the exercises
def test_exercises_cli_names_a_missing_source(tmp_path, capsys):
    status = exercises.main(["build", "--source", str(tmp_path / "none"), "--out", str(tmp_path)])
    refused(capsys, status, 2, "--source", "none does not exist")  # own probe: said "no notebooks"
    empty = tmp_path / "empty"
    empty.mkdir()
    status = exercises.main(["build", "--source", str(empty), "--out", str(tmp_path / "out")])
    refused(capsys, status, 2, "no exercise notebooks", "--source")


def test_exercises_never_write_over_the_instructor_notebooks(tmp_path, capsys):
    source = tmp_path / "exercises"
    shutil.copytree(exercises.SOURCE_DIR, source)
    before = tree_bytes(source)
    status = exercises.main(["build", "--source", str(source), "--out", str(source)])
    refused(capsys, status, 2, "is the --source folder")
    link = tmp_path / "link"
    link.symlink_to(source)
    status = exercises.main(["build", "--source", str(source), "--out", str(link)])
    refused(capsys, status, 2, "is the --source folder")
    assert tree_bytes(source) == before


def test_exercises_never_write_over_a_student_s_work(tmp_path, capsys):
    out = tmp_path / "student"
    assert exercises.main(["build", "--out", str(out)]) == 0
    assert exercises.main(["build", "--out", str(out)]) == 0  # unchanged copies: rebuilt
    work = out / "ex01_distillation_losses.ipynb"
    work.write_text(work.read_text().replace("# YOUR CODE HERE", "# my answer", 1))
    capsys.readouterr()
    status = exercises.main(["build", "--out", str(out)])
    refused(capsys, status, 2, "ex01_distillation_losses.ipynb has changed", "--force")
    assert "# my answer" in work.read_text()
    assert exercises.main(["build", "--out", str(out), "--force"]) == 0
    assert "# my answer" not in work.read_text()


def test_exercises_out_inside_the_source_is_refused(tmp_path, capsys):
    source = tmp_path / "instructor"
    shutil.copytree(exercises.SOURCE_DIR, source, ignore=shutil.ignore_patterns("ex04_run"))
    inside = source / "student"
    status = exercises.main(["build", "--source", str(source), "--out", str(inside)])
    refused(capsys, status, 2, "inside the --source folder", "choose another --out")
    assert not inside.exists()


def test_exercises_out_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "copies"
    target.write_text("x")
    refused(capsys, exercises.main(["build", "--out", str(target)]), 2, "is a file")


def test_exercises_cli_names_a_broken_notebook(tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    (source / "ex.ipynb").write_text("{ not a notebook")
    status = exercises.main(["build", "--source", str(source), "--out", str(tmp_path / "o")])
    refused(capsys, status, 2, "ex.ipynb")


# ---------------------------------------------------------------------------- data scripts
@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["mnist"], ["unknown dataset 'mnist'", "avmnist, cremad, clips"]),
        (["avmnist"], ["--download", "--mnist-dir"]),
        (
            ["avmnist", "--mnist-dir", "nowhere", "--fsdd-dir", "nowhere"],
            ["--mnist-dir", "not found"],
        ),
        (["cremad", "--root", "nowhere"], ["CREMA-D folder not found", "AudioWAV"]),
        (["clips", "--dataset", "ave", "--root", "nowhere"], ["nowhere"]),
    ],
    ids=lambda v: str(v)[:40],
)
def test_data_scripts_refuse_in_one_line(tmp_path, capsys, monkeypatch, argv, needles):
    monkeypatch.chdir(tmp_path)
    refused(capsys, prepare(argv), 2, *needles)


def test_suggested_commands_work_from_any_folder(tmp_path):
    """A loader's message names a module command; it runs from outside the repository."""
    done = run_module(
        "g2d_lite",
        "joint",
        "--out",
        "run",
        "dataset=avmnist",
        f"data_root={tmp_path / 'c'}",
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    command = done.stderr.split("Build it with: ")[1].split(" (or:")[0]
    assert command.startswith("python -m g2d_lite.data.prepare avmnist --download")
    helped = run_module("g2d_lite.data.prepare", "avmnist", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--mnist-dir" in helped.stdout


# ---------------------------------------------------------------------------- found by a probe
def test_a_student_never_writes_over_its_own_teacher(teacher_dir, capsys):
    inside = teacher_dir / "teacher-audio"
    before = tree_bytes(inside)
    capsys.readouterr()
    for out in (inside, inside / "student"):
        argv = ["student", "--teachers", str(teacher_dir), "--out", str(out), "--no-resume"]
        refused(capsys, main([*argv, *TINY]), 2, "a student cannot write over its own teacher")
    assert tree_bytes(inside) == before


def test_a_teacher_folder_is_not_offered_to_no_resume(teacher_dir, capsys):
    capsys.readouterr()
    status = main(["joint", "--out", str(teacher_dir / "teacher-audio"), *TINY])
    line = refused(capsys, status, 2, "holds a teacher (audio) run", "new --out")
    assert "--no-resume" not in line


def test_evaluate_of_the_teachers_folder_names_the_runs_inside(teacher_dir, capsys):
    """Own probe: `evaluate --run <teacher --out>` said only "holds no g2d-lite run"."""
    capsys.readouterr()
    status = main(["evaluate", "--run", str(teacher_dir)])
    refused(capsys, status, 2, "is a folder of teacher runs (teacher-audio, teacher-visual)")


def test_a_suggested_run_folder_with_a_space_is_quoted(teacher_dir, tmp_path, capsys):
    """Probe 32 DA05: `e.g. runs/my teachers/teacher-audio`, pasted, split at the space."""
    spaced = tmp_path / "my teachers"
    shutil.copytree(teacher_dir, spaced)
    status = main(["evaluate", "--run", str(spaced)])
    refused(capsys, status, 2, f"e.g. '{spaced / 'teacher-audio'}'")


def test_evaluate_notices_a_checkpoint_swapped_in_from_another_run(tmp_path, capsys):
    for name, seed in (("a", "seed=1"), ("b", "seed=2")):
        assert main(["joint", "--out", str(tmp_path / name), *TINY, seed]) == 0
    for checkpoint in ("best.pt", "last.pt"):
        shutil.copy(tmp_path / "b" / "checkpoints" / checkpoint, tmp_path / "a" / "checkpoints")
    capsys.readouterr()
    refused(capsys, main(["evaluate", "--run", str(tmp_path / "a")]), 2, "do not belong together")


def test_evaluate_says_when_a_run_is_unfinished_or_has_no_epoch(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    (out / "metrics.json").unlink()
    capsys.readouterr()
    assert main(["evaluate", "--run", str(out), "--checkpoint", "last"]) == 0
    assert "is unfinished; evaluating its last checkpoint (epoch 0 of 1)" in capsys.readouterr().err
    for name in ("last.pt", "best.pt"):
        (out / "checkpoints" / name).unlink()
    refused(capsys, main(["evaluate", "--run", str(out)]), 2, "no epoch", "has finished yet")


def test_a_data_options_override_keeps_the_profile_s_other_options(tmp_path):
    from g2d_lite.config import resolve

    cfg = resolve("avmnist", data_options={"in_memory": True})
    assert cfg.data_options == {"audio_pool": 4, "audio_norm": "utterance", "in_memory": True}


def test_runner_refuses_an_out_inside_the_notebooks(capsys):
    status = runner.main(["01", "--out", str(runner.NOTEBOOK_DIR)])
    refused(capsys, status, 2, "inside the kit's notebooks/ folder")
    status = runner.main(["01", "--out", str(runner.NOTEBOOK_DIR / "exercises" / "x")])
    refused(capsys, status, 2, "choose another --out")


def test_runner_refuses_grid_points_that_would_share_a_folder(tmp_path, capsys):
    argv = ["04", "--out", str(tmp_path), "--grid", f"ARTIFACT_DIR={tmp_path}/a/b,{tmp_path}/a-b"]
    refused(capsys, runner.main(argv), 2, "would share the folder")
    refused(capsys, runner.main(["04", "--grid", "SEED=0,0"]), 2, "lists 0 more than once")


# ---------------------------------------------------------------- the fourth probe's cases
@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (["data_options={'n_train': 10**3}"], ["not a Python literal", "1000, not 10**3"]),
        (["data_options={'n_train': 64"], ["not a Python literal", "brackets and quotes"]),
        (["modalities=(audio,visual)"], ["not a Python literal", "quote strings"]),
    ],
    ids=["expression", "unclosed-brace", "unquoted-tuple"],
)
def test_override_mistakes_name_the_way_to_write_them(tmp_path, capsys, overrides, needles):
    """Probe P11 (and a tuple of bare words that was split into '(audio' and 'visual)')."""
    status = main(
        [
            "student",
            "--method",
            "g2d",
            "--teachers",
            str(tmp_path),
            "--out",
            str(tmp_path / "s"),
            *TINY,
            *overrides,
        ]
    )
    refused(capsys, status, 2, *needles)


def test_a_repeated_key_inside_a_dict_override_is_noted(tmp_path, capsys):
    """Probe P107."""
    both = "data_options={'n_train': 64, 'n_validation': 32, 'n_test': 32, 'n_test': 32}"
    assert main(["joint", "--out", str(tmp_path / "j"), *TINY, both]) == 0
    assert "note: data_options gives 'n_test' twice" in capsys.readouterr().err


def test_an_override_that_contradicts_the_method_is_refused(tmp_path, capsys):
    """Probe P94: --method g2d_partial loss=ce trained joint + partial SMP as "g2d_partial"."""
    status = main(
        [
            "student",
            "--method",
            "g2d_partial",
            "--teachers",
            str(tmp_path),
            "--out",
            str(tmp_path / "s"),
            *TINY,
            "loss=ce",
        ]
    )
    refused(capsys, status, 2, "loss='ce' contradicts method g2d_partial", "joint+smp")
    status = main(["joint", "--out", str(tmp_path / "j"), *TINY, "balance=smp"])
    line = refused(capsys, status, 2, "contradicts method joint", "--method joint+smp")
    assert "--teachers <teacher folder> --out <folder>`" in line  # probe 30 BA25: it lacked --out
    assert not (tmp_path / "s").exists() and not (tmp_path / "j").exists()


def test_the_help_examples_parse_as_printed():
    """Probe 30 BA25: an example in `python -m g2d_lite --help` lacked the required --out."""
    import g2d_lite.cli as cli

    lines = [line.strip() for line in cli.__doc__.splitlines()]
    examples = [line.split() for line in lines if line.startswith("python -m g2d_lite ")]
    assert len(examples) >= 5
    for words in examples:
        command = words[3 : words.index("#") if "#" in words else None]
        assert cli.build_parser().parse_known_args(command)[0].command == command[0]


def test_a_resume_that_spells_a_size_differently_is_the_same_run(tmp_path, capsys):
    """Probe P18: n_train 64.0 then 64 was refused as "changed: data_options"."""
    out = str(tmp_path / "j")
    spelled = "data_options={'n_train': 64.0, 'n_validation': 32, 'n_test': 32}"
    assert main(["joint", "--out", out, *TINY[:3], spelled]) == 0
    assert main(["joint", "--out", out, *TINY]) == 0


def test_a_checkpoint_copied_in_from_another_run_is_named(tmp_path, capsys):
    """Probe P20: the refusal said "changed: epochs, seed" though the command matched."""
    assert main(["joint", "--out", str(tmp_path / "a"), *TINY]) == 0
    assert main(["joint", "--out", str(tmp_path / "b"), *TINY, "seed=1", "epochs=2"]) == 0
    shutil.copy(tmp_path / "b" / "checkpoints" / "last.pt", tmp_path / "a" / "checkpoints")
    capsys.readouterr()
    status = main(["joint", "--out", str(tmp_path / "a"), *TINY])
    refused(capsys, status, 2, "last.pt does not belong to", "copied in from another run")


def test_a_relative_data_root_is_recorded_absolute_and_a_moved_cache_can_be_named(
    tmp_path, capsys, monkeypatch
):
    """Probe P56/P57: evaluate from another folder, and after the cache moved."""
    from tests.data_fixtures import make_fsdd, make_mnist
    from tests.test_bad_inputs_data import build

    mnist, fsdd = make_mnist(tmp_path / "mnist"), make_fsdd(tmp_path / "fsdd", takes=2)
    assert build(tmp_path / "cache", mnist, fsdd) == 0
    monkeypatch.chdir(tmp_path)
    argv = ["teacher", "--profile", "avmnist", "--modality", "audio", "--out", "run", *TINY[:3]]
    assert main([*argv, "data_root=cache"]) == 0
    config = json.loads((tmp_path / "run" / "teacher-audio" / "config.json").read_text())
    assert config["data_root"] == str(tmp_path / "cache")
    (tmp_path / "cache").rename(tmp_path / "moved")
    capsys.readouterr()
    status = main(["evaluate", "--run", "run/teacher-audio"])
    refused(capsys, status, 2, "the run's data_root", "--data-root")
    assert main(["evaluate", "--run", "run/teacher-audio", "--data-root", "moved"]) == 0


def test_runner_refuses_a_folder_parameter_that_is_a_file(tmp_path, capsys):
    """Probe P82: it failed 20 s later, in cell 11, with NotADirectoryError."""
    target = tmp_path / "afile"
    target.write_text("x")
    status = runner.main(["01", "-p", "ARTIFACT_DIR", str(target), "--out", str(tmp_path / "r")])
    refused(capsys, status, 2, "ARTIFACT_DIR", "is a file")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("content", "needles"),
    [("SEED: 010\n", ["leading zero", "octal", "(8)"])],
)
def test_runner_refuses_a_yaml_octal_number(tmp_path, capsys, content, needles):
    """Probe P72: YAML 1.1 read SEED: 010 as 8."""
    path = tmp_path / "params.yaml"
    path.write_text(content)
    refused(capsys, runner.main(["03", "-f", str(path)]), 2, *needles)


def test_runner_notes_a_key_repeated_in_a_params_file(tmp_path, capsys):
    """Probe P69."""
    path = tmp_path / "params.yaml"
    path.write_text("SEED: 1\nSEED: 2\n")
    assert runner.load_params_file(path) == {"SEED": 2}
    assert "note: SEED is given twice" in capsys.readouterr().err


def test_runner_notes_a_parameter_given_twice_with_p(capsys):
    """Probe W82: `-p EPOCHS 1 -p EPOCHS 2` kept the last without a word."""
    args = runner.build_parser().parse_args(["01", "-p", "EPOCHS", "1", "-p", "EPOCHS", "2"])
    assert runner._params(args)[1] == {"EPOCHS": 2}
    assert "note: -p EPOCHS is given twice; the last value (2) counts" in capsys.readouterr().err


def test_smp_stages_longer_than_the_window_name_the_config_settings():
    """Probe P14: the message used SMP's own argument names."""
    from g2d_lite.smp import SMP

    with pytest.raises(
        ValueError, match=r"smp_stage_epochs.*balance_start_epoch, balance_end_epoch"
    ):
        SMP(start_epoch=0, end_epoch=1, schedule="staged", stage_epochs=(5, 5))


# ---------------------------------------------------------------- the fifth probe's cases
def test_a_weight_that_adds_a_term_is_another_method(tmp_path, capsys):
    """Probe Q16: --method logit_kd feature_weight=1 trained the G²D loss as "logit_kd"."""
    argv = ["student", "--method", "logit_kd", "--teachers", str(tmp_path), "--out"]
    status = main([*argv, str(tmp_path / "s"), *TINY, "feature_weight=1"])
    refused(capsys, status, 2, "contradicts method logit_kd", "--method g2d_no_smp")


def test_command_line_data_options_merge_into_the_config_file(tmp_path, capsys):
    """Probe Q29: the command line's data_options replaced the --config file's."""
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps({"data_options": {"n_train": 64, "n_validation": 32, "n_test": 32}})
    )
    out = tmp_path / "j"
    argv = ["joint", "--out", str(out), "--config", str(config), *TINY[:3]]
    assert main([*argv, "data_options={'n_train': 96}"]) == 0
    options = json.loads((out / "config.json").read_text())["data_options"]
    assert options == {"n_train": 96, "n_validation": 32, "n_test": 32}


def test_a_loss_with_every_weight_zero_is_refused(tmp_path, capsys):
    """Probe Q07."""
    teachers = tmp_path / "t"
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    status = main(["joint", "--out", str(tmp_path / "j"), *TINY, "task_weight=0"])
    refused(capsys, status, 2, "all 0", "positive weight")
    status = main(
        [
            "student",
            "--teachers",
            str(teachers / "teacher-audio" / "checkpoints"),
            "--out",
            str(tmp_path / "s"),
            *TINY,
        ]
    )
    refused(capsys, status, 2, "is inside the run folder", "teacher-audio")  # probe Q26


def test_a_resume_of_a_started_run_ignores_the_order_of_data_options(tmp_path, capsys):
    """Probe Q22: a folder with only config.json was refused for the identical command."""
    out = tmp_path / "j"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    import shutil as sh

    sh.rmtree(out / "checkpoints")
    (out / "metrics.json").unlink()
    config = json.loads((out / "config.json").read_text())
    config["data_options"] = dict(reversed(list(config["data_options"].items())))
    (out / "config.json").write_text(json.dumps(config))
    assert main(["joint", "--out", str(out), *TINY]) == 0


def test_evaluate_data_root_mistakes(tmp_path, capsys):
    """Probe Q17 (a synthetic run), Q18 (a missing folder)."""
    out = tmp_path / "j"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    refused(
        capsys,
        main(["evaluate", "--run", str(out), "--data-root", str(tmp_path)]),
        2,
        "does not apply to a synthetic run",
    )


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["01", "--grid", "SEED=0,1", "-p", "SEED", "5"], ["SEED is both a --grid axis and a -p"]),
        (
            ["demo", "-p", "DATASET", "avmnist"],
            ["demo runs the embedded synthetic data", "--profile avmnist"],
        ),
    ],
    ids=["grid-and-p", "demo-dataset"],
)
def test_runner_refuses_values_it_would_silently_replace(
    tmp_path, capsys, monkeypatch, argv, needles
):
    """Probe Q34, Q40."""
    monkeypatch.chdir(tmp_path)
    refused(capsys, runner.main(argv), 2, *needles)


def test_exercises_refuse_kit_folders_and_bad_sources_before_writing(tmp_path, capsys):
    """Probe Q44, Q49 (a run folder, the kit's notebooks/), Q45 (an empty notebook), Q47 (a
    broken link): nothing may be written."""
    run_folder = tmp_path / "run"
    assert main(["joint", "--out", str(run_folder), *TINY]) == 0
    capsys.readouterr()
    refused(capsys, exercises.main(["build", "--out", str(run_folder)]), 2, "holds a training run")
    kit = runner.NOTEBOOK_DIR
    refused(capsys, exercises.main(["build", "--out", str(kit)]), 2, "the kit's notebooks/ folder")
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(exercises.SOURCE_DIR / "ex02_smp.ipynb", source)
    (source / "ex05_empty.ipynb").write_text("")
    out = tmp_path / "student"
    status = exercises.main(["build", "--source", str(source), "--out", str(out)])
    refused(capsys, status, 2, "ex05_empty.ipynb is not a readable exercise notebook")
    assert not out.exists()
    (source / "ex05_empty.ipynb").unlink()
    (source / "data.csv").symlink_to(tmp_path / "nowhere.csv")
    status = exercises.main(["build", "--source", str(source), "--out", str(out)])
    refused(capsys, status, 2, "data.csv cannot be copied", "broken link")


def test_runner_refuses_a_dataset_that_is_not_prepared(tmp_path, capsys, monkeypatch):
    """Probe Q42: a grid over PROFILE=smoke,paper started notebook 01 without a CREMA-D cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("G2D_LITE_DATA", str(tmp_path / "nothing"))
    status = runner.main(["01", "--grid", "PROFILE=smoke,paper", "--out", str(tmp_path / "g")])
    refused(
        capsys, status, 2, "cremad: no prepared cache", "python -m g2d_lite.data.prepare cremad"
    )
    assert not (tmp_path / "g").exists()


# ---------------------------------------------------------------- the sixth probe's cases
def test_a_teacher_outside_the_modalities_setting_is_refused(tmp_path, capsys):
    """Probe R07: `teacher --modality visual modalities=audio` trained visual, recorded audio."""
    out = tmp_path / "t"
    argv = ["teacher", "--modality", "visual", "--out", str(out), *TINY, "modalities=audio"]
    refused(capsys, main(argv), 2, "--modality visual contradicts modalities=['audio']")
    assert not out.exists()
    assert main(["teacher", "--out", str(out), *TINY, "modalities=audio"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["teacher-audio"]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["01", "-p", "N_SAMPLES", "-1"], ["N_SAMPLES takes an integer at least 1", "-1"]),
        (["02", "-p", "QUICK_TRAIN_EPOCHS", "0"], ["QUICK_TRAIN_EPOCHS takes an integer at least"]),
        (["04", "-p", "PEER_EPOCHS", "abc"], ["PEER_EPOCHS", "or None", "'abc'"]),
        (["04", "-p", "WINDOWS", "0,0.5"], ["WINDOWS takes a comma list of fractions", "(0, 1]"]),
        (["04", "-p", "SEEDS", "1,x"], ["SEEDS takes a comma list of seeds"]),
        (["04", "-p", "PEERS", "joint,nope"], ["parameter PEERS: unknown nope"]),
        (["ex01", "-p", "TEMPERATURE", "0.0"], ["TEMPERATURE takes a number above 0"]),
        (["04", "--grid", "WINDOWS=0.5,2"], ["WINDOWS takes", "'2'"]),
    ],
    ids=lambda v: str(v)[:40],
)
def test_runner_range_checks_numbers_only_a_notebook_reads(
    tmp_path, capsys, monkeypatch, argv, needles
):
    """Probe R17: `run 01 -p N_SAMPLES -1` started the notebook."""
    monkeypatch.chdir(tmp_path)
    refused(capsys, runner.main([*argv, "--out", str(tmp_path / "nb")]), 2, *needles)
    assert not (tmp_path / "nb").exists()


def test_runner_refuses_an_out_that_holds_a_training_run(tmp_path, capsys):
    """Probe R21: `run 01 --out <a joint run>` would replace that run's metrics.json."""
    out = tmp_path / "j"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    before = tree_bytes(out)
    status = runner.main(["01", "--out", str(out)])
    refused(capsys, status, 2, f"--out {out} holds a training run", "choose another --out")
    assert tree_bytes(out) == before


def test_a_data_root_at_the_raw_sources_says_to_build_from_them(tmp_path, capsys):
    """Probe R34: data_root at the MNIST download got "build a cache here"."""
    sources = tmp_path / "mnist"
    sources.mkdir()
    (sources / "t10k-images-idx3-ubyte.gz").write_bytes(b"")
    status = main(["joint", "--out", str(tmp_path / "j"), *TINY[:3], "dataset=avmnist",
                   f"data_root={sources}"])  # fmt: skip
    refused(capsys, status, 2, "holds the raw sources", f"--mnist-dir {sources}", "data_root")


def test_a_method_s_own_teacher_needs_are_named(tmp_path, capsys):
    """Probe R08 (the cause is reconboost_init) and R14 (--teachers ignored without a word)."""
    argv = ["student", "--method", "reconboost", "--out", str(tmp_path / "r"), *TINY]
    refused(capsys, main([*argv, "reconboost_init=teachers"]), 2, "reconboost_init='teachers'")
    argv = ["student", "--method", "joint", "--teachers", str(tmp_path), "--out"]
    assert main([*argv, str(tmp_path / "j"), *TINY]) == 0
    assert "--teachers is not used" in capsys.readouterr().err


def test_a_one_digit_notebook_number_means_its_two_digit_name():
    """Probe R19: `run 1` was refused with "give a number"."""
    assert runner.find_notebook("1").name == "01_teacher_training.ipynb"


# -------------------------------------------------------------- the seventh probe's cases
def test_folder_parameters_reach_the_notebook_as_the_folder_meant(tmp_path, monkeypatch):
    """Probes S21 (`~` went to the notebook literally), S22 (ARTIFACT_DIR '' wrote models among
    the kit's notebooks), S23 (a GRID_DIR typed from the repository root)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    nb = [runner.find_notebook("04")]
    checked = runner.check_parameter_values({"ARTIFACT_DIR": "~/art"}, nb)
    assert checked["ARTIFACT_DIR"] == str(tmp_path / "art")
    relative = runner.check_parameter_values({"ARTIFACT_DIR": "../artifacts"}, nb)
    assert relative["ARTIFACT_DIR"] == str(runner.REPO_ROOT / "artifacts")
    for value, needle in [("", "ARTIFACT_DIR is empty"), (".", "among the kit's notebooks")]:
        with pytest.raises(runner.RunError, match=needle):
            runner.check_parameter_values({"ARTIFACT_DIR": value}, nb)
    grids = tmp_path / "grids"
    grids.mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runner.RunError, match=f"from this folder it is {grids}"):
        runner.check_parameter_values({"GRID_DIR": "grids"}, nb)
    assert runner.check_parameter_values({"GRID_DIR": ""}, nb)["GRID_DIR"] == ""


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["03", "-f", "x.yaml"],
         ["CROSSOVER_DATA takes synthetic knobs", "did you mean visual_uninformative"]),
        (["01", "-p", "PROFILE", "avmnist", "-p", "DATASET", "synthetic"],
         ["profile 'avmnist' is made for avmnist", "smoke or classroom"]),
    ],
    ids=["crossover-knob", "profile-dataset"],
)  # fmt: skip
def test_runner_refuses_values_a_late_cell_would_fail_on(
    tmp_path, capsys, monkeypatch, argv, needles
):
    """Probes S24 and S56: both started the notebook and failed after training."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").write_text("CROSSOVER_DATA: {visual_uninformativ: noise}\n")
    refused(capsys, runner.main([*argv, "--out", str(tmp_path / "nb")]), 2, *needles)


def test_a_profile_s_data_options_for_another_dataset_name_the_profile(tmp_path, capsys):
    """Probe S03: refused over knobs the user never typed."""
    status = main(["joint", "--profile", "avmnist", "--out", str(tmp_path / "j"), *TINY[:3],
                   "dataset=synthetic"])  # fmt: skip
    refused(capsys, status, 2, "profile 'avmnist' is made for avmnist", "smoke or classroom")


@pytest.mark.parametrize(
    ("override", "needle"),
    [("lr=1e\u22123", "U+2212, minus sign"), ("data_options={\u201cn_train\u201d: 64}", "U+201C")],
    ids=["unicode-minus", "curly-quotes"],
)
def test_typographic_characters_in_an_override_are_named(tmp_path, capsys, override, needle):
    """Probes S04 and S05: text pasted from a PDF."""
    refused(capsys, main(["joint", "--out", str(tmp_path / "j"), override]), 2, needle, "ASCII")


def test_training_runs_are_never_written_inside_other_runs(tmp_path, capsys):
    """Probes S02, S10 (teachers inside a finished run), S25 (a notebook's metrics.json among
    teacher runs), S63 (a grid inside a run)."""
    joint, teachers = tmp_path / "j", tmp_path / "t"
    assert main(["joint", "--out", str(joint), *TINY]) == 0
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    before = tree_bytes(tmp_path)
    status = main(["teacher", "--out", str(joint), *TINY])
    refused(capsys, status, 2, "is inside the training run", str(joint))
    status = main(["teacher", "--out", str(teachers / "teacher-audio"), *TINY])
    refused(capsys, status, 2, "is inside the training run", "teacher-audio")
    status = runner.main(["01", "--out", str(teachers)])
    refused(capsys, status, 2, "holds training runs (teacher-audio, teacher-visual)")
    status = runner.main(["01", "--grid", "SEED=0,1", "--out", str(joint)])
    refused(capsys, status, 2, "holds a training run")
    assert tree_bytes(tmp_path) == before


def test_an_out_beside_the_run_the_shell_is_in_is_not_inside_it(tmp_path, capsys, monkeypatch):
    """Probe 26 AA24: from inside a run folder, ``--out ../sibling`` (and a grid's) was refused
    as "inside the training run": the check looked for a run above ``run/../sibling`` before
    resolving ``..``."""
    run = tmp_path / "run"
    assert main(["joint", "--out", str(run), *TINY]) == 0
    monkeypatch.chdir(run)
    assert main(["joint", "--out", "../sibling", *TINY]) == 0
    assert (tmp_path / "sibling" / "metrics.json").is_file()
    capsys.readouterr()
    status = main(["joint", "--out", "..", *TINY])
    refused(capsys, status, 2, ".. is not empty and holds no g2d-lite run")
    runner.check_notebook_out(Path("../grid"))
    status = main(["joint", "--out", "inner", *TINY])
    refused(capsys, status, 2, "is inside the training run", str(run))


def test_teachers_allowed_other_data_must_still_read_the_inputs(tmp_path, capsys):
    """Probe S55: --allow-teacher-data-mismatch over other input sizes crashed at the first
    step with a matrix-shape error, leaving a started run."""
    teachers = tmp_path / "t"
    assert main(["teacher", "--out", str(teachers), *TINY, "encoder=mlp"]) == 0
    options = "data_options={'n_train': 64, 'n_validation': 32, 'n_test': 32, 'audio_size': 12}"
    out = tmp_path / "s"
    argv = ["student", "--teachers", str(teachers), "--out", str(out), *TINY[:3], options]
    status = main([*argv, "--allow-teacher-data-mismatch", "encoder=mlp"])
    refused(capsys, status, 2, "teacher cannot read these data's", "not other input shapes")
    assert not out.exists() or not any(out.iterdir())


def test_a_params_file_that_is_not_utf8_is_named(tmp_path, capsys):
    """Probe S30: a bare UTF-8 decode error."""
    params = tmp_path / "p.yaml"
    params.write_text("EPOCHS: 1\n", encoding="utf-16")
    refused(capsys, runner.main(["01", "-f", str(params)]), 2, f"{params} is not UTF-8", "UTF-8")


def test_exercise_build_mistakes_from_the_seventh_probe(tmp_path, capsys):
    """Probes S32 (a notebook in a data subfolder dropped silently), S46 (a dangling --out link)."""
    source = tmp_path / "src"
    shutil.copytree(exercises.SOURCE_DIR, source)
    (source / "ex04_run").mkdir(exist_ok=True)
    shutil.copy(next(source.glob("ex01*.ipynb")), source / "ex04_run" / "scratch.ipynb")
    assert exercises.main(["build", "--source", str(source), "--out", str(tmp_path / "o")]) == 0
    assert "not copied: ex04_run/scratch.ipynb" in capsys.readouterr().err
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere" / "x")
    status = exercises.main(["build", "--out", str(link)])
    refused(capsys, status, 2, f"--out {link} is a symlink to", "does not exist")


# --------------------------------------------------------------- the eighth probe's cases
def test_folders_of_other_tools_are_never_taken_for_runs(tmp_path, capsys):
    """Probes T01/T02 (a model folder's config.json called "another run", then overwritten by
    --no-resume) and T03/T04 (a notebook's output folder read as a finished run, its
    metrics.json replaced by --no-resume)."""
    model = tmp_path / "hf"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"architectures": ["Bert"], "hidden": 768}))
    notebook = tmp_path / "nb"
    notebook.mkdir()
    (notebook / "metrics.json").write_text("{}")
    (notebook / "01_teacher_training.ipynb").write_text("{}")
    before = tree_bytes(tmp_path)
    for folder in (model, notebook):
        for extra in ([], ["--no-resume"]):
            status = main(["joint", "--out", str(folder), *TINY, *extra])
            refused(capsys, status, 2, "holds no g2d-lite run", "new or empty folder")
    assert tree_bytes(tmp_path) == before


def test_a_lock_file_planted_as_a_link_is_not_written_through(tmp_path, capsys):
    """Probe T08: a .lock symlink made the next run truncate the file it points to."""
    precious = tmp_path / "precious.txt"
    precious.write_text("do not truncate")
    out = tmp_path / "j"
    out.mkdir()
    (out / ".lock").symlink_to(precious)
    refused(capsys, main(["joint", "--out", str(out), *TINY]), 2, "is a symbolic link")
    assert precious.read_text() == "do not truncate"


def test_a_student_of_other_teachers_with_the_same_folder_names_is_its_own_run(tmp_path):
    """Probe T09: students of two `teacher --out` folders shared one cache entry (both hold a
    teacher-audio), so the second call returned the first one's student."""
    from g2d_lite.config import METHODS
    from g2d_lite.notebook import load_data
    from g2d_lite.store import load_or_train_student, load_run
    from tests.helpers import tiny_config

    one, two = tmp_path / "t0", tmp_path / "t1"
    assert main(["teacher", "--out", str(one), *TINY]) == 0
    assert main(["teacher", "--out", str(two), *TINY, "lr=0.013"]) == 0
    sizes = {"n_train": 64, "n_validation": 32, "n_test": 32}
    cfg = tiny_config(epochs=1, data_options=sizes, **METHODS["g2d"])
    data = load_data(cfg)
    first = load_or_train_student(
        cfg, data, {m: load_run(one / f"teacher-{m}") for m in ("audio", "visual")}, tmp_path / "a"
    )
    second = load_or_train_student(
        cfg, data, {m: load_run(two / f"teacher-{m}") for m in ("audio", "visual")}, tmp_path / "a"
    )
    assert first.run_dir != second.run_dir


def test_runner_never_mixes_two_notebooks_or_two_grids_in_one_folder(tmp_path, capsys):
    """Probes T41 (a second notebook replaced the first one's metrics.json) and T42 (a smaller
    grid left the old points, which GRID_DIR then averaged in)."""
    out = tmp_path / "nb"
    out.mkdir()
    (out / "01_teacher_training.ipynb").write_text("{}")
    status = runner.main(["02", "--out", str(out)])
    refused(capsys, status, 2, "holds the results of 01_teacher_training.ipynb", "its own --out")
    grid = tmp_path / "grid"
    (grid / "SEED=7").mkdir(parents=True)
    (grid / "SEED=7" / "04_ablations.ipynb").write_text("{}")
    status = runner.main(["04", "--grid", "SEED=0,1", "--out", str(grid)])
    refused(capsys, status, 2, "grid points this grid does not have (SEED=7)")


def test_runner_never_replaces_results_it_did_not_write(tmp_path, capsys):
    """Probe W89: `run 01 --out` a folder of the user's own replaced their metrics.json and a
    figure of the same name, exit 0."""
    out = tmp_path / "mydocs"
    out.mkdir()
    (out / "metrics.json").write_text('{"mine": 1}')
    (out / "thesis.tex").write_text("thesis")
    status = runner.main(["01", "--out", str(out)])
    refused(
        capsys, status, 2, "holds files the runner did not write (metrics.json)", "new or empty"
    )
    assert (out / "metrics.json").read_text() == '{"mine": 1}'


@pytest.mark.parametrize("target", ["04", "all"])
def test_runner_refuses_one_epoch_for_the_window_ablation(tmp_path, capsys, target):
    """Probe W88: `run 04 -p EPOCHS 1` trained every ablation, then failed in cell 23 with an
    error about the notebook's own code."""
    status = runner.main([target, "-p", "EPOCHS", "1", "--out", str(tmp_path / "o")])
    refused(capsys, status, 2, "EPOCHS 1: 04_ablations.ipynb's window ablation", "EPOCHS 2 or more")
    assert not (tmp_path / "o").exists()


def test_runner_mistakes_from_the_eighth_probe(tmp_path, capsys, monkeypatch):
    """Probes T12 (a dict given with -p), T55 (a -f grid axis replaced by --grid), T58 (a data
    cache as ARTIFACT_DIR)."""
    monkeypatch.chdir(tmp_path)
    status = runner.main(["03", "-p", "CROSSOVER_DATA", "{'a': 1}", "--out", "o"])
    refused(capsys, status, 2, "takes dict values", "-f YAML file")
    (tmp_path / "g.yaml").write_text("SEED: [0, 1]\n")
    status = runner.main(["04", "-f", "g.yaml", "--grid", "SEED=2,3", "--out", "o"])
    refused(capsys, status, 2, "SEED is both a --grid axis and a -p value or a -f grid axis")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "meta.json").write_text("{}")
    status = runner.main(["01", "-p", "ARTIFACT_DIR", str(cache), "--out", "o"])
    refused(capsys, status, 2, "a dataset cache (it holds meta.json)")


def test_a_config_file_nested_too_deeply_is_named(tmp_path, capsys):
    """Probe T38: a RecursionError reported as a bug."""
    config = tmp_path / "deep.json"
    config.write_text("[" * 100000 + "]" * 100000)
    status = main(["joint", "--out", str(tmp_path / "j"), "--config", str(config)])
    refused(capsys, status, 2, "nested too deeply")


def test_exercise_builds_keep_a_student_s_data_and_strip_every_cell_kind(tmp_path, capsys):
    """Probes T25 (a rebuild overwrote data files the student changed), T45 (hidden tests in a
    markdown cell) and T46 (solution markers in a raw solution cell) shipped to students."""
    import nbformat

    source = tmp_path / "src"
    shutil.copytree(exercises.SOURCE_DIR, source)
    nb_path = next(source.glob("ex01*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    hidden = nbformat.v4.new_markdown_cell(
        "visible\n### BEGIN HIDDEN TESTS\nsecret check\n### END HIDDEN TESTS"
    )
    raw = nbformat.v4.new_raw_cell("### BEGIN SOLUTION\nthe answer\n### END SOLUTION")
    raw.metadata["nbgrader"] = {"solution": True, "grade_id": "raw1", "schema_version": 3}
    nb.cells += [hidden, raw]
    nbformat.write(nb, nb_path)
    out = tmp_path / "out"
    assert exercises.main(["build", "--source", str(source), "--out", str(out)]) == 0
    text = (out / nb_path.name).read_text()
    assert "secret check" not in text and "the answer" not in text and "visible" in text
    data = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix != ".ipynb"
                  and p.name != ".built.json")  # fmt: skip
    if data:
        data[0].write_bytes(data[0].read_bytes() + b"student edit")
        status = exercises.main(["build", "--source", str(source), "--out", str(out)])
        refused(capsys, status, 2, "has changed since it was built", "--force")
        assert data[0].read_bytes().endswith(b"student edit")


def test_mnist_train_files_that_are_the_test_files_are_refused(tmp_path, capsys):
    """Probe T51: the cache trained on the test images without a word."""
    from tests.data_fixtures import make_fsdd, make_mnist

    mnist = make_mnist(tmp_path / "mnist")
    for kind in ("images-idx3", "labels-idx1"):
        shutil.copy(mnist / f"t10k-{kind}-ubyte.gz", mnist / f"train-{kind}-ubyte.gz")
    fsdd = make_fsdd(tmp_path / "fsdd" / "recordings", takes=2)
    argv = ["avmnist", "--mnist-dir", str(mnist), "--fsdd-dir", str(fsdd), "--out",
            str(tmp_path / "c"), "--no-progress"]  # fmt: skip
    refused(capsys, prepare(argv), 2, "holds the same images as t10k-images-idx3-ubyte.gz")


def test_a_student_copy_given_to_the_runner_says_what_it_is(tmp_path, capsys):
    """Probe T44: papermill noise and a bare NotImplementedError from cell 6."""
    import nbformat

    assert exercises.main(["build", "--out", str(tmp_path / "ex")]) == 0
    capsys.readouterr()
    student = next((tmp_path / "ex").glob("ex01*.ipynb"))
    status = runner.main([str(student), "--out", str(tmp_path / "nb")])
    refused(capsys, status, 2, "is a student copy with 3 unanswered", "answer them", "run ex01")
    assert not (tmp_path / "nb").exists()
    for instructor in exercises.SOURCE_DIR.glob("*.ipynb"):  # their solutions run
        assert exercises.unanswered_cells(nbformat.read(instructor, as_version=4)) == []


def test_a_bad_jobs_variable_is_refused_before_the_notebooks_start(tmp_path, capsys, monkeypatch):
    """The runner read G2D_LITE_JOBS=two as unset, and each notebook's kernel then failed on it
    with a traceback."""
    monkeypatch.setenv("G2D_LITE_JOBS", "two")
    status = runner.main(["demo", "--out", str(tmp_path / "demo")])
    refused(capsys, status, 2, "G2D_LITE_JOBS must be a whole number", "'two'")
    assert not (tmp_path / "demo").exists()
    # probe 31 CA23: one notebook (which runs alone) failed in its cell 11 instead
    status = runner.main(["01", "--out", str(tmp_path / "one")])
    refused(capsys, status, 2, "G2D_LITE_JOBS must be a whole number", "'two'")
    assert not (tmp_path / "one").exists()


@pytest.mark.parametrize("given", ["params/smoke.yaml", "smoke.yaml"])
def test_the_readme_s_params_file_is_found_from_any_folder(tmp_path, capsys, monkeypatch, given):
    """Probe U50: `-f params/ablation_ci.yaml` outside the repository was "not found; the kit
    ships: ablation_ci.yaml", and that name was refused too."""
    monkeypatch.chdir(tmp_path)
    status = runner.main(["03", "-f", given, "-p", "NOPE", "1"])  # read, then refused on NOPE
    err = capsys.readouterr().err
    assert status == 2 and "unknown parameter(s) ['NOPE']" in err
    assert f"note: reading the kit's {runner.PARAMS_DIR / 'smoke.yaml'}" in err


def test_a_run_folder_whose_checkpoints_are_a_link_is_refused_by_name(tmp_path, capsys):
    """Probe U58: checkpoints/ linked to the user's own folder got "no checkpoint at
    …/last.pt"; links in place of a run's file are refused, the folder left as it was."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(mine)
    status = main(["joint", "--out", str(run), *TINY])
    refused(capsys, status, 2, f"{run / 'checkpoints'} is a symbolic link to {mine}", "a new --out")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_a_progress_switch_typo_is_refused_before_a_run_folder_is_made(
    tmp_path, capsys, monkeypatch
):
    """Probe V28: G2D_LITE_PROGRESS=banana (or off) silently left progress bars on."""
    monkeypatch.setenv("G2D_LITE_PROGRESS", "banana")
    status = main(["joint", "--out", str(tmp_path / "run"), *TINY])
    refused(capsys, status, 2, "G2D_LITE_PROGRESS='banana' is neither on nor off", "0 (or off)")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["off", "Off", "no", "0", "false"])
def test_every_spelling_of_off_keeps_errors_to_one_line(tmp_path, capsys, monkeypatch, value):
    """Probe R12: G2D_LITE_DEBUG=off (meant to silence tracebacks) turned them on, exit 1."""
    monkeypatch.setenv("G2D_LITE_DEBUG", value)
    refused(capsys, main(["evaluate", "--run", str(tmp_path / "nowhere")]), 2, "does not exist")


def test_a_debug_switch_typo_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    """Probe R12: G2D_LITE_DEBUG=maybe was read as on."""
    monkeypatch.setenv("G2D_LITE_DEBUG", "maybe")
    status = main(["evaluate", "--run", str(tmp_path / "nowhere")])
    refused(capsys, status, 2, "G2D_LITE_DEBUG='maybe' is neither on nor off", "0 (or off)")
    monkeypatch.setenv("G2D_LITE_DEBUG", "on")
    with pytest.raises(KitError, match="does not exist"):
        main(["evaluate", "--run", str(tmp_path / "nowhere")])


def test_a_data_variable_naming_a_file_does_not_break_prepare_s_help(tmp_path, capsys, monkeypatch):
    """Probe X29: G2D_LITE_DATA naming a file gave a 20-line traceback from building the --out
    help text, even for --help and with --out given."""
    afile = tmp_path / "afile"
    afile.write_text("hi")
    monkeypatch.setenv("G2D_LITE_DATA", str(afile))
    with pytest.raises(SystemExit) as done:
        prepare(["avmnist", "--help"])
    assert done.value.code == 0 and "$G2D_LITE_DATA/avmnist" in capsys.readouterr().out
    status = prepare(["avmnist", "--mnist-dir", str(tmp_path / "no"), "--fsdd-dir", str(tmp_path)])
    refused(capsys, status, 2, f"G2D_LITE_DATA={afile} is a file")


def test_student_copies_given_as_the_source_are_refused(tmp_path, capsys):
    """Probe X112: building from student copies wrote answer cells without their signatures and
    docstrings, with no warning."""
    assert exercises.main(["build", "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    status = exercises.main(
        ["build", "--source", str(tmp_path / "a"), "--out", str(tmp_path / "b")]
    )
    refused(capsys, status, 2, "is a student copy", "cells hold '# YOUR CODE HERE'", "--source")
    assert not (tmp_path / "b").exists()


def test_an_os_error_without_a_reason_says_what_to_check():
    """Probe Y18: under `ulimit -f` numpy's writer failed with "[Errno None] None: 'path'"."""
    from g2d_lite.errors import describe

    text = describe(OSError(None, None, "cache/.build/audio_train.npy"))
    assert text.startswith("could not write or read cache/.build/audio_train.npy")
    assert "ulimit -f" in text and "rerun the same command" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["joint", "--out", ""],
        ["teacher", "--out", " "],
        ["student", "--out", "x", "--teachers", ""],
        ["evaluate", "--run", ""],
    ],
    ids=lambda v: " ".join(v),
)
def test_an_empty_folder_option_is_refused_not_read_as_the_current_folder(
    tmp_path, capsys, monkeypatch, argv
):
    """Own probe: `--out ""` (an unset shell variable) trained teachers into the current
    folder; the same for exercises build, which wrote the student notebooks there."""
    monkeypatch.chdir(tmp_path)
    for command, args in ((main, [*argv, *TINY]), (exercises.main, ["build", "--out", ""])):
        refused(capsys, command(args), 2, "is empty (an unset shell variable?)")
        assert not any(tmp_path.iterdir())


def test_a_bad_jobs_variable_is_refused_by_the_training_commands(tmp_path, capsys, monkeypatch):
    """Probe V12: `G2D_LITE_JOBS=abc python -m g2d_lite teacher` ignored it and exited 0."""
    monkeypatch.setenv("G2D_LITE_JOBS", "abc")
    status = main(["teacher", "--out", str(tmp_path / "t"), *TINY])
    refused(capsys, status, 2, "G2D_LITE_JOBS must be a whole number", "'abc'")
    assert not (tmp_path / "t").exists()


def test_a_number_with_a_leading_zero_is_that_number(tmp_path):
    """Probe V01: `epochs=01` was refused as "must be an integer, got '01'"."""
    assert parse_overrides(["epochs=01", "seed=007", "lr=0.05"]) == {
        "epochs": 1,
        "seed": 7,
        "lr": 0.05,
    }


def test_settings_a_run_never_reads_are_noted(tmp_path, capsys):
    """Probes W03 (smp_alpha and ogm_alpha on a g2d student changed nothing, recorded all the
    same) and W04 (momentum under optimizer=adam)."""
    argv = ["joint", "--out", str(tmp_path / "r"), *TINY, "optimizer=adam", "momentum=0.5"]
    assert main([*argv, "ogm_alpha=5", "smp_alpha=3"]) == 0
    err = capsys.readouterr().err
    assert "note: momentum=0.5 has no effect: it is an SGD setting, and optimizer=adam" in err
    assert "note: ogm_alpha=5.0 has no effect: only balance=ogm or ogm_ge reads it" in err
    assert "note: smp_alpha=3.0 has no effect: only balance=smp reads it" in err
    assert main(["joint", "--out", str(tmp_path / "plain"), *TINY]) == 0
    assert "has no effect" not in capsys.readouterr().err


def test_a_one_sample_batch_trains_where_batch_norm_sees_a_feature_map(tmp_path):
    """Recheck of W13: the first fix refused batch_size=1 for every model with BatchNorm, and
    the small CNN's BatchNorm2d trains on one sample (many values per channel)."""
    argv = ["teacher", "--modality", "audio", "--out", str(tmp_path / "t"), *TINY]
    assert main([*argv, "batch_size=1"]) == 0


def test_a_feature_map_pooled_to_one_value_before_batch_norm_names_batch_size(tmp_path, capsys):
    """A ResNet-18 on small inputs reaches a 1 x 1 map before its last BatchNorm2d: one
    sample is then one value per channel, which only the step itself finds."""
    sizes = "data_options={'n_train': 4, 'n_validation': 2, 'n_test': 2}"
    argv = ["teacher", "--modality", "audio", "--out", str(tmp_path / "t"), "epochs=1"]
    status = main([*argv, "encoder=resnet18", "batch_size=1", "progress=False", sizes])
    refused(capsys, status, 2, "a training batch of 1 sample(s)", "raise batch_size")


def test_a_teacher_folder_as_out_and_a_run_s_config_as_config(tmp_path, capsys):
    """Probe K11 (`joint --out` of a `teacher --out` folder: "holds no g2d-lite run"), K10 (a
    teacher's config.json as --config for joint: the clash was blamed on overrides nobody
    typed, and the way out offered was a G²D student)."""
    teachers = tmp_path / "teachers"
    assert main(["teacher", "--out", str(teachers), *TINY]) == 0
    before = tree_bytes(teachers)
    capsys.readouterr()
    status = main(["joint", "--out", str(teachers), *TINY])
    refused(capsys, status, 2, "is a folder of teacher runs (teacher-audio, teacher-visual)")
    assert tree_bytes(teachers) == before
    config = teachers / "teacher-audio" / "config.json"
    status = main(["joint", "--config", str(config), "--out", str(tmp_path / "j"), *TINY])
    line = refused(capsys, status, 2, f"--config {config} sets loss='g2d'", "remove loss")
    assert "student" not in line
    assert not (tmp_path / "j").exists()


def test_a_training_run_as_the_runner_s_model_cache_is_refused_up_front(tmp_path, capsys):
    """Probe K25: -p ARTIFACT_DIR a joint run's folder started the notebook, which failed 53 s
    later in cell 11 with a half-run notebook left in --out."""
    run = tmp_path / "joint"
    assert main(["joint", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    for cache in (run, run / "checkpoints"):
        status = runner.main(["01", "-p", "ARTIFACT_DIR", str(cache), "--out", str(tmp_path / "o")])
        refused(capsys, status, 2, f"inside the training run {run}")
    assert not (tmp_path / "o").exists()


def test_a_rerun_that_dies_leaves_no_earlier_metrics_as_its_own(tmp_path, monkeypatch):
    """Probe E16: a rerun with other parameters, killed midway, left the earlier run's
    metrics.json beside the new half-run notebook, and the folder's table read as the new run's."""
    notebook = runner.find_notebook("01")
    out = tmp_path / "01 run"
    out.mkdir()
    params = {"metadata": {"papermill": {"parameters": {"SEED": 0}}}}
    (out / notebook.name).write_text(json.dumps(params))
    (out / "metrics.json").write_text('{"results": []}')

    def killed(*args, **kwargs):
        raise runner.NotebookFailedError("killed")

    monkeypatch.setattr(runner, "execute", killed)
    with pytest.raises(runner.NotebookFailedError):  # replacing it is asked for (probe 30 BA17)
        runner.run_notebook(notebook, {"SEED": 1}, out, replace=True)
    assert not (out / "metrics.json").exists()


def test_teacher_out_refuses_a_folder_holding_anything_but_its_teacher_runs(tmp_path, capsys):
    """Probe E21: `teacher --out` wrote teacher-<m>/ into a notebook's result folder, a model
    cache and the kit's notebooks/ (only the teacher-<m> subfolder was checked)."""
    results, cache = tmp_path / "nb", tmp_path / "art"
    results.mkdir()
    (results / "metrics.json").write_text('{"results": []}')
    (results / "01_samples.png").write_bytes(b"png")
    (cache / "teacher-audio-0123456789ab").mkdir(parents=True)
    before = tree_bytes(tmp_path)
    for out, named in ((results, "01_samples.png, metrics.json"), (cache, "teacher-audio-0123")):
        status = main(["teacher", "--out", str(out), "--modality", "audio", *TINY])
        refused(capsys, status, 2, f"--out {out} holds files", named, "new or empty folder")
    assert tree_bytes(tmp_path) == before


def test_a_looping_teachers_link_and_a_params_file_given_as_profile(tmp_path, capsys):
    """Probes E25 (`--teachers loopy`, a link to itself, "does not exist") and E28 (`run 04
    --profile ablation_ci`, a kit params file, blamed a PROFILE parameter never typed)."""
    loop = tmp_path / "loopy"
    loop.symlink_to(loop)
    status = main(["student", "--teachers", str(loop), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, f"--teachers {loop} is a symlink", "point --teachers at")
    status = runner.main(["04", "--profile", "ablation_ci", "--out", str(tmp_path / "r")])
    refused(capsys, status, 2, "is a parameter file, not a profile", "-f ", "ablation_ci.yaml")
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


def test_the_model_cache_and_the_results_folder_are_kept_apart(tmp_path, capsys):
    """Probe E29: ARTIFACT_DIR the same folder as --out was accepted; the folder then held a
    metrics.json among training runs, and the same command was refused the second time."""
    results = tmp_path / "nb"
    for cache in (results, results / "models", tmp_path):
        status = runner.main(["01", "-p", "ARTIFACT_DIR", str(cache), "--out", str(results)])
        refused(capsys, status, 2, f"ARTIFACT_DIR {cache}", "a folder of their own")
    results.mkdir()
    (results / "metrics.json").write_text('{"results": []}')
    status = runner.main(["01", "-p", "ARTIFACT_DIR", str(results), "--out", str(tmp_path / "o")])
    refused(capsys, status, 2, "a notebook's results folder", "a folder of their own")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb"]


def test_teachers_given_a_notebooks_results_folder_name_its_model_cache(tmp_path, capsys):
    """Probe E31: `--teachers "nb/01 run"` (notebook 01's results) advised training teachers,
    though they were trained, in the model cache its notebook records."""
    results = tmp_path / "01 run"
    results.mkdir()
    (results / "metrics.json").write_text('{"results": []}')
    params = {"metadata": {"papermill": {"parameters": {"ARTIFACT_DIR": "/data/art"}}}}
    (results / "01_teacher_training.ipynb").write_text(json.dumps(params))
    status = main(["student", "--teachers", str(results), "--out", str(tmp_path / "s"), *TINY])
    refused(capsys, status, 2, "a notebook's results folder", "model cache /data/art")


def test_a_notebook_grid_or_results_folder_names_the_model_cache(tmp_path, capsys):
    """Probe 26 AA21 (evaluate --run of a notebook's results said "give the folder a training
    command wrote", which a notebook user has none of) and AA22 (student --teachers of a
    `run --grid` folder said "no teacher runs found; train them first")."""
    grid = tmp_path / "grid"
    params = {"metadata": {"papermill": {"parameters": {"ARTIFACT_DIR": "/data/art"}}}}
    for point in ("SEED=0", "SEED=1"):
        (grid / point).mkdir(parents=True)
        (grid / point / "metrics.json").write_text('{"results": []}')
        (grid / point / "01_teacher_training.ipynb").write_text(json.dumps(params))
    (grid / "summary.csv").write_text("seed\n0\n1\n")
    out = str(tmp_path / "s")
    status = main(["student", "--teachers", str(grid), "--out", out, *TINY])
    refused(
        capsys,
        status,
        2,
        "a grid of notebook results (SEED=0, SEED=1)",
        "model cache /data/art, as teacher-<name>-<key> folders",
    )
    for folder, kind in ((grid, "a grid of notebook results"), (grid / "SEED=0", "a notebook's")):
        status = main(["evaluate", "--run", str(folder)])
        refused(capsys, status, 2, kind, "/data/art", "give one of those to --run")
    assert not (tmp_path / "s").exists()


def test_a_model_cache_that_cannot_be_created_is_refused_up_front(tmp_path, capsys, monkeypatch):
    """Probe E36: ARTIFACT_DIR in a read-only place started the notebook, which failed in
    cell 11 with a bare OSError. (os.access stands in for a read-only mount: root may write
    into a folder without write permission.)"""
    share = tmp_path / "share"
    share.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        runner.os, "access", lambda p, mode: Path(p) != share and real_access(p, mode)
    )
    cache = share / "cache"
    status = runner.main(["01", "-p", "ARTIFACT_DIR", str(cache), "--out", str(tmp_path / "o")])
    refused(capsys, status, 2, f"is {cache}, which does not exist and cannot be created")
    assert not (tmp_path / "o").exists() and not cache.exists()


def test_a_folder_of_command_line_runs_is_no_model_cache(tmp_path, capsys):
    """Probe E43: ARTIFACT_DIR a `teacher --out` folder was accepted; the notebook wrote cache
    entries beside teacher-audio/, and the folder then failed as --teachers ("two teachers")."""
    teachers = tmp_path / "teachers"
    assert main(["teacher", "--out", str(teachers), "--modality", "audio", *TINY]) == 0
    capsys.readouterr()
    before = tree_bytes(tmp_path)
    status = runner.main(["01", "-p", "ARTIFACT_DIR", str(teachers), "--out", str(tmp_path / "o")])
    refused(capsys, status, 2, "holds runs of the command line (teacher-audio)", "of their own")
    assert tree_bytes(tmp_path) == before
    # beside other runs of the command line (runs/joint), teacher --out is fine
    assert main(["joint", "--out", str(teachers / "joint"), *TINY]) == 0
    assert main(["teacher", "--out", str(teachers), "--modality", "visual", *TINY]) == 0
    assert (teachers / "teacher-visual" / "metrics.json").is_file()


def test_every_main_returns_the_status_of_usage_errors_and_help(capsys):
    """Probe E42: cli.main promised to return the exit status, but an unknown subcommand or
    choice raised SystemExit (so did run.main); --help returns 0."""
    assert main(["frobnicate"]) == 2
    assert runner.main(["01", "--no-such-option"]) == 2
    assert exercises.main(["frobnicate"]) == 2
    assert main(["--help"]) == 0 and runner.main(["--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def test_a_fractional_count_for_a_notebook_only_parameter_is_refused_up_front():
    """Probe E40: -p PEER_EPOCHS 2.5 passed the pre-check and could only fail in notebook 04's
    peer cell, naming epochs."""
    nb = [runner.find_notebook("04")]
    for name in ("PEER_EPOCHS", "QUICK_TRAIN_EPOCHS", "N_SAMPLES"):
        with pytest.raises(runner.RunError, match=f"{name}.*an integer at least 1"):
            runner.check_parameter_values({name: 2.5}, nb)
    runner.check_parameter_values({"PEER_EPOCHS": None}, nb)


def test_the_same_teachers_folder_given_twice_is_named_so(tmp_path, capsys):
    """Probe E45: "two teachers for 'audio' (X and X)" for one folder given twice."""
    teachers = tmp_path / "teachers"
    assert main(["teacher", "--out", str(teachers), "--modality", "audio", *TINY]) == 0
    capsys.readouterr()
    for again in (str(teachers), f"{tmp_path}/./teachers"):
        argv = ["student", "--teachers", str(teachers), "--teachers", again, "--out"]
        status = main([*argv, str(tmp_path / "s"), *TINY])
        refused(capsys, status, 2, f"--teachers {again} is given twice", "give each folder once")


def test_the_default_modalities_spelled_out_resume_the_same_run(tmp_path, capsys):
    """Probe E44: `modalities=audio,visual` (the default, spelled out) on a finished run was
    "another run", and the offered --no-resume would retrain the same bits; another order is
    another run."""
    out = tmp_path / "j"
    assert main(["joint", "--out", str(out), *TINY]) == 0
    assert main(["joint", "--out", str(out), *TINY, "modalities=audio,visual"]) == 0
    capsys.readouterr()
    status = main(["joint", "--out", str(out), *TINY, "modalities=visual,audio"])
    refused(capsys, status, 2, "changed: modalities")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_standard_output_closed_or_full_is_named(tmp_path, capsys):
    """Probes E48 (`evaluate >&-` printed nothing and exited 0) and E49 (`evaluate > /dev/full`
    said "while writing a file")."""
    run = tmp_path / "j"
    assert main(["joint", "--out", str(run), *TINY]) == 0
    command = [sys.executable, "-m", "g2d_lite", "evaluate", "--run", str(run)]
    closed = subprocess.run(
        command,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 2 and "standard output is closed" in closed.stderr
    with open("/dev/full", "w") as full:
        done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "while writing standard output" in done.stderr


@pytest.mark.parametrize("name", [".lock", "config.json"])
def test_a_fifo_planted_in_a_run_folder_is_named_not_read(tmp_path, capsys, name):
    """Probe E50: a FIFO in place of .lock or config.json made evaluate and resume hang (or
    said "File or stream is not seekable.")."""
    run = tmp_path / "j"
    assert main(["joint", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    (run / name).unlink(missing_ok=True)
    os.mkfifo(run / name)
    for argv in (["evaluate", "--run", str(run)], ["joint", "--out", str(run), *TINY]):
        refused(capsys, main(argv), 2, f"{run / name} is a FIFO", "remove it")


def test_runner_out_a_fifo_or_a_dangling_link_is_refused(tmp_path, capsys):
    """Probes E51 (`--out fifo` or /dev/null: a bare "File exists") and E52 (`--out` a dangling
    link was followed, creating the folders it pointed to)."""
    fifo, link = tmp_path / "fifo", tmp_path / "dangling"
    os.mkfifo(fifo)
    link.symlink_to(tmp_path / "nowhere" / "deeper")
    for out in (fifo, Path("/dev/null")):
        refused(capsys, runner.main(["01", "--out", str(out)]), 2, f"--out {out} is a file")
    refused(capsys, runner.main(["01", "--out", str(link)]), 2, "is a symlink", "real folder")
    assert not (tmp_path / "nowhere").exists()


def test_probe_25_command_line_cases(tmp_path, capsys):
    """H03 (a params YAML as --config: "not valid JSON" only), H05 (`teacher` refused the
    second modality only after training the first), H06 (a teachers folder and one of its runs
    both given: "two teachers for 'audio' (X and X)")."""
    status = main(
        [
            "joint",
            "--out",
            str(tmp_path / "j"),
            "--config",
            str(runner.PARAMS_DIR / "smoke.yaml"),
            *TINY,
        ]
    )
    refused(capsys, status, 2, "not valid JSON", "python -m g2d_lite.run -f", "--profile NAME")
    teachers = tmp_path / "t"
    assert main(["teacher", "--modality", "visual", "--out", str(teachers), *TINY]) == 0
    capsys.readouterr()
    status = main(["teacher", "--out", str(teachers), *TINY, "lr=0.02"])
    refused(capsys, status, 2, "teacher-visual holds another run (changed: lr")
    assert not (teachers / "teacher-audio").exists()
    runs = str(teachers / "teacher-visual")
    argv = [
        "student",
        "--teachers",
        str(teachers),
        "--teachers",
        runs,
        "--out",
        str(tmp_path / "s"),
    ]
    refused(capsys, main([*argv, *TINY]), 2, f"--teachers {runs} is inside --teachers", "not both")


def test_a_bool_parameter_given_in_lower_case_names_the_spelling(capsys):
    """Probe H10: `-p PROGRESS false` was refused with no fix ("takes bool values")."""
    status = runner.main(["01", "-p", "PROGRESS", "false", "--out", "unused"])
    refused(
        capsys, status, 2, "PROGRESS takes bool values", "-p PROGRESS True or -p PROGRESS False"
    )


def test_the_runner_names_the_training_command_syntax_and_a_folder_here(
    capsys, tmp_path, monkeypatch
):
    """Probe 27 AD29 (`run 01 epochs=1`: "unrecognized arguments") and AD15 (`-p ARTIFACT_DIR
    art` with ./art here: the message named notebooks/art only, so `../art` looked like the fix)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "art").mkdir()
    status = runner.main(["01", "epochs=1", "--out", "o"])
    refused(capsys, status, 2, "python -m g2d_lite's syntax", "-p EPOCHS 1")
    status = runner.main(["01", "-p", "ARTIFACT_DIR", "art", "--out", "o"])
    refused(capsys, status, 2, f"from this folder it is {tmp_path / 'art'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]


def test_a_metrics_json_as_config_and_a_folder_inside_a_run_are_named(tmp_path, capsys):
    """Probe 27 AD22 (a run's metrics.json as --config led with advice about --teachers) and
    AD35 (`evaluate --run run/checkpoints` did not name the run around it)."""
    run = tmp_path / "run"
    assert main(["joint", "--out", str(run), *TINY]) == 0
    capsys.readouterr()
    status = main(["joint", "--out", str(tmp_path / "j"), "--config", str(run / "metrics.json")])
    refused(capsys, status, 2, "is a run's metrics.json, not a config", str(run / "config.json"))
    status = main(["evaluate", "--run", str(run / "checkpoints")])
    refused(capsys, status, 2, f"is inside the run {run}: give {run} itself")


def test_the_runner_s_help_says_where_its_default_out_folder_is(capsys):
    """Probe 27: --help said "default runs/<target>", which reads as relative to the current
    folder, while the default lies in the kit's checkout."""
    assert runner.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"the kit's {runner.RUNS_DIR}/" in text and "NN-grid" in text


def test_teachers_of_another_dataset_name_the_settings_they_were_trained_with(tmp_path):
    """Probe 30 BA08: AV-MNIST teachers for a synthetic student were told "dataset=avmnist, or
    the profile made for it"; dataset=avmnist alone was then refused for its other options."""
    from types import SimpleNamespace

    from g2d_lite.cli import _check_teachers_dataset
    from g2d_lite.config import resolve

    def teacher(cfg):
        return SimpleNamespace(config=cfg, run_dir=tmp_path / "t" / "teacher-audio")

    student = resolve("smoke")
    avmnist = resolve("avmnist", data_root="/data/my avmnist")
    with pytest.raises(KitError, match="were trained on avmnist") as error:
        _check_teachers_dataset([teacher(avmnist)], student)
    assert "(--profile avmnist 'data_root=/data/my avmnist')" in str(error.value)
    plain = resolve("smoke", dataset="avmnist", data_options={"audio_pool": 2})
    with pytest.raises(KitError) as error:
        _check_teachers_dataset([teacher(plain)], student)
    assert """(dataset=avmnist "data_options={'audio_pool': 2}")""" in str(error.value)
    _check_teachers_dataset([teacher(resolve("smoke", epochs=3))], student)  # same dataset


def test_starting_over_says_which_finished_run_it_deletes(tmp_path, capsys):
    """Probe 30 BA06: `joint --no-resume` typed on a G²D student's folder replaced it without
    a word; it was asked for, but the wrong command on a folder should be noticed."""
    out = str(tmp_path / "run")
    assert main(["joint", "--out", out, *TINY]) == 0
    capsys.readouterr()
    assert main(["joint", "--out", out, "--no-resume", *TINY, "epochs=2"]) == 0
    err = capsys.readouterr().err
    assert "starting over (--no-resume): the finished student run (" in err
    assert "; test acc " in err and "is deleted and trained again" in err
    assert main(["joint", "--out", str(tmp_path / "new"), "--no-resume", *TINY]) == 0
    assert "starting over" not in capsys.readouterr().err  # nothing was there


def test_an_unknown_modality_anywhere_in_the_list_is_refused_before_training(tmp_path, capsys):
    """Probe 31 CA03: `teacher modalities=audio,smell` trained the audio teacher for the whole
    recipe and only then refused 'smell', leaving teacher-audio behind."""
    out = tmp_path / "t"
    status = main(["teacher", "--out", str(out), *TINY, "modalities=audio,smell"])
    refused(capsys, status, 2, "names 'smell', which synthetic does not have", "audio, visual")
    assert not out.exists()


def test_a_folder_of_runs_given_as_teachers_names_the_teachers_folder_inside(
    teacher_dir, tmp_path, capsys
):
    """Probe 31 CA05: `--teachers runs` (holding runs/teachers/) said to train teachers, and
    that command was then refused: the teachers were there, one level down."""
    runs = tmp_path / "runs"
    shutil.copytree(teacher_dir, runs / "teachers")
    argv = ["student", "--teachers", str(runs), "--out", str(tmp_path / "s"), *TINY]
    refused(capsys, main(argv), 2, f"but one level down: give --teachers {runs / 'teachers'}")


def test_a_student_setting_given_to_teacher_is_said_to_have_no_effect(tmp_path, capsys):
    """Probe 31 CA21: `teacher fusion=film` (or loss=g2d, balance=smp) trained the same teacher
    without a word and recorded fusion: film in its config.json."""
    argv = ["teacher", "--out", str(tmp_path / "t"), "--modality", "audio", *TINY]
    assert main([*argv, "fusion=film", "smp_alpha=0.5", "lr=0.05"]) == 0
    err = capsys.readouterr().err
    assert "note: fusion='film' has no effect on a teacher" in err
    assert "note: smp_alpha=0.5 has no effect" in err and "lr=" not in err


def test_teacher_folders_with_a_space_are_quoted_and_a_split_one_is_named(
    teacher_dir, tmp_path, capsys
):
    """Probe 33 EA08: `add --teachers runs/my teachers/teacher-visual` was printed unquoted;
    pasted, it was read as two values and the advice then named a folder that does not exist."""
    spaced = tmp_path / "my teachers"
    shutil.copytree(teacher_dir, spaced)
    audio, out = spaced / "teacher-audio", str(tmp_path / "s")
    status = main(["student", "--teachers", str(audio), "--out", out, *TINY])
    refused(capsys, status, 2, f"add --teachers '{spaced / 'teacher-visual'}', or give")
    split = [*str(spaced / "teacher-visual").split(" ", 1)]
    status = main(["student", "--teachers", str(audio), "--teachers", *split, "--out", out])
    refused(
        capsys, status, 2, "is one folder, split at its space", f"'{spaced / 'teacher-visual'}'"
    )

"""The analysis functions a notebook user calls (diagnose, dynamics, results, plots, evaluate,
notebook, SMP) refuse a typo, a swapped argument or unusable data in one line naming the argument
and the fix, instead of a pandas or torch error from deep inside or a plausible wrong table.

Each test names the probe cases (probe 10: V…, probe 10b: W…) it reproduces.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from g2d_lite import diagnose, dynamics, evaluate, losses, notebook, plots, results
from g2d_lite.config import METHODS
from g2d_lite.findings import claims, claims_markdown, evidence_from_runs
from g2d_lite.smp import SMP, teacher_confidence
from g2d_lite.train import TrainResult, train_student, train_teacher
from tests.helpers import tiny_config, tiny_data

STUDENT_METRICS = {"metric": "acc", "role": "student", "seed": 0, "selection": "validation"}


@pytest.fixture(scope="module")
def runs():
    """Real one-epoch runs: two teachers, a joint student and the data they saw."""
    data, cfg = tiny_data(), tiny_config(epochs=1)
    teachers = {m: train_teacher(cfg, data, m) for m in data.info.modality_names}
    joint = train_student(cfg.replace(**METHODS["joint"]), data)
    return data, teachers, joint


def test_gap_tables_name_a_missing_modality_and_an_unknown_metric():
    """V01, W03 (a joint dict without a teacher's modality: bare KeyError), W04 (metric "f1"
    was taken as lower-is-better, flipping the gap's sign)."""
    with pytest.raises(ValueError, match=r"joint has no 'visual' \(it has audio, vision\)"):
        diagnose.gap_table({"audio": 60.0, "visual": 70.0}, {"audio": 55.0, "vision": 40.0})
    with pytest.raises(ValueError, match=r"student has no 'audio', 'visual' \(it has nothing\)"):
        diagnose.gap_table({"audio": 1.0, "visual": 2.0}, {"audio": 1.0, "visual": 1.0}, {})
    with pytest.raises(ValueError, match="unknown metric 'f1'.*'acc' and 'mae'"):
        diagnose.gap_table({"audio": 1.0}, {"audio": 2.0}, {"audio": 1.5}, metric="f1")
    mae = diagnose.gap_table({"audio": 1.0}, {"audio": 2.0}, {"audio": 1.5}, metric="mae")
    assert mae.loc[0, "gap"] == 1.0 and mae.loc[0, "recovery"] == 50.0  # MAE: lower is better


def test_score_tables_check_the_split_and_which_runs_are_teachers(runs):
    """V16, W13 (split="val": KeyError 'val'), W14 (teachers and students swapped: a table of
    plausible numbers under the wrong names)."""
    _, teachers, joint = runs
    assert diagnose.score_table(teachers, {"joint": joint}, "val").equals(
        diagnose.score_table(teachers, {"joint": joint}, "validation")
    )
    with pytest.raises(ValueError, match=r"unknown split 'train'.*learning_curves"):
        diagnose.score_table(teachers, {"joint": joint}, "train")
    with pytest.raises(ValueError, match=r"teachers\['joint'\] is a student run, not a teacher"):
        diagnose.score_table({"joint": joint}, teachers)
    with pytest.raises(ValueError, match=r"students\['audio'\] is a teacher run"):
        diagnose.score_table(teachers, {"audio": teachers["audio"]})
    with pytest.raises(ValueError, match=r"teachers\['audio'\] is the visual teacher"):
        diagnose.score_table({"audio": teachers["visual"]}, {"joint": joint})
    with pytest.raises(TypeError, match=r"must be a trained run \(TrainResult"):
        diagnose.gap_from_runs(teachers, joint.model)


def test_curves_of_no_runs_and_a_stall_report_of_a_mistyped_modality(runs):
    """W15 (learning_curves({}): pandas' "No objects to concatenate"), V14 (stall_report with
    "Audio": a pandas KeyError on 'val/acc/Audio')."""
    _, teachers, joint = runs
    for curves in (diagnose.learning_curves, diagnose.task_loss_curves, diagnose.gradient_norms):
        with pytest.raises(ValueError, match=r"runs is empty: pass at least one run"):
            curves({})
    with pytest.raises(ValueError, match="no 'Audio' branch; its branches are audio, visual"):
        dynamics.stall_report(joint, teachers["audio"], "Audio")
    with pytest.raises(ValueError, match="teacher is a student run"):
        dynamics.stall_report(joint, joint, "audio")


def test_feature_and_drop_diagnostics_name_what_they_need(runs):
    """V21 (a student lacking a teacher's modality: KeyError), W16 (modality_drop of a teacher:
    AttributeError 'fusion'), W17 (the whole DatasetSplits: "has no len()")."""
    data, teachers, joint = runs
    models = {m: r.model for m, r in teachers.items()}
    with pytest.raises(ValueError, match=r"student 't' has no 'visual' \(it has audio\)"):
        diagnose.feature_alignment(models, {"t": models["audio"]}, data.test)
    with pytest.raises(TypeError, match=r"takes one split, e\.g\. data\.test"):
        diagnose.feature_alignment(models, {"joint": joint.model}, data)
    with pytest.raises(TypeError, match="needs a multimodal student.*UnimodalClassifier"):
        diagnose.modality_drop(models["audio"], data.test)


def test_cka_refuses_features_it_cannot_compare():
    """W01 (NaN features: a silent nan), W02 (no samples: a torch reshape error)."""
    x = torch.randn(10, 4)
    x[0, 0] = math.nan
    with pytest.raises(ValueError, match="x holds 1 NaN or infinite values"):
        diagnose.linear_cka(x, torch.randn(10, 3))
    with pytest.raises(ValueError, match="y holds 30 NaN or infinite values"):
        diagnose.linear_cka(torch.randn(10, 3), torch.full((10, 3), math.inf))
    with pytest.raises(ValueError, match="at least 2 samples.*got 0"):
        diagnose.linear_cka(torch.randn(0, 4), torch.randn(0, 3))


def test_informative_flags_of_another_split_or_a_split_typo(runs):
    """V06 (flags of train against test predictions: a torch mask error; with equal sizes it
    would pass silently), W22 (split "val": KeyError)."""
    data, _, joint = runs
    pred = diagnose.predictions(joint.model, data.test)
    with pytest.raises(ValueError, match=r"flags cover \[192\] samples but the predictions 64"):
        diagnose.accuracy_by_informative(pred, diagnose.informative_flags(data.info, "train"))
    with pytest.raises(ValueError, match=r"unknown split 'valid'; valid splits: train, valid"):
        diagnose.informative_flags(data.info, "valid")
    val, validation = (diagnose.informative_flags(data.info, s) for s in ("val", "validation"))
    assert all(torch.equal(val[m], validation[m]) for m in validation)


def test_leader_shares_refuse_an_unknown_kappa():
    """V57: a NaN κ step was counted as led by the other modality (a confident 100 %)."""
    steps = pd.DataFrame(
        {"step": range(4), "epoch": 0, "kappa/audio": [0.0, np.nan, 0.0, 0.0], "kappa/visual": 1.0}
    )
    with pytest.raises(ValueError, match="1 of 4 steps have a NaN or missing kappa"):
        diagnose.leader_share(steps)
    with pytest.raises(ValueError, match="1 steps have a negative kappa"):  # probe Y62
        diagnose.leader_share(steps.fillna(-1.0))
    shares = diagnose.leader_share(steps.dropna())
    assert shares.set_index("leader")["share"].to_dict() == {"visual": 100.0}


def test_the_train_confidence_cap_checks_its_knobs():
    """W05: "blnk" silently gave cap 1.0; informative 1.5 gave a confidence cap above 1."""
    with pytest.raises(ValueError, match=r"unknown uninformative 'blnk'; valid: \('noise'"):
        diagnose.train_confidence_cap(0.5, "blnk", 10)
    with pytest.raises(ValueError, match=r"informative is a share of samples in \[0, 1\]"):
        diagnose.train_confidence_cap(1.5, "blank", 10)
    with pytest.raises(ValueError, match="n_classes must be a whole number of at least 1"):
        diagnose.train_confidence_cap(0.5, "blank", 0)
    assert diagnose.train_confidence_cap(0.5, "blank", 10) == pytest.approx(0.55)


def test_result_rows_keep_what_the_run_says():
    """V19: protocol="paper" and seed=7 as extra columns replaced the derived ones, showing a
    validation-selected seed-0 run as the paper's protocol."""
    metrics = {**STUDENT_METRICS, "test": {"acc": 50.0}}
    with pytest.raises(ValueError, match=r"derives \['protocol', 'seed'\].*may not replace"):
        results.result_row("joint", metrics, protocol="paper", seed=7)
    with pytest.raises(ValueError, match=r"derives \['acc'\]"):
        results.result_row("joint", metrics, acc=99.0)
    assert results.result_row("joint", metrics, fusion="sum")["fusion"] == "sum"


def test_summaries_say_what_they_leave_out_and_refuse_rows_they_cannot_tell_apart():
    """V09, W07 (a NaN seed dropped from the mean while "seeds 2" was shown), W06 (by="method"
    read letter by letter), W24 (two runs of one method and seed with other scores: one was
    dropped as a duplicate, e.g. half of a learning-rate grid)."""
    row = {"method": "g2d", "seed": 0, "protocol": "honest", "acc": 50.0}
    table = results.summarise([row, {**row, "seed": 1, "acc": math.nan}])
    assert table.loc[0, "fused acc"] == "50.0 (1 NaN left out)" and table.loc[0, "seeds"] == 2
    assert results.summarise([row], by="method").loc[0, "fused acc"] == "50.0"
    assert len(results.summarise([row, dict(row)])) == 1  # one model reported twice counts once
    grid = [{**row, "lr": 0.1}, {**row, "lr": 1.0, "acc": 20.0}]
    with pytest.raises(ValueError, match=r"2 rows share method='g2d', seed=0.*add \['lr'\] to by="):
        results.summarise(grid)
    assert list(results.summarise(grid, by=["method", "lr"])["fused acc"]) == ["50.0", "20.0"]


def test_load_rows_names_the_file_and_matches_labels_however_spelled(tmp_path, monkeypatch):
    """V10 (a training run's metrics.json: a silent empty table), W08 (bad JSON without the file
    name; a JSON list: AttributeError; a str: read letter by letter), W23 (labels keyed by Path or
    "./a.json" were silently ignored)."""
    monkeypatch.chdir(tmp_path)
    row = {"method": "g2d", "seed": 0, "protocol": "honest", "acc": 50.0}
    (tmp_path / "a.json").write_text(json.dumps({"results": [row]}))
    (tmp_path / "run.json").write_text(json.dumps({"role": "student", "test": {"acc": 1.0}}))
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"run.json is a training run's metrics.*result_row"):
        results.load_rows(["run.json"])
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        results.load_rows(["bad.json"])
    with pytest.raises(ValueError, match="list.json is not a notebook's metrics.json"):
        results.load_rows(["list.json"])
    with pytest.raises(
        TypeError, match=r"a list of paths; for one file: load_rows\(\['a.json'\]\)"
    ):
        results.load_rows("a.json")
    for key in (tmp_path / "a.json", "./a.json", str(tmp_path / "a.json")):
        assert results.load_rows(["a.json"], labels={key: {"lr": 0.1}})["lr"].tolist() == [0.1]
    with pytest.raises(ValueError, match="labels name files that are not in metrics_files"):
        results.load_rows(["a.json"], labels={"b.json": {"lr": 0.1}})


def test_scores_and_evaluation_check_lengths_and_batch_sizes(runs):
    """V25 (5 outputs for 3 targets: torch broadcasting error), W18 (batch_size 0 or -5: range()
    or torch.cat errors)."""
    data, _, joint = runs
    with pytest.raises(ValueError, match="5 outputs for 3 targets"):
        evaluate.score(torch.randn(5, 3), torch.tensor([0, 1, 2]), "classification")
    for size in (0, -5, 2.5):
        with pytest.raises(ValueError, match=f"batch_size must be a whole number.*{size}"):
            evaluate.evaluate(joint.model, data.test, batch_size=size)
    with pytest.raises(TypeError, match="take one split"):
        evaluate.evaluate(joint.model, data)
    # probe 33 EC11: the split's name gave AttributeError 'str' object has no attribute 'info'
    with pytest.raises(TypeError, match=r"take one split of the data, e.g. data.test, got 'test'"):
        evaluate.evaluate(joint.model, "test")


def test_empty_batches_and_unknown_confidences_are_refused():
    """V04, W20 (an empty batch gave a NaN loss and NaN confidences; NaN logits a NaN ρ), V15
    (a NaN ρ crashed SMP with an IndexError, or let the other modality lead silently)."""
    empty = torch.zeros(0, dtype=torch.long)
    with pytest.raises(ValueError, match="the batch is empty"):
        losses.g2d_loss(
            torch.zeros(0, 10), None, None, None, empty, feature_weight=0, logit_weight=0
        )
    with pytest.raises(ValueError, match="the batch is empty"):
        teacher_confidence({"a": torch.zeros(0, 3)}, empty)
    nan_logits = {"a": torch.full((2, 3), math.nan), "v": torch.zeros(2, 3)}
    with pytest.raises(ValueError, match=r"logits of \['a'\] hold NaN or inf"):
        teacher_confidence(nan_logits, torch.zeros(2, dtype=torch.long))
    smp = SMP(start_epoch=0, end_epoch=5)
    for rho in ({"audio": 0.4, "visual": math.nan}, {"audio": math.nan, "visual": 0.4}):
        with pytest.raises(ValueError, match="teacher confidence rho of .* is nan"):
            smp.coefficients(rho, 0)


def test_sample_examples_needs_a_positive_class_count(runs):
    """V07, W21 (n_classes=0: matplotlib's "Number of columns"; -1 silently showed 9 classes)."""
    data, _, _ = runs
    for n in (0, -1):
        with pytest.raises(ValueError, match=f"n_classes must be a whole number.*{n}"):
            plots.sample_examples(data.train, n_classes=n)


def test_saved_metrics_are_strict_json_that_keeps_integers(tmp_path):
    """V55, W11: NaN was written as the non-JSON token NaN, a NumPy int seed as 3.0."""
    path = notebook.save_metrics(
        tmp_path,
        {"acc": math.nan, "seed": np.int64(3), "t": torch.tensor(2.5), "flags": [np.bool_(True)]},
    )
    text = path.read_text()
    strict = json.loads(text, parse_constant=lambda token: pytest.fail(f"non-JSON {token}"))
    assert strict == {"acc": None, "seed": 3, "t": 2.5, "flags": [True]}
    with pytest.raises(
        TypeError, match=r"cannot write metrics\['table'\], a DataFrame, as JSON.*to_dict"
    ):
        notebook.save_metrics(tmp_path, {"table": pd.DataFrame({"a": [1]})})
    assert path.read_text() == text  # a refused write leaves the old file as it was


def test_figure_names_and_configs_in_the_notebook_helpers(tmp_path):
    """W12 (name "fig.png" wrote fig.png.png), W19 (describe of a dict: AttributeError)."""
    import matplotlib.pyplot as plt

    fig = plt.figure()
    assert notebook.save_figure(fig, tmp_path, "fig.png") == tmp_path / "fig.png"
    with pytest.raises(ValueError, match="writes PNG files: give the name 'fig.pdf' without .pdf"):
        notebook.save_figure(fig, tmp_path, "fig.pdf")
    plt.close(fig)
    with pytest.raises(TypeError, match="describe takes a Config, got dict"):
        notebook.describe({"epochs": 1})


@pytest.mark.parametrize("value", ["off", "False", "NO", " 0 "])
def test_every_spelling_of_off_hides_progress_bars(monkeypatch, value):
    """V28: only "0", "false" and "no" turned bars off; "off" or "False" left them on."""
    from g2d_lite.progress import progress_enabled

    monkeypatch.setenv("G2D_LITE_PROGRESS", value)
    assert progress_enabled() is False


def test_a_progress_switch_typo_is_refused(monkeypatch):
    """V28: G2D_LITE_PROGRESS=banana silently meant "on"."""
    from g2d_lite.progress import progress_enabled

    monkeypatch.setenv("G2D_LITE_PROGRESS", "banana")
    with pytest.raises(ValueError, match="G2D_LITE_PROGRESS='banana' is neither on nor off"):
        progress_enabled()
    monkeypatch.setenv("G2D_LITE_PROGRESS", "On")
    assert progress_enabled() is True


def test_hand_made_runs_without_a_role_still_make_tables():
    """The role check refuses runs that say they are the wrong kind, not runs that say
    nothing (a TrainResult built by hand, as the diagnose tests do)."""
    from torch import nn

    from g2d_lite.config import Config

    def run(test: dict) -> TrainResult:
        return TrainResult(nn.Identity(), pd.DataFrame(), pd.DataFrame(), {"test": test}, Config())

    table = diagnose.score_table({"audio": run({"acc": 60.0})}, {"joint": run({"acc": 70.0})})
    assert table["score"].tolist() == [60.0, 70.0]


def test_plots_name_the_table_they_need(runs):
    """A frame of the wrong kind (or a typo in x=) gave a bare pandas KeyError from inside
    seaborn; an empty results frame KeyError 'method'."""
    _, teachers, joint = runs
    scores = diagnose.score_table(teachers, {"joint": joint})
    with pytest.raises(ValueError, match=r"lacks the columns \['nope'\].*results.result_row"):
        plots.results_bars(pd.DataFrame([results.result_row("joint", joint.metrics)]), x="nope")
    with pytest.raises(ValueError, match=r"lacks the columns \['method', 'acc'\] \(it has none\)"):
        plots.results_bars(pd.DataFrame())
    with pytest.raises(ValueError, match=r"lacks the columns \['student', 'modality', 'cka'\]"):
        plots.cka_bars(scores)
    with pytest.raises(ValueError, match=r"diagnose.leader_share\(steps, by_epoch=True\)"):
        plots.leader_share(pd.DataFrame({"epoch": [0], "share": [100.0]}))
    with pytest.raises(TypeError, match="expected a DataFrame from diagnose.score_table"):
        plots.figure1(scores.to_dict())
    plots.plt.close("all")


def test_runs_stand_for_their_models_and_whole_splits_are_named(runs):
    """A run given where its model belongs (teacher_confidence_table({m: run}), predictions(run,
    ...)) failed with AttributeError 'parameters'; one split given to teacher_confidence_table an
    IndexError; DatasetSplits given to synthetic_expectations an AttributeError."""
    data, teachers, joint = runs
    by_run = diagnose.teacher_confidence_table(teachers, data, ("train",))
    by_model = diagnose.teacher_confidence_table(
        {m: r.model for m, r in teachers.items()}, data, ("train",)
    )
    assert by_run.equals(by_model)
    assert torch.equal(
        diagnose.predictions(joint, data.test).logits,
        diagnose.predictions(joint.model, data.test).logits,
    )
    with pytest.raises(TypeError, match=r"takes the whole DatasetSplits \(load_data\(cfg\)\)"):
        diagnose.teacher_confidence_table(teachers, data.test)
    with pytest.raises(TypeError, match="pass data.info"):
        diagnose.synthetic_expectations(data)
    with pytest.raises(ValueError, match=r"lacks the columns \['modality', 'train_confidence_cap"):
        diagnose.expected_leader(pd.DataFrame())


def test_scores_refuse_targets_of_the_other_task(runs):
    """Classification predictions scored with task="regression" gave a plausible MAE."""
    data, _, joint = runs
    pred = diagnose.predictions(joint, data.test)
    with pytest.raises(ValueError, match="regression targets are numbers.*got torch.int64"):
        diagnose.accuracy_by_informative(
            pred, diagnose.informative_flags(data.info, "test"), task="regression"
        )
    with pytest.raises(ValueError, match="classification targets are class indices"):
        evaluate.score(torch.randn(3, 2), torch.rand(3), "classification")


def test_odd_values_for_rows_confidences_configs_and_claims():
    """An empty method name made a row; rho given as strings or a list failed inside math or
    with AttributeError; Config.from_dict of a list said "unknown config keys [1, 2]"."""
    from g2d_lite.config import Config
    from g2d_lite.findings import claims_markdown

    metrics = {**STUDENT_METRICS, "test": {"acc": 50.0}}
    for method in ("", None, " "):
        with pytest.raises(ValueError, match="method must name the row's model"):
            results.result_row(method, metrics)
    smp = SMP(start_epoch=0, end_epoch=5)
    with pytest.raises(TypeError, match=r"one number per modality, got \{'audio': '0.3'\}"):
        smp.coefficients({"audio": "0.3", "visual": 0.5}, 0)
    with pytest.raises(TypeError, match="rho must map each modality to its confidence"):
        smp.coefficients([0.2, 0.3], 0)
    assert smp.coefficients({"audio": np.float32(0.2), "visual": 0.5}, 0) == {
        "audio": 1.0,
        "visual": 0.0,
    }
    with pytest.raises(TypeError, match="from_dict takes a mapping of settings"):
        Config.from_dict([1, 2])
    with pytest.raises(TypeError, match="claims_markdown takes the claims table"):
        claims_markdown(None, "synthetic", "test")
    with pytest.raises(ValueError, match="smooth must be a whole number"):
        plots.confidence_timeline(
            pd.DataFrame(
                {"step": [0], "epoch": [0], "modality": ["a"], "rho": [0.5], "leader": ["a"]}
            ),
            smooth=0,
        )
    with pytest.raises(ValueError, match=r"lacks the columns \['lr'\]"):
        dynamics.lr_steps(pd.DataFrame({"epoch": [0, 1]}))


def test_evidence_names_a_split_typo_a_weak_modality_it_lacks_and_no_students(runs):
    """findings.evidence_from_runs gave KeyError 'tst' / 'Audio', or StopIteration for {}."""
    from g2d_lite.findings import evidence_from_runs

    _, teachers, joint = runs
    with pytest.raises(ValueError, match="unknown split 'tst'"):
        evidence_from_runs("audio", teachers, {"joint": joint}, "tst")
    with pytest.raises(ValueError, match="teachers has no 'Audio'.*weak must be one of"):
        evidence_from_runs("Audio", teachers, {"joint": joint}, "test")
    with pytest.raises(ValueError, match="students is empty"):
        evidence_from_runs("audio", teachers, {}, "test")
    assert evidence_from_runs("audio", teachers, {"joint": joint}, "val").weak == "audio"


# ------------------------------------------------------------------ the eleventh probe's cases
def test_swapped_runs_are_named_where_each_run_records_its_method(runs):
    """X45 (gap_from_runs with joint and G²D swapped: a table with swapped columns and a -300 %
    recovery), X87 (evidence_from_runs with the students keyed the wrong way round), X72 (a
    student model as the "audio" teacher of teacher_confidence_table)."""
    from g2d_lite.findings import evidence_from_runs

    data, teachers, joint = runs
    g2d = train_student(tiny_config(epochs=1).replace(**METHODS["g2d"]), data, teachers)
    with pytest.raises(ValueError, match="joint is a g2d run, which distils from teachers"):
        diagnose.gap_from_runs(teachers, g2d, joint)
    assert list(diagnose.gap_from_runs(teachers, joint, g2d)["modality"]) == ["audio", "visual"]
    with pytest.raises(ValueError, match=r"students\['joint'\] is a g2d run .*, not joint"):
        evidence_from_runs("audio", teachers, {"joint": g2d, "G²D": joint}, "test")
    assert set(evidence_from_runs("audio", teachers, {"joint": joint, "G²D": g2d}, "test").fused)
    with pytest.raises(ValueError, match=r"teachers\['audio'\] is a MultimodalClassifier, not a"):
        diagnose.teacher_confidence_table({"audio": joint.model}, data, ("train",))
    with pytest.raises(ValueError, match=r"teachers\['audio'\] is the visual teacher"):
        diagnose.teacher_confidence_table({"audio": teachers["visual"]}, data, ("train",))


def test_evidence_about_a_modality_without_a_teacher_is_refused():
    """X65: weak="depth" dropped two claims and marked "depth led 90 % of the steps" as held."""
    from g2d_lite.findings import Evidence

    with pytest.raises(ValueError, match="weak modality 'depth' has no teacher score"):
        Evidence(weak="depth", teachers={"audio": 60.0}, fused={"joint": 70.0}, weak_led=90.0)


def test_stall_reports_name_swapped_runs_and_a_threshold_out_of_range(runs):
    """X47 (threshold -0.5 accepted), X48 (teacher and joint swapped: "its branches are ")."""
    _, teachers, joint = runs
    with pytest.raises(ValueError, match=r"joint is a teacher run: call stall_report\(joint, te"):
        dynamics.stall_report(teachers["audio"], joint, "audio")
    for threshold in (-0.5, 0.0, math.nan):
        with pytest.raises(ValueError, match="threshold"):
            dynamics.stall_report(joint, teachers["audio"], "audio", threshold=threshold)


def test_gap_tables_take_a_series_and_name_other_types():
    """X44: a pandas Series of teacher scores gave "joint has no 60, 70"."""
    table = diagnose.gap_table(pd.Series({"audio": 60.0}), pd.Series({"audio": 50.0}))
    assert table.loc[0, "gap"] == 10.0
    with pytest.raises(TypeError, match="teacher must map each modality to its score, got list"):
        diagnose.gap_table([60.0], {"audio": 50.0})


def test_metrics_and_figures_stay_in_their_output_folder(tmp_path):
    """X63: name="../escape.json" (or "../fig") wrote beside the output folder."""
    import matplotlib.pyplot as plt

    out = tmp_path / "out"
    out.mkdir()
    for name in ("../escape.json", "sub/m.json", "", ".."):
        with pytest.raises(ValueError, match="name must be a plain file name"):
            notebook.save_metrics(out, {"acc": 1.0}, name=name)
    fig = plt.figure()
    with pytest.raises(ValueError, match="name must be a plain file name"):
        notebook.save_figure(fig, out, "../escfig")
    plt.close(fig)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any(out.iterdir())


def test_a_model_evaluated_on_data_without_its_modality_is_named(runs):
    """X71: an image teacher evaluated on synthetic data gave a bare KeyError 'image'."""
    from g2d_lite.data.base import DatasetInfo, ModalitySpec
    from g2d_lite.models.classifiers import build_teacher

    data, _, _ = runs
    info = DatasetInfo("pics", (ModalitySpec("image", (1, 8, 8), "image"),), "classification",
                       ("a", "b"))  # fmt: skip
    image_teacher = build_teacher(info, "image", "auto")
    with pytest.raises(ValueError, match=r"the model reads \['image'\], which synthetic does not"):
        evaluate.evaluate(image_teacher, data.test)


def test_confidences_of_no_samples_and_encoders_for_no_modality():
    """X73 (confidence_from_sums with count 0 gave inf), X79 (encoders_with_gradients([]): an
    AttributeError on int.backward), X88 (an inverted SMP window was drawn without a word)."""
    from g2d_lite.exercise_checks import encoders_with_gradients
    from g2d_lite.smp import confidence_from_sums

    with pytest.raises(ValueError, match="count is the number of samples.*got 0"):
        confidence_from_sums({"audio": torch.tensor(3.0)}, 0)
    with pytest.raises(ValueError, match="names must be a list of modality names"):
        encoders_with_gradients([], torch.randn(4, 1, 8, 8), 0)
    timeline = pd.DataFrame(
        {"step": [0], "epoch": [0], "modality": ["audio"], "rho": [0.5], "leader": ["audio"]}
    )
    with pytest.raises(ValueError, match=r"window is \(first epoch, last epoch\).*\(5, 2\)"):
        plots.confidence_timeline(timeline, window=(5, 2))


def test_models_histories_and_whole_splits_where_runs_or_a_split_belong(runs):
    """Self-probe after probe 11: a model or a history in a dict of runs gave AttributeError
    'metrics'/'history'; DatasetSplits given to sample_examples/sample_grid AttributeError;
    sample_grid(n_classes=0) matplotlib's "Number of columns"; steps without step/epoch a pandas
    KeyError; informative_groups({}) torch's "stack expects a non-empty TensorList";
    summarise(by=[]) pandas' "No group keys passed!"."""
    data, _, joint = runs
    for call in (diagnose.learning_curves, diagnose.gradient_norms, dynamics.gradient_fade):
        with pytest.raises(TypeError, match=r"runs\['j'\] must be a trained run.*got Multimodal"):
            call({"j": joint.model})
    for draw in (plots.sample_examples, plots.sample_grid):
        with pytest.raises(TypeError, match="takes one split, e.g. data.test"):
            draw(data)
    with pytest.raises(ValueError, match="n_classes must be a whole number"):
        plots.sample_grid(data.train, n_classes=0)
    with pytest.raises(ValueError, match=r"lacks the columns \['step', 'epoch'\]"):
        diagnose.leader_share(pd.DataFrame({"kappa/audio": [1.0]}))
    with pytest.raises(ValueError, match="no kappa/<modality> columns"):
        diagnose.confidence_timeline(pd.DataFrame())
    with pytest.raises(ValueError, match="flags is empty"):
        diagnose.informative_groups({})
    with pytest.raises(ValueError, match="by names no column"):
        results.summarise([{"method": "a", "seed": 0, "protocol": "honest", "acc": 1.0}], by=[])


# ------------------------------------------------------------------ the twelfth probe's cases
def test_gap_tables_refuse_no_scores_text_mixed_scales_and_a_bad_min_gap():
    """Y38 ({}: a pandas KeyError), Y40 (scores as text: a raw TypeError), Y41 (teacher
    accuracies as fractions beside branches in %: gaps of -54 without a word), Y42 (min_gap NaN
    silently made every recovery NaN; "2" a raw TypeError)."""
    with pytest.raises(ValueError, match="teacher holds no scores"):
        diagnose.gap_table({}, {})
    with pytest.raises(TypeError, match=r"teacher's scores must be numbers, got \{'audio': '60'\}"):
        diagnose.gap_table({"audio": "60"}, {"audio": 50.0})
    with pytest.raises(ValueError, match="the teacher scores look like fractions"):
        diagnose.gap_table({"audio": 0.6, "visual": 0.7}, {"audio": 55.0, "visual": 40.0})
    for min_gap in (math.nan, "2", -1.0):
        with pytest.raises(ValueError, match="min_gap"):
            diagnose.gap_table({"audio": 60.0}, {"audio": 50.0}, {"audio": 55.0}, min_gap=min_gap)
    # probe Q46: a NaN score gave a NaN gap without a word
    with pytest.raises(ValueError, match="teacher's score for audio is NaN or infinite"):
        diagnose.gap_table({"audio": math.nan, "visual": 70.0}, {"audio": 50.0, "visual": 60.0})


def test_summaries_refuse_seeds_of_two_types_text_scores_and_one_seed_under_two_protocols():
    """Y45 (seed 0 and "0": "seeds 2"), Y46 (scores as text: a raw pandas TypeError), Y48 (one
    seed's honest and paper rows averaged into "85.0 ± 7.1, seeds 1")."""
    row = {"method": "g2d", "seed": 0, "protocol": "honest", "acc": 80.0}
    with pytest.raises(ValueError, match="seeds must be whole numbers, got '0'"):
        results.summarise([row, {**row, "seed": "0"}])
    with pytest.raises(ValueError, match=r"the scores in 'acc' must be numbers"):
        results.summarise([{**row, "acc": "80"}])
    mixed = [row, {**row, "protocol": "paper", "acc": 90.0}]
    with pytest.raises(ValueError, match="seed 0 appears under the protocols.*add 'protocol'"):
        results.summarise(mixed)
    assert len(results.summarise(mixed, by=["method", "protocol"])) == 2


def test_result_rows_refuse_metrics_no_run_would_write():
    """Y49 (selection "best": KeyError), Y50 (no test score: a row without a score), Y51 (seed
    1.7 truncated to 1), Y52 (a null score, as save_metrics writes NaN: a raw TypeError), Y43
    (labels named seed or method were dropped, the rows' own keys winning)."""
    good = {**STUDENT_METRICS, "test": {"acc": 50.0}}
    cases = [
        ({"selection": "best"}, "no selection rule of the kit"),
        ({"test": {}}, "test scores hold no 'acc'"),
        ({"seed": 1.7}, "seed must be a whole number, got 1.7"),
        ({"test": {"acc": None}}, "test scores must be numbers"),
    ]
    for change, needle in cases:
        with pytest.raises(ValueError, match=needle):
            results.result_row("joint", {**good, **change})


def test_load_rows_labels_may_not_replace_the_rows_own_columns(tmp_path):
    """Y43: a label named seed (or method) was silently dropped."""
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"results": [{**STUDENT_METRICS, "method": "g2d", "acc": 1.0}]}))
    for label in ("seed", "method", "acc/audio"):
        with pytest.raises(ValueError, match=f"labels may not be named \\['{label}'\\]"):
            results.load_rows([path], labels={path: {label: 3}})


def test_saved_metrics_keep_every_key_and_write_arrays_as_lists(tmp_path):
    """Y53 ({1: …, "1": …}: one entry silently lost), Y54 (an array or a vector tensor: a raw
    numpy or torch error)."""
    with pytest.raises(ValueError, match=r"keys \['1'\] appear as a number and as text"):
        notebook.save_metrics(tmp_path, {1: "a", "1": "b"})
    path = notebook.save_metrics(
        tmp_path, {"a": np.array([1, 2]), "t": torch.tensor([0.5, math.nan])}
    )
    assert json.loads(path.read_text()) == {"a": [1, 2], "t": [0.5, None]}


def test_saved_metrics_write_missing_values_as_null_and_name_what_they_cannot_write(tmp_path):
    """Probe M23: pd.NA was refused as "a NAType" without naming its key, and the fix offered
    (.to_dict()) is what had put it there."""
    path = notebook.save_metrics(tmp_path, {"rows": [{"acc": pd.NA, "when": pd.NaT}]})
    assert json.loads(path.read_text()) == {"rows": [{"acc": None, "when": None}]}
    bad = {"results": [{"acc": 1.0}, {"acc": pd.Timestamp("2026-01-01")}]}
    with pytest.raises(TypeError, match=r"cannot write metrics\['results'\]\[1\]\['acc'\]"):
        notebook.save_metrics(tmp_path, bad, "other.json")
    assert not (tmp_path / "other.json").exists()


def test_stall_reports_refuse_the_wrong_teacher_and_a_distilled_joint(runs):
    """Y71 (the audio teacher for the visual branch: a sentence comparing the two), Y72 (a G²D
    student as the joint run)."""
    data, teachers, joint = runs
    with pytest.raises(ValueError, match="teacher is the audio teacher, not the visual one"):
        dynamics.stall_report(joint, teachers["audio"], "visual")
    g2d = train_student(tiny_config(epochs=1).replace(**METHODS["g2d"]), data, teachers)
    with pytest.raises(ValueError, match="joint is a g2d run.*a stall report reads joint"):
        dynamics.stall_report(g2d, teachers["audio"], "audio")


def test_leader_shares_take_a_bool_and_scores_take_logits():
    """Y64 (by_epoch="no" was taken as True), Y78 (labels scored as outputs: a torch
    IndexError), Y83 (probabilities given to teacher_confidence were put through a softmax
    again)."""
    steps = pd.DataFrame({"step": [0], "epoch": [0], "kappa/audio": [1.0], "kappa/visual": [0.0]})
    with pytest.raises(TypeError, match="by_epoch is True or False, got 'no'"):
        diagnose.leader_share(steps, by_epoch="no")
    with pytest.raises(ValueError, match=r"\(N, classes\) logits, got shape \(3,\)"):
        evaluate.score(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]), "classification")
    probabilities = torch.softmax(torch.randn(4, 3), dim=1)
    with pytest.raises(ValueError, match="look like probabilities.*pass the teacher's logits"):
        teacher_confidence({"a": probabilities}, torch.tensor([0, 1, 2, 0]))


def test_evidence_refuses_a_share_past_100_and_teachers_in_the_wrong_place(runs):
    """Y91 (weak_led=150: "led 150.0 % of the window's steps", held), Y92 (a teacher run among
    the students), Y93 (teachers keyed by the other modality: their scores swapped)."""
    from g2d_lite.findings import Evidence, evidence_from_runs

    _, teachers, joint = runs
    with pytest.raises(ValueError, match=r"weak_led is a share of steps in %, in \[0, 100\]"):
        Evidence(weak="audio", teachers={"audio": 60.0}, fused={"joint": 70.0}, weak_led=150.0)
    with pytest.raises(ValueError, match=r"students\['g2d'\] is a teacher run"):
        evidence_from_runs("audio", teachers, {"joint": joint, "g2d": teachers["audio"]}, "test")
    swapped = {"audio": teachers["visual"], "visual": teachers["audio"]}
    with pytest.raises(ValueError, match=r"teachers\['audio'\] is the visual teacher"):
        evidence_from_runs("audio", swapped, {"joint": joint}, "test")


# ------------------------------------------------------------------ the thirteenth probe's cases
def test_the_same_run_twice_or_under_another_method_s_name_is_refused(runs):
    """Z55 (score_table with the joint run also keyed "g2d": its scores shown as G²D's), Z56
    (gap_from_runs with one run as joint and student: a recovery of 0.0)."""
    _, teachers, joint = runs
    with pytest.raises(ValueError, match=r"students\['g2d'\] is a joint run .*, not g2d"):
        diagnose.score_table(teachers, {"joint": joint, "g2d": joint})
    with pytest.raises(ValueError, match="joint and student are the same run"):
        diagnose.gap_from_runs(teachers, joint, joint)


def test_fractions_whole_float_seeds_and_all_nan_bars():
    """Z43 (accuracies as fractions: every gap under MIN_GAP, recovery NaN, no warning), Z46
    (seed 1.0 refused as "not a whole number"), Z57 (all-NaN bars: an empty figure)."""
    with pytest.raises(ValueError, match="every accuracy given is at most 1"):
        diagnose.gap_table({"audio": 0.6, "visual": 0.72}, {"audio": 0.3, "visual": 0.7})
    metrics = {**STUDENT_METRICS, "seed": np.float64(2.0), "test": {"acc": 50.0}}
    assert results.result_row("joint", metrics)["seed"] == 2
    nan_rows = pd.DataFrame({"method": ["a"], "seed": [0], "acc": [math.nan]})
    with pytest.raises(ValueError, match="every value of 'acc' is NaN or missing"):
        plots.results_bars(nan_rows)


def test_an_answer_that_changes_a_dict_it_was_given_is_refused_and_undone():
    """Z64: an smp_mask answer that set rho[m] = 0 passed, and the cell then printed κ from
    the spoiled dict."""
    from g2d_lite.exercise_checks import without_kit

    def smp_mask(rho):
        for m in rho:
            rho[m] = 0.0
        return {"audio": 0.0, "visual": 1.0}

    rho = {"audio": 0.2, "visual": 0.9}
    with pytest.raises(AssertionError, match="smp_mask .* changed its input in place"):
        without_kit(smp_mask)(rho)
    assert rho == {"audio": 0.2, "visual": 0.9}


def test_empty_tables_bad_styles_and_epochs_are_refused_before_a_blank_figure(runs):
    """Own probe before probe 14: an empty table drew an empty figure and made an empty
    timeline; a style that is no column was reported as a missing column; lr_steps="2" ended in
    matplotlib's str minus float; smp_masked of a name gave an AttributeError."""
    data, _, joint = runs
    curves = diagnose.learning_curves({"joint": joint})
    with pytest.raises(ValueError, match="the table has no rows"):
        plots.learning_curves(curves.iloc[:0])
    with pytest.raises(ValueError, match="style='colour' is not a column of the curves"):
        plots.learning_curves(curves, style="colour")
    with pytest.raises(TypeError, match="lr_steps is a list of epochs"):
        plots.learning_curves(curves, lr_steps="2")
    steps = pd.DataFrame({"step": [0], "epoch": [0], "kappa/a": [1.0], "kappa/b": [0.0]})
    with pytest.raises(ValueError, match="the table has no rows"):
        diagnose.confidence_timeline(steps.iloc[:0])
    with pytest.raises(TypeError, match="got dict"):
        diagnose.leaders(steps.to_dict())
    with pytest.raises(TypeError, match=r"encoder must be a torch module, e\.g\. run\.model"):
        dynamics.smp_masked("audio", "conv")
    with pytest.raises(ValueError, match="has no parameters"):
        dynamics.smp_masked(torch.nn.ReLU(), "conv")


def test_informative_groups_cka_and_expected_leaders_name_their_inputs(runs):
    """Own probe: informative_flags(data) (AttributeError), 'val' refused here but accepted
    elsewhere, flags of unequal lengths (torch.stack's error), numpy flags (AttributeError), a
    1-D CKA computed silently, string caps ranked as text ('0.3' < '0.5' by letters)."""
    data, teachers, joint = runs
    with pytest.raises(TypeError, match=r"takes the data's info \(data\.info\)"):
        diagnose.informative_flags(data, "test")
    flags = diagnose.informative_flags(data.info, "test")
    as_numpy = {m: f.numpy() for m, f in flags.items()}
    assert diagnose.informative_groups(as_numpy) == diagnose.informative_groups(flags)
    with pytest.raises(ValueError, match=r"cover different samples \{'audio': 3, 'visual': 5\}"):
        diagnose.informative_groups({"audio": torch.ones(3), "visual": torch.ones(5)})
    pred = diagnose.predictions(joint, data.test)
    with pytest.raises(TypeError, match="flags must be a dict"):
        diagnose.accuracy_by_informative(pred, [1, 2])
    with pytest.raises(TypeError, match=r"pred must be the predictions of one split"):
        diagnose.accuracy_by_informative(joint, flags)
    with pytest.raises(ValueError, match=r"CKA takes \(n, d\) features"):
        diagnose.linear_cka(torch.randn(10), torch.randn(10))
    caps = pd.DataFrame({"modality": ["a", "b"], "train_confidence_cap": ["0.9", "0.5"]})
    with pytest.raises(ValueError, match="train_confidence_cap must hold numbers"):
        diagnose.expected_leader(caps)


def test_teacher_tables_and_alignment_take_teachers_by_modality_and_splits_by_name(runs):
    """Own probe: feature_alignment with teachers and students swapped (KeyError 'joint'),
    splits='test' read letter by letter, an unknown split as a KeyError from the data."""
    data, teachers, joint = runs
    models = {m: run.model for m, run in teachers.items()}
    with pytest.raises(ValueError, match=r"teachers\['joint'\] is a MultimodalClassifier"):
        diagnose.feature_alignment({"joint": joint.model}, models, data.test)
    table = diagnose.teacher_confidence_table(models, data, splits="test")
    assert table["split"].unique().tolist() == ["test"]
    with pytest.raises(ValueError, match=r"unknown split 'tst'; valid splits: train, validation"):
        diagnose.teacher_confidence_table(models, data, splits=("train", "tst"))


def test_evaluate_names_a_run_a_missing_gpu_and_numpy_arrays(runs):
    """Own probe: evaluate(run) (AttributeError 'training'), device='cuda' on a CPU machine
    (torch's driver message), device='banana', score of numpy arrays (AttributeError)."""
    data, _, joint = runs
    with pytest.raises(TypeError, match=r"take a model, e\.g\. run\.model, got TrainResult"):
        evaluate.evaluate(joint, data.test)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU is visible; use device=cpu"):
            evaluate.evaluate(joint.model, data.test, device="cuda")
    with pytest.raises(RuntimeError, match="unknown device 'banana'; use cpu, cuda"):
        evaluate.evaluate(joint.model, data.test, device="banana")
    assert evaluate.evaluate(joint.model, data.test, device="cpu") == evaluate.evaluate(
        joint.model, data.test
    )
    with pytest.raises(TypeError, match="wrap numpy arrays with torch.as_tensor"):
        evaluate.score(np.zeros((4, 3)), np.zeros(4, dtype=int), "classification")


def test_rows_claims_and_bars_refuse_the_wrong_shape_of_input(runs, tmp_path):
    """Own probe: summarise(row) read a dict's keys as rows, labels=[...] and claims({...})
    were AttributeErrors, a folder for read_rows an IsADirectoryError, weak_led='50' a bare
    "must be real number", show_paper='no' drew the paper's panel, summarise's text fed to
    results_bars a pandas conversion error, an unknown informative_bars output or a CKA of 5 a
    figure."""
    data, teachers, joint = runs
    row = results.result_row("joint", joint.metrics)
    with pytest.raises(TypeError, match=r"for one row, summarise\(\[row\]\)"):
        results.summarise(row)
    with pytest.raises(IsADirectoryError, match="is a folder; rows are read from a notebook's"):
        results.read_rows(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a file: did its notebook run"):
        results.read_rows(tmp_path / "metrics.json")
    with pytest.raises(TypeError, match="labels maps each file to its extra columns"):
        results.load_rows([], labels=["lr"])
    with pytest.raises(TypeError, match="claims takes an Evidence"):
        claims({"weak": "audio"})
    with pytest.raises(ValueError, match=r"lacks the columns \['claim', 'here', 'verdict'\]"):
        claims_markdown(pd.DataFrame({"x": [1]}), "synthetic", "test")
    with pytest.raises(ValueError, match="weak_led must be a finite number, got '50'"):
        evidence_from_runs("audio", teachers, {"joint": joint}, "test", weak_led="50")
    with pytest.raises(TypeError, match="teachers must be a dict of runs keyed by name"):
        evidence_from_runs("audio", list(teachers.values()), {"joint": joint}, "test")
    scores = diagnose.score_table(teachers, {"joint": joint})
    with pytest.raises(TypeError, match="show_paper is True or False, got 'no'"):
        plots.figure1(scores, show_paper="no")
    with pytest.raises(ValueError, match="unknown split 'tst'"):
        plots.figure1(scores, split="tst")
    table = results.summarise([row])
    with pytest.raises(TypeError, match="results_bars takes the rows it summarised"):
        plots.results_bars(table, y=table.columns[1])
    with pytest.raises(TypeError, match="the column 'acc' must hold numbers"):
        plots.results_bars(pd.DataFrame([{**row, "acc": "x"}]))
    pred = diagnose.predictions(joint, data.test)
    by_group = diagnose.accuracy_by_informative(pred, diagnose.informative_flags(data.info, "test"))
    with pytest.raises(ValueError, match="no output 'fusd' in the scores; they have fused"):
        plots.informative_bars(by_group, output="fusd")
    with pytest.raises(ValueError, match=r"CKA lies between 0 and 1, got \[5\.0\]"):
        plots.cka_bars(pd.DataFrame({"student": ["j"], "modality": ["a"], "cka": [5.0]}))


def test_steps_of_two_runs_renamed_or_missing_kappa_columns_are_refused():
    """Probe Q42 (one run's steps twice: 124 steps of a 62-step run), Q43 (upper-case column
    names were said to be a run without SMP), Q59 (kappa/audio dropped: "all" led 100 % of a
    run that visual led throughout)."""
    steps = pd.DataFrame(
        {
            "step": range(4),
            "epoch": 0,
            "rho/audio": 0.9,
            "rho/visual": 0.4,
            "kappa/audio": 0.0,
            "kappa/visual": 1.0,
        }
    )
    assert diagnose.leader_share(steps)["leader"].tolist() == ["visual"]
    with pytest.raises(ValueError, match=r"repeat step numbers \(4 rows, e\.g\. step 0\)"):
        diagnose.leader_share(pd.concat([steps, steps]))
    with pytest.raises(ValueError, match="columns that look renamed"):
        diagnose.confidence_timeline(steps.rename(columns=str.upper))
    with pytest.raises(ValueError, match="rho for audio but no kappa/audio column"):
        diagnose.leader_share(steps.drop(columns=["kappa/audio"]))
    with pytest.raises(ValueError, match="the run used no SMP or OGM"):
        diagnose.leader_share(steps[["step", "epoch"]])


def test_load_rows_of_a_history_csv_names_the_file_to_give(tmp_path):
    """Probe Q49: history.csv was "not valid JSON; rerun its notebook"."""
    history = tmp_path / "history.csv"
    history.write_text("epoch,lr\n0,0.1\n")
    with pytest.raises(ValueError, match="history.csv is not a metrics.json"):
        results.load_rows([history])


def test_the_explorer_and_the_paper_s_numbers_take_what_a_notebook_passes(runs):
    """Own probe: explorer knobs as a list ("'list' object is not a mapping"), a NaN knob
    (reported as 512,000 NaN values in the data), signal_energy of one split
    (AttributeError), paper.fused("G²D") was None though the paper reports 85.89."""
    from g2d_lite import explorer, paper

    data, _, _ = runs
    cfg = tiny_config(epochs=1)
    with pytest.raises(TypeError, match="knobs must map knob names to values"):
        explorer.explored_config(cfg, ["audio_amplitude"])
    with pytest.raises(ValueError, match="knob audio_amplitude is nan: give it a finite number"):
        explorer.explored_config(cfg, {"audio_amplitude": math.nan})
    with pytest.raises(TypeError, match=r"got TensorMultimodalDataset \(one split"):
        explorer.signal_energy(data.test)
    assert paper.fused("G²D") == paper.fused("g2d") is not None


def test_probe_15_analysis_cases(tmp_path):
    """Probe R24 (load_rows of a run folder: "did its notebook run to the end?"), R50 (a NaN
    learning rate hid a tenfold drop), R51 (text learning rates: pandas' TypeError), R89
    (gap_table dropped a modality joint has and the teachers lack)."""
    run = tmp_path / "g2d"
    run.mkdir()
    (run / "config.json").write_text("{}")
    with pytest.raises(IsADirectoryError, match=r"is a folder \(a training run's folder: its row"):
        results.load_rows([run])
    history = pd.DataFrame({"epoch": [0, 1, 2], "lr": [0.05, math.nan, 0.005]})
    with pytest.raises(ValueError, match="lr column must hold a number per epoch, got nan at"):
        dynamics.lr_steps(history)
    with pytest.raises(ValueError, match="got '0.05' at epoch 0"):
        dynamics.lr_steps(history.assign(lr=["0.05", "0.05", "0.005"]))
    assert dynamics.lr_steps(history.assign(lr=[0.05, 0.05, 0.005])) == [2]
    with pytest.raises(ValueError, match=r"teacher has no 'visual' \(it has audio\)"):
        diagnose.gap_table({"audio": 60.0}, {"audio": 50.0, "visual": 40.0})


def test_an_answer_that_reshapes_a_tensor_in_place_is_refused_and_undone():
    """Probe M09: an answer doing target.unsqueeze_(1) made the kit's own restore step fail
    with torch's "doesn't match the broadcast shape", leaving the target (4, 1)."""
    from g2d_lite.exercise_checks import without_kit

    def total(logits, target):
        target.unsqueeze_(1)
        return (logits - target).pow(2).mean()

    logits, target = torch.zeros(4, 4), torch.arange(4.0)
    with pytest.raises(AssertionError, match="total .* changed its input in place"):
        without_kit(total)(logits, target)
    assert target.shape == (4,) and torch.equal(target, torch.arange(4.0))


@pytest.mark.parametrize("kappa", [math.nan, -1.0, 5.0, "0", None, True], ids=repr)
def test_smp_and_ogm_refuse_a_gradient_coefficient_outside_0_1(kappa):
    """Probe M06 (a NaN κ made the gradients NaN, -1 turned them uphill, 5 multiplied them),
    M07 ("0" or None: torch's mul_ TypeError, naming neither κ nor the modality)."""
    from g2d_lite.exercise_checks import encoders_with_gradients
    from g2d_lite.smp import OGM, SMP

    encoders, _ = encoders_with_gradients(["audio", "visual"], torch.randn(2, 1, 8, 8), seed=0)
    before = {(m, n): p.grad.clone() for m, e in encoders.items() for n, p in e.named_parameters()}
    bad = {"audio": kappa, "visual": 1.0}
    with pytest.raises(ValueError, match=f"kappa of 'audio' is {re.escape(repr(kappa))}"):
        SMP(0, 0).apply(encoders, bad)
    with pytest.raises(ValueError, match=f"kappa of 'audio' is {re.escape(repr(kappa))}"):
        OGM(0, 0).apply(encoders, bad, 0)
    for m, encoder in encoders.items():
        assert all(torch.equal(p.grad, before[m, n]) for n, p in encoder.named_parameters())


def test_ogm_refuses_branch_logits_it_cannot_score():
    """Probe M08: NaN branch logits gave κ = 1 for both ("no modality dominates")."""
    from g2d_lite.smp import OGM

    target = torch.tensor([0, 1, 2, 0])
    logits = {"audio": torch.full((4, 3), math.nan), "visual": torch.zeros(4, 3)}
    with pytest.raises(ValueError, match=r"branch logits of \['audio'\] hold NaN or inf"):
        OGM(0, 0).coefficients(logits, target, 0)


def test_figures_and_claims_name_the_split_their_scores_come_from(runs):
    """Probe M24: figure1 of validation scores was titled "(test)", its default, and so was
    figure1(test scores, "validation"); claims_markdown took any split it was told."""
    import matplotlib.pyplot as plt

    _, teachers, joint = runs
    validation = diagnose.score_table(teachers, {"joint": joint}, "validation")
    fig = plots.figure1(validation)
    assert fig.axes[0].get_title().endswith("(validation)")
    plt.close(fig)
    with pytest.raises(ValueError, match="these are test scores .* split='validation'"):
        plots.figure1(diagnose.score_table(teachers, {"joint": joint}, "test"), "validation")
    evidence = evidence_from_runs("audio", teachers, {"joint": joint}, "validation")
    table = claims(evidence)
    assert "validation split" in claims_markdown(table, "synthetic")
    with pytest.raises(ValueError, match="these are validation scores"):
        claims_markdown(table, "synthetic", "test")


def test_probe_24_loss_and_confidence_inputs():
    """G01 (empty modality dicts distilled nothing, silently), G02 (probabilities taken as
    teacher logits by g2d_loss), G03 (teacher_confidence({}) failed in torch.stack), G04 (a
    string temperature: "must be real number"), G05 (lists for the modality dicts printed
    tensors as "modalities")."""
    fused, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    features, logits = {"a": torch.randn(4, 5)}, {"a": torch.randn(4, 3)}
    with pytest.raises(ValueError, match="modality dicts are empty.*set the weights to 0"):
        losses.g2d_loss(fused, {}, {}, {}, target)
    losses.g2d_loss(fused, {}, {}, {}, target, feature_weight=0.0, logit_weight=0.0)
    probabilities = {"a": torch.softmax(torch.randn(4, 3), 1)}
    with pytest.raises(ValueError, match="'a' look like probabilities.*pass the teacher's logits"):
        losses.g2d_loss(fused, features, probabilities, features, target)
    with pytest.raises(ValueError, match="teacher_logits names no modality"):
        teacher_confidence({}, target)
    with pytest.raises(
        TypeError, match=r"temperature must be a finite number > 0, got '2' \(a str"
    ):
        losses.g2d_loss(fused, features, logits, features, target, temperature="2")
    with pytest.raises(TypeError, match="feature_weight must be a finite number >= 0, got True"):
        losses.g2d_loss(fused, features, logits, features, target, feature_weight=True)
    with pytest.raises(
        TypeError, match=r"student_features must be a dict \{modality: tensor\}, got"
    ):
        losses.g2d_loss(fused, [features["a"]], [logits["a"]], [features["a"]], target)


def test_spare_modality_colours_differ_within_a_figure():
    """G22: rgb/depth/flow took spare colours by a hash over three, so depth and flow were drawn
    alike in the leader-share figure and the ρ timelines."""
    from g2d_lite import palette

    names = ["rgb", "depth", "flow", "depth+flow", "audio"]
    shades = palette.colours(names)
    assert len(set(shades.values())) == len(names)
    assert (
        palette.colours(["teacher (depth)", "depth", "flow"])["teacher (depth)"] == shades["depth"]
    )
    assert palette.colours(["depth", "flow"]) == palette.colours(["flow", "depth"])
    steps = pd.DataFrame(
        {
            "epoch": [0, 0, 0],
            "step": [0, 1, 2],
            "kappa/rgb": [0.0] * 3,
            "kappa/depth": [1.0, 1.0, 0.0],
            "kappa/flow": [0.0, 0.0, 1.0],
        }
    )
    fig = plots.leader_share(diagnose.leader_share(steps, by_epoch=True))
    bars = {tuple(p.get_facecolor()[:3]) for p in fig.axes[0].patches}
    assert len(bars) == 2, bars


def test_evaluate_names_a_model_in_another_precision(runs):
    """G26: a teacher converted with .double() failed with torch's "Input type and weight type
    should be the same"."""
    data, teachers, _ = runs
    model = teachers["audio"].model
    try:
        with pytest.raises(TypeError, match=r"weights are torch.float64.*call model.float\(\)"):
            evaluate.evaluate(model.double(), data.test)
    finally:
        model.float()


def test_probe_25_teacher_outputs_damaged_or_of_another_batch():
    """J03 (NaN or inf teacher logits or features gave a NaN loss without a word) and J04
    (teacher logits of another batch size were blamed on the classes)."""
    fused, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    features, logits = {"a": torch.randn(4, 5)}, {"a": torch.randn(4, 3)}
    inf_logits = {"a": torch.tensor([[math.inf, 0.0, 0.0]] * 4)}
    nan_features = {"a": torch.full((4, 5), math.nan)}
    for t_logits, t_features, kind in (
        (inf_logits, features, "logits"),
        (logits, nan_features, "features"),
    ):
        with pytest.raises(ValueError, match=f"teacher {kind} of 'a' hold NaN or inf"):
            losses.g2d_loss(fused, features, t_logits, t_features, target)
    with pytest.raises(ValueError, match="are for 3 samples, the fused logits for 4"):
        losses.g2d_loss(fused, features, {"a": torch.randn(3, 3)}, features, target)


def test_summaries_refuse_to_average_runs_trained_with_different_settings():
    """Probe 27 AF15: seed 0 trained 1 epoch and seed 1 trained 2 were averaged as "2 seeds"."""
    data = tiny_data()
    joint = tiny_config(**METHODS["joint"])
    short, long = (train_student(joint.replace(epochs=n), data) for n in (1, 2))
    rows = [
        results.result_row("joint", short.metrics),
        results.result_row("joint", train_student(joint.replace(epochs=2, seed=1), data).metrics),
    ]
    with pytest.raises(
        ValueError,
        match=r"method='joint' holds runs trained with 2 different settings \(seed 0: epochs=1; "
        r"seed 1: epochs=2\).*result_row\(\.\.\., epochs=\.\.\.\)\) or add 'recipe' to by=",
    ):
        results.summarise(rows)
    table = results.summarise(rows, by=["method", "recipe"])
    assert len(table) == 2 and list(table["seeds"]) == [1, 1]
    same = [rows[1], results.result_row("joint", long.metrics)]  # seeds 1 and 0 of 2 epochs
    assert results.summarise(same).loc[0, "seeds"] == 2
    assert "seed" not in same[0]["recipe"] and "progress" not in same[0]["recipe"]
    hand_made = [{k: v for k, v in row.items() if k != "recipe"} for row in rows]
    assert results.summarise(hand_made).loc[0, "seeds"] == 2  # no recipe: nothing to compare


def test_an_empty_table_is_not_summarised():
    """Probe 30 BC17: summarise([]) and an empty frame returned an empty table, exit 0, which a
    filter that matched nothing then showed as the results."""
    for rows in ([], pd.DataFrame({"method": [], "acc": []})):
        with pytest.raises(ValueError, match="rows is empty: there is nothing to summarise"):
            results.summarise(rows)


def test_two_notebooks_in_one_output_dir_do_not_replace_each_others_metrics(tmp_path):
    """Probe 31 CC21: notebooks 01 and 03 given one OUTPUT_DIR in Jupyter: 03's save_metrics
    replaced 01's finished metrics.json without a word (only the runner checked)."""
    first = notebook.save_metrics(tmp_path, {"notebook": "01", "results": [1]})
    before = first.read_bytes()
    with pytest.raises(ValueError, match=r"holds notebook 01's metrics.*\.\./runs/03"):
        notebook.save_metrics(tmp_path, {"notebook": "03", "results": [2]})
    assert first.read_bytes() == before
    notebook.save_metrics(tmp_path, {"notebook": "01", "results": [3]})  # its own rerun
    notebook.save_metrics(tmp_path, {"acc": 1.0}, name="other.json")  # no notebook: no claim

"""The command line writes run folders and names the fix on bad input."""

import json

from g2d_lite.cli import main


def test_teacher_student_evaluate_round_trip(tmp_path, capsys):
    small = [
        "epochs=1",
        "progress=False",
        "data_options={'n_train': 128, 'n_validation': 64, 'n_test': 64}",
    ]
    assert main(["teacher", "--out", str(tmp_path / "teachers"), *small]) == 0
    assert (
        main(
            [
                "student",
                "--teachers",
                str(tmp_path / "teachers"),
                "--out",
                str(tmp_path / "g2d"),
                *small,
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "g2d" / "metrics.json").read_text())
    assert metrics["role"] == "student" and "acc/visual" in metrics["test"]
    capsys.readouterr()
    assert main(["evaluate", "--run", str(tmp_path / "g2d")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert set(evaluated) == {"validation", "test"}


def test_bad_overrides_name_the_valid_keys(tmp_path, capsys):
    assert main(["joint", "--out", str(tmp_path), "epoch=3"]) == 2
    assert "valid keys" in capsys.readouterr().err


def test_student_without_teachers_says_how_to_get_them(tmp_path, capsys):
    assert main(["student", "--out", str(tmp_path), "epochs=1"]) == 2
    assert "--teachers" in capsys.readouterr().err

"""The GPU benchmark stays runnable without a GPU: ``--device cpu --quick`` runs every variant
end to end (the GPU session script's ``QUICK=1`` uses the same path), and bad options are
refused with the valid choices."""

import json
import math

import pytest

from benchmarks import gpu


@pytest.mark.slow
def test_quick_cpu_run_measures_every_variant_and_estimates_the_protocol(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    argv = ["--device", "cpu", "--quick", "--batch-sizes", "4", "--epochs", "3"]
    assert gpu.main([*argv, "--modes", "sync_free", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    variants = {row["variant"] for row in report["rows"]}
    assert {"teacher audio", "teacher visual", gpu.JOINT, gpu.CACHED, gpu.ONLINE} <= variants
    for row in report["rows"]:
        assert row["mode"] == "sync_free" and row["batch"] == 4
        assert row["train samples/s"] > 0 and math.isfinite(row["ms/step"])
    assert report["estimates"], "no protocol estimate"
    assert "gpu: none" in capsys.readouterr().out  # the machine is named in the table


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--modes", "graphs"], "valid: ['autotune', 'compile', 'deterministic', 'sync_free']"),
        (["--profile", "student"], "valid:"),
        (["--epochs", "2"], "at least 3"),
    ],
)
def test_bad_options_name_the_valid_ones(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_:
        gpu.parse_args(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err

"""Config profiles, methods and overrides."""

import pytest

from g2d_lite.config import METHODS, Config, parse_overrides, resolve


def test_paper_profile_is_the_official_recipe():
    cfg = resolve("paper")
    assert (cfg.lr, cfg.momentum, cfg.weight_decay) == (1e-3, 0.9, 1e-4)
    assert (cfg.lr_step, cfg.lr_gamma, cfg.epochs, cfg.batch_size) == (200, 0.1, 300, 16)
    assert (cfg.fusion, cfg.encoder, cfg.balance) == ("late", "resnet18", "smp")
    assert (cfg.balance_start_epoch, cfg.window_end) == (0, 150)


def test_window_defaults_to_half_of_training():
    assert resolve("smoke").window_end == 15


def test_methods_set_loss_and_balance():
    assert resolve(method="joint").needs_teachers is False
    assert resolve(method="joint+smp").needs_teachers is True
    assert resolve(method="umt").distillation_weights == (1.0, 0.0)
    assert resolve(method="g2d").distillation_weights == (1.0, 1.0)
    assert resolve(method="g2d", logit_weight=0.5).distillation_weights == (1.0, 0.5)
    assert set(METHODS) >= {"joint", "g2d", "g2d_no_smp", "g2d_partial", "ogm_ge", "umt"}


def test_none_overrides_keep_the_profile_value():
    assert resolve("classroom", epochs=None).epochs == 45


def test_unknown_keys_and_choices_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid keys: .*epochs"):
        resolve(epoch=3)
    with pytest.raises(ValueError, match="valid choices: .*late"):
        resolve(fusion="attention")
    with pytest.raises(ValueError, match="valid choices: smoke, classroom, paper"):
        resolve("huge")
    with pytest.raises(ValueError, match="unknown config keys"):
        Config().replace(learning_rate=1)


def test_command_line_overrides_are_parsed_as_literals():
    parsed = parse_overrides(["epochs=5", "fusion=concat", "modalities=['audio','visual']"])
    assert parsed == {"epochs": 5, "fusion": "concat", "modalities": ["audio", "visual"]}
    assert resolve(**parsed).modalities == ("audio", "visual")
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["epochs"])


def test_config_round_trips_through_a_dict():
    cfg = resolve("paper", method="g2d_partial", smp_stage_epochs=[10])
    assert Config.from_dict(cfg.to_dict()) == cfg

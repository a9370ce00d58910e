"""benchmarks/conv_norms.py: the section's tables and checks from given measurements (no timing is tested)."""

import pytest
import torch

from benchmarks.conv_norms import build_section, reference_style_power


def layer(exact, certified, network="CNN-4"):
    return {"network": network, "layer": 0, "input": "1x28x28", "exact": exact, "certified": certified,
            "method": "exact", "seconds": 0.1, "fft": exact * 1.02, "fft_seconds": 0.01, "reference": exact,
            "reference_iterations": 501, "reference_seconds": 0.2}


def result(layers, seconds=1.0, reference_seconds=2.0):
    network = {"network": "CNN-4", "autolip": 2.0, "status": "upper_bound", "seconds": seconds, "autolip_fft": 2.1,
               "fft_seconds": 0.5, "reference_product": 2.0, "reference_seconds": reference_seconds, "load1": 1.0}
    return {"layers": layers, "networks": [network], "load_start": [1, 1, 1], "load_end": [1, 1, 1], "seed": 0,
            "seconds": 3.0}


def test_a_certified_value_below_the_exact_norm_or_too_far_above_fails_its_check():
    section = build_section(result([layer(1.0, 1.0 + 1e-9), layer(1.0, 0.999), layer(1.0, 1.01)]))
    verdicts = [check.passed for check in section.checks if "within 0.1%" in check.name]
    assert verdicts == [True, False, False]
    assert section.seconds == 3.0


def test_speed_is_judged_only_when_asked():
    (speed,) = [c for c in build_section(result([layer(1.0, 1.0)], seconds=3.0)).checks if "slower" in c.name]
    assert speed.passed is False
    (speed,) = [c for c in build_section(result([layer(1.0, 1.0)], seconds=1.0)).checks if "slower" in c.name]
    assert speed.passed is True
    (speed,) = [c for c in build_section(result([layer(1.0, 1.0)], seconds=3.0), judge_speed=False).checks
                if "slower" in c.name]
    assert speed.passed is None


def test_the_reference_style_power_method_estimates_from_below():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 3, 3, stride=2)
    value, iterations = reference_style_power(conv, (2, 7, 7))
    A = torch.func.jacrev(lambda x: conv(x.reshape(1, 2, 7, 7)).reshape(-1))(torch.zeros(98))
    exact = float(torch.linalg.matrix_norm(A.double(), 2))
    assert value <= exact * (1 + 1e-5) and value >= exact * (1 - 1e-3) and 1 <= iterations <= 501


@pytest.mark.parametrize("argv", [["--seed", "-1"], ["--bogus"]])
def test_bad_arguments_exit_2(argv, tmp_path):
    from benchmarks.conv_norms import entry

    try:
        code = entry(argv + ["--out", str(tmp_path / "r")])
    except SystemExit as exit:  # argparse's own exit for an unknown option
        code = exit.code
    assert code == 2
    assert not (tmp_path / "r").exists()

"""The ``si-amortized`` command line: numbers checked by argparse, defaults of ``benchmark`` and ``demo``,
``simulate recording`` end to end and its errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from si_amortized.cli import build_parser, default_benchmark_output, main
from si_amortized.datasets import load_mearec


@pytest.mark.parametrize(
    "argv, option",
    [
        (["demo", "--duration", "-5"], "--duration"),
        (["demo", "--duration", "0"], "--duration"),
        (["demo", "--duration", "nan"], "--duration"),
        (["demo", "--noise-level", "-1"], "--noise-level"),
        (["demo", "--n-exc", "-1"], "--n-exc"),
        (["demo", "--n-inh", "1.5"], "--n-inh"),
        (["demo", "--n-exc", "0", "--n-inh", "0"], "--n-exc"),
        (["simulate", "recording", "--duration", "-5", "--output", "x.h5"], "--duration"),
        (["simulate", "recording", "--noise-level", "-0.5", "--output", "x.h5"], "--noise-level"),
        (["simulate", "recording", "--n-exc", "0", "--n-inh", "0", "--output", "x.h5"], "--n-exc"),
        (["simulate", "recording", "--min-dist", "-3", "--output", "x.h5"], "--min-dist"),
        (["benchmark", "--vae-epochs", "0"], "--vae-epochs"),
    ],
)
def test_bad_numbers_are_argparse_errors_naming_the_option(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "error:" in err
    assert list(tmp_path.iterdir()) == []  # nothing simulated or written


def test_good_numbers_parse():
    args = build_parser().parse_args(["demo", "--duration", "2.5", "--n-exc", "0", "--n-inh", "1", "--noise-level", "0"])
    assert (args.duration, args.n_exc, args.n_inh, args.noise_level) == (2.5, 0, 1, 0.0)
    assert args.figures == Path("si_amortized_demo_figures")


def test_benchmark_output_defaults_to_a_folder_in_the_working_directory(tmp_path, monkeypatch, capsys):
    import si_amortized.evaluation as evaluation

    calls = {}

    def fake_run_benchmark(scenarios, output, **kwargs):
        calls["output"] = Path(output)
        return Path(output) / "report.md"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evaluation, "run_benchmark", fake_run_benchmark)
    assert build_parser().parse_args(["benchmark"]).output is None
    assert main(["benchmark", "--scenario", "sqmea-10uv", "--tiny", "--no-progress"]) == 0
    assert calls["output"] == tmp_path / "si_amortized_benchmark_sqmea-10uv"
    assert str(tmp_path / "si_amortized_benchmark_sqmea-10uv") in capsys.readouterr().out


def test_default_benchmark_output_names_are_safe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_benchmark_output("sqmea,np64") == tmp_path / "si_amortized_benchmark_sqmea_np64"
    assert default_benchmark_output(" all ") == tmp_path / "si_amortized_benchmark_all"
    assert default_benchmark_output("a/../b") == tmp_path / "si_amortized_benchmark_a_.._b"


def test_cli_simulate_writes_a_readable_file(tmp_path):
    out = tmp_path / "cli.h5"
    proc = subprocess.run(
        [sys.executable, "-m", "si_amortized.cli", "simulate", "recording", "--duration", "1.5",
         "--n-exc", "2", "--n-inh", "1", "--output", str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    recording, sorting = load_mearec(out)
    assert sorting.get_num_units() == 3
    assert abs(recording.get_total_duration() - 1.5) < 1e-3


def test_cli_reports_errors_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "si_amortized.cli", "simulate", "recording", "--probe", "NoSuchProbe",
         "--output", str(tmp_path / "x.h5")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Unknown probe 'NoSuchProbe'" in proc.stderr and "Traceback" not in proc.stderr

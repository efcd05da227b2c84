"""What people read: verdict words, exactness, the p-value floor, caveats, the plot."""

from __future__ import annotations

import io
import types

import numpy as np
import pytest
from PIL import Image

from audit.report.document import plot_data
from audit.report.files import summary_text
from audit.report.plot import render_shifts_png
from audit.report.wording import evidence_lines, headline, human_verdict
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier


def _result(method: str, oracle, question: Question = Question("l0"), **options):
    return build_verifier(method, **options).run(oracle, question)


def test_json_keeps_not_detected_people_read_not_detected(make_oracle) -> None:
    result = _result("calibrated", make_oracle(n_external=99, seed=3)).to_json()
    assert result["verdict"] == "not_detected"
    assert human_verdict(result["verdict"]) == "not detected"
    assert headline(result) == "verdict: not detected"
    lines = evidence_lines(result)
    assert any("not proof that your images were unused" in line for line in lines)
    assert any(line.startswith("calibration: rank — exact: rank of your mark") for line in lines)


def test_the_smallest_possible_p_is_named(make_oracle) -> None:
    result = _result("calibrated", make_oracle(n_external=99, effect=6.0)).to_json()
    assert result["p_value"] == pytest.approx(0.01)
    assert "p = 0.01 is the strongest evidence 99 external marks can give" in "\n".join(
        evidence_lines(result)
    )
    assert not any("not proof" in line for line in evidence_lines(result))
    weaker = _result("calibrated", make_oracle(n_external=99, effect=1.5, seed=2)).to_json()
    assert weaker["p_value"] > 0.01
    assert not any("strongest evidence" in line for line in evidence_lines(weaker))


def test_approximate_and_paper_results_say_so(make_oracle) -> None:
    approximate = _result(
        "calibrated", make_oracle(n_external=99, exchangeable=False), Question("l0")
    ).to_json()
    assert "calibration: t — approximate" in "\n".join(evidence_lines(approximate))
    paper = _result("paper", make_oracle(n_external=2), n=20, rounds=2).to_json()
    text = "\n".join(evidence_lines(paper))
    assert "warning: measured on clean simulated models" in text and "44%" in text


def test_early_stop_is_explained(make_oracle) -> None:
    result = _result("sequential", make_oracle(n_external=99, seed=4)).to_json()
    assert result["details"]["stopped_early"]
    text = "\n".join(evidence_lines(result))
    assert "stopped after 10 of 99 external marks" in text and "not proof" in text


def test_summary_text_carries_the_same_words(make_oracle) -> None:
    result = _result("calibrated", make_oracle(n_external=99, seed=3)).to_json()
    document = {
        "result": result,
        "queries": {"billed": 500, "cached": 0, "attempts": 1},
        "provider": "mock",
        "target": "",
        "mark": "mine",
        "externals": ["x"] * 99,
        "alpha": 0.4,
        "cost_usd": 0.0,
        "price_per_query": 0.0,
    }
    summary = summary_text(document)
    assert "verdict: not detected\n" in summary and "not_detected" not in summary
    assert "calibration: rank — exact" in summary and "not proof" in summary


def _no_answers(oracle):
    return types.SimpleNamespace(
        labels=oracle.labels, n_external=oracle.n_external, answered=lambda label: {}
    )


@pytest.mark.parametrize(
    ("method", "question", "strip"),
    [
        ("calibrated", Question("l0"), "image"),
        ("sequential", Question("l0"), "image"),
        ("scan", Question(), "label"),
    ],
)
def test_the_plot_shows_every_mark_and_says_the_verdict(
    method: str, question: Question, strip: str, make_oracle
) -> None:
    oracle = make_oracle(n_external=99, effect=6.0)
    result = build_verifier(method).run(oracle, question)
    data = plot_data(result, _no_answers(oracle), "log_prob")
    assert data.strip_what == strip and data.true_statistic is not None
    assert len(data.strip_externals) == len(data.external_statistics) == 99
    assert "label j" not in data.statistic  # the label is named
    png = render_shifts_png(data)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (1200, 520)
        pixels = np.asarray(image.convert("RGB"))
    assert (np.abs(pixels.astype(int) - [204, 51, 17]).sum(axis=2) < 30).sum() > 100  # red mark

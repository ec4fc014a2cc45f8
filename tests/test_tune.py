"""`rag tune`: cross-validated settings for a team's own questions, written as a settings file that works."""

from __future__ import annotations

import json

from tests.conftest import ROOT

QUESTIONS = ROOT / "tests" / "fixtures" / "kb_questions.jsonl"


def test_tune_reports_in_and_out_of_fold_and_writes_usable_settings(cli, kb_data, tmp_path):
    out = tmp_path / "tuned.toml"
    code, stdout, err = cli("tune", QUESTIONS, "--data-dir", kb_data, "--folds", "4", "--out", out, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["questions"] == 22 and report["unanswerable"] == 2
    ndcg = report["ndcg@10"]
    assert set(ndcg) == {"default_in_sample", "chosen_in_sample", "in_fold", "out_of_fold", "default_out_of_fold"}
    assert all(0.0 <= v <= 1.0 for v in ndcg.values())
    assert ndcg["in_fold"] >= ndcg["out_of_fold"] - 1e-9  # a setting always scores best where it was chosen
    assert len(report["folds"]) == 4
    assert {"bm25_weight", "lead_weight", "min_score", "abstain_similarity"} <= set(report["chosen"])
    # The snippet is a settings file `rag` accepts as it is.
    code, stdout, err = cli("config", "--config", out, "--json", "--data-dir", kb_data)
    assert code == 0, err
    assert json.loads(stdout)["retrieve"]["bm25_weight"] == report["chosen"]["bm25_weight"]


def test_tune_refuses_too_few_questions(cli, kb_data, tmp_path):
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(QUESTIONS.read_text().splitlines()[:12]) + "\n")
    code, out, err = cli("tune", few, "--data-dir", kb_data)
    assert code == 2
    assert "at least 20 labelled questions" in err and "(got 12)" in err
    assert len(err.strip().splitlines()) == 1

"""Fine-tuning data, validation, the job lifecycle through the real `openai` client, the query log, compare."""

from __future__ import annotations

import json

import pytest

from rag.compare import token_f1
from rag.export import Example, dedupe
from rag.prompt import rag_messages


@pytest.fixture
def api(monkeypatch, openai_env, kb_copy):
    monkeypatch.setenv("RAG_DATA_DIR", str(kb_copy))
    monkeypatch.setenv("RAG_FINETUNE_POLL_S", "0")
    return openai_env


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_from_the_knowledge_base_passes_validation(cli, kb_data, tmp_path):
    out = tmp_path / "train.jsonl"
    code, _, err = cli("export-finetune", out, "--data-dir", kb_data)
    assert code == 0, err
    lines = read_jsonl(out)
    assert len(lines) >= 40  # 28 JSONL pairs plus the FAQ sections of the sample documents
    for line in lines:
        assert set(line) == {"messages"}
        assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
    questions = {line["messages"][1]["content"] for line in lines}
    assert "Why is my first bill higher than expected?" in questions  # an FAQ section
    assert "How do I set up my e-mail in Outlook?" in questions  # a JSONL pair
    provenance = read_jsonl(tmp_path / "train.provenance.jsonl")
    assert len(provenance) == len(lines) and all(p["sources"] for p in provenance)
    code, out_text, err = cli("validate-data", out, "--json")
    report = json.loads(out_text)
    assert code == 0 and report["ok"] and report["examples"] == len(lines), report["issues"]
    assert report["billed_tokens"] > 0 and report["cost_usd"] > 0 and report["epochs"] >= 1


def test_split_is_deterministic_and_prompt_completion_format(cli, kb_data, tmp_path):
    for name in ("a", "b"):
        code, _, err = cli(
            "export-finetune", tmp_path / f"{name}.jsonl", "--val-split", "0.1", "--seed", "7", "--data-dir", kb_data
        )
        assert code == 0, err
    assert (tmp_path / "a.train.jsonl").read_text() == (tmp_path / "b.train.jsonl").read_text()
    assert (tmp_path / "a.val.jsonl").read_text() == (tmp_path / "b.val.jsonl").read_text()
    train, val = read_jsonl(tmp_path / "a.train.jsonl"), read_jsonl(tmp_path / "a.val.jsonl")
    assert 0 < len(val) < len(train)
    assert not {json.dumps(x) for x in train} & {json.dumps(x) for x in val}
    cli("export-finetune", tmp_path / "pc.jsonl", "--format", "prompt-completion", "--data-dir", kb_data)
    pc = read_jsonl(tmp_path / "pc.jsonl")
    assert all(set(x) == {"prompt", "completion"} and x["prompt"].endswith("\n\n###\n\n") for x in pc)


def test_with_context_uses_exactly_the_ask_prompt(cli, api, kb_copy, tmp_path, settings_for, embedder):
    out = tmp_path / "ctx.jsonl"
    code, _, err = cli("export-finetune", out, "--with-context")
    assert code == 0, err
    line = next(x for x in read_jsonl(out) if x["messages"][-1]["content"].startswith("The first bill covers"))
    question = "Why is my first bill higher than expected?"
    assert cli("ask", question, "--no-log")[0] == 0
    sent = api.chat_requests()[-1]["messages"]
    assert line["messages"][:2] == sent  # the same system and user turns `rag ask` sends
    assert '<passage id="1"' in line["messages"][1]["content"]
    assert rag_messages(question, [])[0].content == sent[0]["content"]


def test_questions_and_generated_examples_are_answered_by_the_model(cli, api, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("How do I change my Wi-Fi password?\nMy printer is offline\n")
    code, _, err = cli("export-finetune", tmp_path / "q.jsonl", "--questions", questions, "--no-kb-qa")
    assert code == 0, err
    lines = read_jsonl(tmp_path / "q.jsonl")
    assert len(lines) == 2 and lines[0]["messages"][-1]["content"] == api.reply
    assert all("<passage" in r["messages"][1]["content"] for r in api.chat_requests())

    api.reply = "How do I pay by card?\nCan I pay by bank transfer?"
    code, _, err = cli("export-finetune", tmp_path / "g.jsonl", "--generate", "2", "--no-kb-qa")
    assert code == 0, err
    generated = read_jsonl(tmp_path / "g.jsonl")
    assert {g["messages"][1]["content"] for g in generated} == {"How do I pay by card?", "Can I pay by bank transfer?"}


def test_a_failing_export_leaves_no_file_behind(cli, api, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "train.jsonl"
    out.write_text("previous export\n")
    questions = folder / "q.txt"
    questions.write_text("How do I change my Wi-Fi password?\n")
    api.fail_with = 401
    code, _, err = cli("export-finetune", out, "--questions", questions)
    assert code == 3 and "401" in err
    assert out.read_text() == "previous export\n"
    assert sorted(p.name for p in folder.iterdir()) == ["q.txt", "train.jsonl"]


def test_near_duplicate_questions_are_removed():
    kept = dedupe(
        [
            Example("How do I reset my router?", "a", "kb-qa", ()),
            Example("how do I reset my router", "b", "kb-qa", ()),
            Example("How do I reset my password?", "c", "kb-qa", ()),
        ]
    )
    assert [e.answer for e in kept] == ["a", "c"]


def make_valid(n: int) -> list[str]:
    return [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": f"answer {i}"},
                ]
            }
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"text": "x"}), 'neither \\"messages\\"'),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "extra": 1}
            ),
            "unknown keys ['extra']",
        ),
        (
            json.dumps({"messages": [{"role": "boss", "content": "q"}, {"role": "assistant", "content": "a"}]}),
            "unknown role 'boss'",
        ),
        (
            json.dumps({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}),
            "empty or non-text content",
        ),
        (json.dumps({"messages": [{"role": "user", "content": "q"}]}), "no assistant message"),
        (
            json.dumps({"messages": [{"role": "user", "text": "q"}, {"role": "assistant", "content": "a"}]}),
            'needs \\"role\\" and \\"content\\"',
        ),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": "word " * 20000}, {"role": "assistant", "content": "a"}]}
            ),
            "over the 16385-token limit",
        ),
    ],
)
def test_each_validation_error_is_caught(cli, tmp_path, bad_line, message):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(make_valid(12) + [bad_line]) + "\n")
    code, out, _ = cli("validate-data", path, "--base", "gpt-3.5-turbo-0125", "--json")
    report = json.loads(out)
    assert code == 2 and not report["ok"]
    assert {i["line"] for i in report["issues"] if i["severity"] == "error"} == {13}
    assert any(message.replace('\\"', '"') in i["message"] for i in report["issues"]), report["issues"]


def test_example_counts_and_duplicates(cli, tmp_path):
    path = tmp_path / "few.jsonl"
    path.write_text("\n".join(make_valid(5)) + "\n")
    code, out, _ = cli("validate-data", path)
    assert code == 2 and "at least 10" in out
    path.write_text("\n".join(make_valid(20) + make_valid(1)) + "\n")
    code, out, _ = cli("validate-data", path, "--json")
    report = json.loads(out)
    assert code == 0 and report["warnings"] == 2  # the duplicate, and fewer than 50 examples
    assert report["epochs"] == 100 // 21  # OpenAI's default: at least ~100 example passes for small sets


def test_finetune_lifecycle_registers_the_model_ask_uses(cli, api, kb_copy, tmp_path):
    train = tmp_path / "train.jsonl"
    assert cli("export-finetune", train)[0] == 0
    code, out, err = cli("finetune", "start", train, "--suffix", "support")
    assert code == 0, err
    upload = next(f for f in api.files.values())
    assert upload["purpose"] == "fine-tune" and upload["content"] == train.read_text()
    job = next(iter(api.jobs.values()))
    assert job["model"] == "gpt-4o-mini-2024-07-18" and job["training_file"] == upload["id"]
    model = "ft:gpt-4o-mini-2024-07-18:org-test:support:abc123"
    assert "The job has successfully completed" in out and f"registered {model}" in out
    assert json.loads((kb_copy / "models.json").read_text())["finetuned"] == model

    assert cli("ask", "How do I reset my router?", "--model", "finetuned")[0] == 0
    assert api.chat_requests()[-1]["model"] == model
    code, out, _ = cli("config", "--json")
    assert code == 0
    assert json.loads(out)["chat"]["finetuned_registered"] == model

    code, out, _ = cli("finetune", "status", "--json")
    assert json.loads(out)["status"] == "succeeded"
    code, out, _ = cli("finetune", "list")
    assert job["id"] in out
    code, out, _ = cli("finetune", "events", job["id"])
    assert code == 0
    assert "Fine-tuning job started" in out


def test_a_failed_job_shows_the_api_error_and_registers_nothing(cli, api, kb_copy, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text(
        "\n".join(
            make_valid(11)
            + [
                json.dumps(
                    {"messages": [{"role": "user", "content": "FAIL_ME"}, {"role": "assistant", "content": "x"}]}
                )
            ]
        )
        + "\n"
    )
    code, out, _ = cli("finetune", "start", train)
    assert code == 3 and "invalid training file" in out
    assert "finetuned" not in json.loads((kb_copy / "models.json").read_text())


def test_invalid_training_data_is_refused_before_upload(cli, api, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(make_valid(3)) + "\n")
    code, _, err = cli("finetune", "start", train)
    assert code == 2 and "fix them" in err and api.files == {}


def test_cancel(cli, api, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(make_valid(12)) + "\n")
    assert cli("finetune", "start", train, "--no-follow")[0] == 0
    job_id = next(iter(api.jobs))
    code, out, _ = cli("finetune", "cancel", job_id)
    assert code == 0 and "cancelled" in out


def test_query_log_rating_and_export_from_log(cli, api, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_LOG_ENABLED", "true")
    assert cli("ask", "How do I reset my router?")[0] == 0
    assert cli("ask", "Why is my bill high?")[0] == 0
    assert cli("ask", "Not recorded", "--no-log")[0] == 0
    code, out, _ = cli("log", "list", "--json")
    assert code == 0
    entries = json.loads(out)
    assert [e["question"] for e in entries] == ["Why is my bill high?", "How do I reset my router?"]
    assert entries[0]["sources"] and entries[0]["model"] == "base-model-1" and entries[0]["answer"] == api.reply
    assert cli("log", "rate", entries[1]["id"], "good")[0] == 0
    code, _, err = cli("log", "rate", "999", "good")
    assert code == 2 and "no logged question" in err
    out_file = tmp_path / "log.jsonl"
    assert cli("export-finetune", out_file, "--from-log", "--only-good", "--no-kb-qa")[0] == 0
    lines = read_jsonl(out_file)
    assert [x["messages"][1]["content"] for x in lines] == ["How do I reset my router?"]


def test_token_f1():
    assert token_f1("Restart the router [1].", "restart router") == 1.0
    assert token_f1("call support", "restart router") == 0.0
    assert 0 < token_f1("restart the modem", "restart the router") < 1


def test_compare_scores_each_configuration(cli, api, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "id": "1",
                    "question": "How do I get a copy of an old invoice?",
                    "answer": api.reply,
                    "relevant_docs": ["billing/billing-and-invoices.md"],
                },
                {
                    "id": "2",
                    "question": "How many mesh points do I need?",
                    "answer": "Restart the router, then wait",
                    "relevant_docs": ["internet/mesh-wifi-and-extenders.rst"],
                },
            ]
        )
        + "\n"
    )
    report = tmp_path / "report.md"
    code, out, err = cli("compare", questions, "--models", "base", "--modes", "rag,plain", "--out", report)
    assert code == 0, err
    code, out, _ = cli("compare", questions, "--models", "base", "--modes", "rag,plain", "--json")
    assert code == 0
    data = json.loads(out)
    rag, plain = data["summary"]["base/rag"], data["summary"]["base/plain"]
    # Worked by hand: the reply's words are restart modem and router then check cables (7; "the" and the
    # citation marker do not count); the second reference's are restart router then wait (4); 3 shared:
    # precision 3/7, recall 3/4, F1 18/33. The first reference is the reply itself: F1 1.
    assert rag["token_f1"] == plain["token_f1"] == pytest.approx((1.0 + 18 / 33) / 2, abs=1e-4)  # rounded to 4
    assert rag["source_hit_rate"] == 1.0 and plain["source_hit_rate"] is None
    text = report.read_text()
    assert "| base/rag | base-model-1 | 2 |" in text and "## How many mesh points do I need?" in text


def test_a_small_validation_split_is_accepted_by_finetune_start(cli, api, kb_copy, tmp_path):
    out = tmp_path / "kb.jsonl"
    code, stdout, err = cli("export-finetune", out, "--val-split", "0.05", "--seed", "7")
    assert code == 0, err
    val, train = out.with_suffix(".val.jsonl"), out.with_suffix(".train.jsonl")
    assert 1 <= len(val.read_text().splitlines()) < 10  # fewer than the training minimum
    code, stdout, err = cli("finetune", "start", train, "--validation", val, "--no-follow")
    assert code == 0, err
    job = next(iter(api.jobs.values()))
    assert job["validation_file"] is not None


def test_a_split_that_rounds_to_zero_writes_no_validation_file(cli, kb_copy, tmp_path):
    out = tmp_path / "kb.jsonl"
    code, stdout, err = cli("export-finetune", out, "--val-split", "0.001", "--data-dir", kb_copy)
    assert code == 0, err
    assert "rounds to 0: no validation file written" in stdout
    assert out.exists() and not out.with_suffix(".val.jsonl").exists()


def test_a_cancelled_job_is_exit_3_for_start_and_status(cli, api, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(make_valid(12)) + "\n")
    api.hold_jobs = True
    assert cli("finetune", "start", train, "--no-follow", "--epochs", "2")[0] == 0
    job_id, job = next(iter(api.jobs.items()))
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2  # --epochs reaches the API
    assert cli("finetune", "cancel", job_id)[0] == 0
    code, out, _ = cli("finetune", "status", job_id, "--follow")
    assert code == 3 and "cancelled" in out


def test_ctrl_c_detaches_and_status_follow_registers_the_model(api, kb_copy, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(make_valid(12)) + "\n")
    api.hold_jobs = True  # the job keeps running until the test lets it finish
    env = {k: v for k, v in os.environ.items()}
    env.update(RAG_DATA_DIR=str(kb_copy), RAG_FINETUNE_POLL_S="0.05")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag", "finetune", "start", str(train)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # "started job ...": the job exists and is being followed
    assert first.startswith("started job "), first
    job_id = next(iter(api.jobs))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"detached; the job goes on. Follow it again with `rag finetune status {job_id} --follow`" in err
    assert "Traceback" not in err
    assert not (kb_copy / "models.json").exists() or "finetuned" not in json.loads(
        (kb_copy / "models.json").read_text()
    )

    api.hold_jobs = False
    status = subprocess.run(
        [sys.executable, "-m", "rag", "finetune", "status", "--follow"], env=env, capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr  # the last job started from here, followed to its end
    model = api.jobs[job_id]["fine_tuned_model"]
    assert f"registered {model}" in status.stdout
    assert json.loads((kb_copy / "models.json").read_text())["finetuned"] == model


def test_a_damaged_registry_stops_start_before_any_upload(cli, api, kb_copy, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(make_valid(12)) + "\n")
    (kb_copy / "models.json").write_text('["not", "a", "registry"]')
    code, _, err = cli("finetune", "start", train)
    assert code == 1 and "models.json holds list" in err
    assert api.files == {} and api.jobs == {}  # nothing was sent


def test_a_server_answering_garbage_is_an_invalid_response_not_an_unexpected_error(cli, api, tmp_path):
    api.garbage = True
    for args in (("finetune", "list"), ("finetune", "status", "ftjob-1"), ("ask", "How do I reset my router?")):
        code, out, err = cli(*args)
        assert code == 3, (args, err)
        assert "the server sent an invalid response" in err and "unexpected" not in err, (args, err)

"""Keyword, dense and hybrid retrieval; the BM25 index follows incremental ingests; `rag eval`."""

from __future__ import annotations

import json
import math
import shutil

from rag.evaluate import LabelledQuery, QueryResult, score
from tests.conftest import KB


def sources(cli, data, query, retriever):
    code, out, err = cli("search", query, "--retriever", retriever, "--json", "--data-dir", data)
    assert code == 0, err
    return [row["source"] for row in json.loads(out)]


def test_each_retriever_finds_keyword_and_paraphrase_questions(cli, kb_data):
    for retriever in ("bm25", "dense", "hybrid"):
        assert sources(cli, kb_data, "STARTTLS port 587", retriever)[0] in {
            "email/email-setup-desktop.html",
            "email/email-on-your-phone.txt",
            "support-qa.jsonl",
        }
    assert "internet/vpn-setup.md" in sources(cli, kb_data, "NorthConnect profile expired", "bm25")[:2]
    assert "billing/billing-and-invoices.md" in sources(cli, kb_data, "my bank took the money two times", "hybrid")[:3]


def test_bm25_results_carry_a_cosine_score_and_full_metadata(cli, kb_data):
    code, out, _ = cli("search", "factory reset paper clip", "--retriever", "bm25", "--json", "--data-dir", kb_data)
    rows = json.loads(out)
    pdf = next(r for r in rows if r["source"].endswith(".pdf"))
    assert pdf["page"] == 3 and "Factory reset" in pdf["headings"]
    assert all(0.0 < r["similarity"] <= 1.0 for r in rows)


def test_keyword_index_follows_incremental_ingest(cli, tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(KB / "billing", docs)
    data = tmp_path / "data"
    assert cli("ingest", docs, "--quiet", "--data-dir", data)[0] == 0
    assert "new.md" not in sources(cli, data, "quuxfrobnicator", "bm25")
    (docs / "new.md").write_text("# Quuxfrobnicator\n\nThe quuxfrobnicator resets billing cycles.\n")
    assert cli("ingest", docs, "--quiet", "--data-dir", data)[0] == 0
    assert sources(cli, data, "quuxfrobnicator", "bm25")[0] == "new.md"
    (docs / "new.md").unlink()
    assert cli("ingest", docs, "--quiet", "--data-dir", data)[0] == 0
    assert "new.md" not in sources(cli, data, "quuxfrobnicator", "bm25")


def test_metrics_follow_their_definitions():
    q = LabelledQuery("1", "q", frozenset({"a.md"}))
    results = [QueryResult(q, ("b.md", "a.md", "c.md"), 0.01), QueryResult(q, ("a.md",), 0.02)]
    m = score(results)
    assert m["recall@1"] == 0.5 and m["recall@5"] == 1.0
    assert m["mrr@10"] == (1 / 2 + 1) / 2
    assert math.isclose(m["ndcg@10"], (1 / math.log2(3) + 1) / 2)


def test_rag_eval_json(cli, kb_data, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "id": "1",
                    "question": "my printer prints blank pages",
                    "relevant_docs": ["devices/printer-troubleshooting.md"],
                },
                {
                    "id": "2",
                    "question": "how many mesh points do I need",
                    "relevant_docs": ["internet/mesh-wifi-and-extenders.rst"],
                },
                {"id": "3", "question": "esim activation", "relevant_docs": ["devices/smartphone-troubleshooting.md"]},
            ]
        )
        + "\n"
    )
    code, out, err = cli("eval", queries, "--json", "--data-dir", kb_data)
    assert code == 0, err
    data = json.loads(out)
    assert data["n"] == 3 and data["retriever"] == "hybrid"
    assert {"recall@1", "recall@5", "mrr@10", "ndcg@10", "latency_ms_p50", "latency_ms_p95"} <= set(data)
    assert data["recall@5"] >= 2 / 3
    code, out, err = cli("eval", tmp_path / "missing.jsonl", "--data-dir", kb_data)
    assert code == 2 and "cannot read" in err


LIMITS_PAGE = "email/mailbox-and-account-limits.md"


def search_rows(cli, data, query):
    code, out, err = cli("search", query, "--json", "-k", "20", "--data-dir", data)
    assert code == 0, err
    return json.loads(out)


def lifts(cli, data, monkeypatch, question, setting):
    """Score change of each chunk between the default ranking and the ranking with `setting` = 0."""
    monkeypatch.delenv(setting, raising=False)
    default = search_rows(cli, data, question)
    monkeypatch.setenv(setting, "0")
    without = {row["id"]: row["score"] for row in search_rows(cli, data, question)}
    monkeypatch.delenv(setting)
    return [(row["source"], row["score"] - without[row["id"]]) for row in default if row["id"] in without]


def test_a_limit_question_lifts_the_limits_page_and_nothing_else(cli, kb_data, monkeypatch):
    # The answer is a table row ("Devices signed in to the My Northwind app at once | 10") that reads nothing
    # like the question; the intent "limits" links the question to the page titled "... limits".
    question = "How many devices can be signed in to the app at once?"
    assert search_rows(cli, kb_data, question)[0]["source"] == LIMITS_PAGE
    changes = lifts(cli, kb_data, monkeypatch, question, "RAG_RETRIEVE_INTENT_WEIGHT")
    assert {source for source, _ in changes} > {LIMITS_PAGE}
    for source, lift in changes:
        assert math.isclose(lift, 0.15 if source == LIMITS_PAGE else 0.0, abs_tol=2e-4), (source, lift)


def test_a_question_without_an_intent_is_ranked_as_before(cli, kb_data, monkeypatch):
    question = "How do I reset my password?"
    lifted = [(row["id"], row["score"]) for row in search_rows(cli, kb_data, question)]
    monkeypatch.setenv("RAG_RETRIEVE_INTENT_WEIGHT", "0")
    assert lifted == [(row["id"], row["score"]) for row in search_rows(cli, kb_data, question)]


def test_intents_come_from_the_users_file(cli, kb_data, tmp_path, monkeypatch):
    intents = tmp_path / "intents.toml"
    intents.write_text(
        "[[intent]]\nname = 'printing'\nquestion = '\\bprint'\ndocument = '\\bprinter\\b'\n", encoding="utf-8"
    )
    monkeypatch.setenv("RAG_RETRIEVE_INTENTS_FILE", str(intents))
    monkeypatch.setenv("RAG_RETRIEVE_INTENT_WEIGHT", "5")  # large enough to put the printer page first
    assert (
        search_rows(cli, kb_data, "why does it print blank pages?")[0]["source"] == "devices/printer-troubleshooting.md"
    )
    # The built-in limits intent is replaced, not added to.
    rows = search_rows(cli, kb_data, "How many devices can use the app at the same time?")
    assert all(row["score"] < 5 for row in rows)


def test_a_broken_intents_file_is_one_clear_error(cli, kb_data, tmp_path, monkeypatch):
    intents = tmp_path / "intents.toml"
    intents.write_text("[[intent]]\nname = 'x'\nquestion = '(unclosed'\ndocument = 'y'\n", encoding="utf-8")
    monkeypatch.setenv("RAG_RETRIEVE_INTENTS_FILE", str(intents))
    code, _, err = cli("search", "anything", "--data-dir", kb_data)
    assert code == 2 and "bad regular expression" in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("RAG_RETRIEVE_INTENTS_FILE", str(tmp_path / "missing.toml"))
    code, _, err = cli("search", "anything", "--data-dir", kb_data)
    assert code == 2 and "cannot read retrieve.intents_file" in err, err


def test_a_question_that_names_a_page_by_its_title_lifts_that_page(cli, kb_data, monkeypatch):
    # Every term of the title "Laptop troubleshooting guide" is in the question.
    question = "Does the laptop troubleshooting guide cover a battery that drains overnight?"
    changes = lifts(cli, kb_data, monkeypatch, question, "RAG_RETRIEVE_TITLE_WEIGHT")
    assert {source for source, _ in changes} > {"devices/laptop-troubleshooting.txt"}
    for source, lift in changes:
        expected = 0.1 if source == "devices/laptop-troubleshooting.txt" else 0.0
        assert math.isclose(lift, expected, abs_tol=2e-4), (source, lift)
    # A two-term title ("Printer troubleshooting") is in too many questions to mean anything.
    changes = lifts(cli, kb_data, monkeypatch, "printer troubleshooting for paper jams", "RAG_RETRIEVE_TITLE_WEIGHT")
    assert changes and all(math.isclose(lift, 0.0, abs_tol=2e-4) for _, lift in changes)


def test_rrf_fusion_ranks_and_survives_a_stale_keyword_index(cli, kb_copy, monkeypatch):
    from rag.storage.catalog import Catalog
    from rag.storage.lexical import BM25Index

    catalog = Catalog(kb_copy / "catalog.sqlite3", readonly=True)
    pairs = [(c.id, c.text) for c in catalog.chunks()]
    catalog.close()
    # A keyword index that knows a chunk the catalog does not (left by an interrupted run).
    BM25Index.build(pairs + [("0" * 32, "restart the router and the modem, then wait two minutes")], kb_copy)
    monkeypatch.setenv("RAG_RETRIEVE_FUSION", "rrf")
    code, out, err = cli("search", "restart the router", "--json", "--data-dir", kb_copy)
    assert code == 0, err
    rows = json.loads(out)
    assert rows and all(r["id"] != "0" * 32 for r in rows)
    assert rows[0]["source"] in {"internet/home-internet-troubleshooting.md", "internet/nw-ax3000-router-manual.pdf"}

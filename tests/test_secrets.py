"""Credentials never appear in what `rag` prints, whatever a server sends back."""

from __future__ import annotations

from rag.errors import mask_secrets


def test_mask_hides_configured_keys_bearer_tokens_and_key_shapes():
    env = {"OPENAI_API_KEY": "sk-live-0123456789abcdef", "CHROMA_AUTH_TOKEN": "chroma-token-xyz", "HOME": "/root"}
    text = (
        "500: bad request with Authorization: Bearer sk-live-0123456789abcdef; chroma said chroma-token-xyz; "
        "another key sk-proj-AAAABBBBCCCC; home /root"
    )
    masked = mask_secrets(text, env)
    for secret in ("sk-live-0123456789abcdef", "chroma-token-xyz", "sk-proj-AAAABBBBCCCC"):
        assert secret not in masked
    assert "home /root" in masked  # only credentials are hidden
    assert "<CHROMA_AUTH_TOKEN hidden>" in masked

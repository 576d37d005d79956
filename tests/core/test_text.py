"""Text encoders are chosen by the checkpoint's class; embeddings are cached per prompt."""

import torch

from mediadiff.checkpoints import debug
from mediadiff.core.text import TextEncoder


def test_token_and_pooled_encoders():
    clip = TextEncoder(debug.clip_tokenizer(), debug.clip_text_encoder(len(debug.clip_tokenizer())))
    assert clip.encode(["a cat"]).shape == (1, 16, debug.TEXT_DIM) and not clip.pooled
    audioldm = debug.audioldm_pipeline()
    clap = TextEncoder(audioldm.tokenizer, audioldm.text_encoder)
    emb = clap.encode(["a dog", "rain"])
    assert clap.pooled and emb.shape == (2, debug.TEXT_DIM)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2))  # L2-normalised like AudioLDM


def test_cache_reuses_embeddings_and_stays_bounded():
    tok = debug.minilm_tokenizer()
    model = debug.tiny_bert(tok.vocab_size)
    enc = TextEncoder(tok, model, max_length=8, cache_size=3)
    calls = []
    model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    first = enc.encode(["a", "b"])
    again = enc.encode(["b", "a"])
    assert calls == [2] and torch.equal(first[0], again[1])
    enc.encode(["c", "d"])
    assert enc.cache_count == 3
    guided = enc.encode_for_guidance(["x"], [""], guided=True)
    assert guided.shape == (2, 8, debug.TEXT_DIM)
    # Negative first, then positive: the order guidance.combine splits the batch in.
    assert torch.equal(guided[0], enc.encode([""])[0]) and torch.equal(guided[1], enc.encode(["x"])[0])
    assert not torch.equal(guided[0], guided[1])


def test_sentence_token_is_the_masked_mean_of_the_word_tokens():
    tok = debug.minilm_tokenizer()
    model = debug.tiny_bert(tok.vocab_size).eval()  # no dropout: two encodings must agree
    plain = TextEncoder(tok, model, max_length=8)
    with_sentence = TextEncoder(tok, model, max_length=8, sentence_token=True)
    words, emb = plain.encode(["three beeps"])[0], with_sentence.encode(["three beeps"])[0]  # (L, D), (L + 1, D)
    assert emb.shape == (9, debug.TEXT_DIM) and torch.equal(emb[:-1], words)
    n = int(tok(["three beeps"], return_tensors="pt").attention_mask.sum())  # real tokens, padding left out
    torch.testing.assert_close(emb[-1], words[:n].mean(0))

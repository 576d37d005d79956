"""Text encoders chosen by the checkpoint (CLIP, CLAP, BERT/MiniLM), with a per-prompt embedding cache."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F

# Encoders whose pooled, L2-normalised projection conditions the model (AudioLDM's CLAP); the rest give tokens.
POOLED_ENCODERS = {"ClapTextModelWithProjection"}


def with_sentence_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Append the masked mean of the token states as one more token: MiniLM's sentence embedding (mean pooling,
    Reimers & Gurevych 2019, arXiv:1908.10084) before its L2 normalisation, kept at the tokens' scale; it places
    unseen phrasings near seen ones. Averaged in float32, as the training bank is, whatever the pipeline's dtype."""
    weights = mask.float().unsqueeze(-1)  # (B, L, 1)
    mean = (hidden.float() * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(min=1)  # (B, 1, D)
    return torch.cat([hidden, mean.to(hidden.dtype)], dim=1)  # (B, L + 1, D)


class TextEncoder:
    """Prompts -> embeddings for one tokenizer/encoder pair; caches by prompt for long-running processes."""

    def __init__(self, tokenizer, model, max_length: int | None = None, cache_size: int = 256,
                 sentence_token: bool = False):
        self.tokenizer, self.model = tokenizer, model
        self.max_length = int(max_length or tokenizer.model_max_length)
        self.pooled = type(model).__name__ in POOLED_ENCODERS
        # the checkpoint says so (defaults.text_sentence_token): its denoiser was trained with the extra token
        self.sentence_token = bool(sentence_token) and not self.pooled
        self._cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()
        self.cache_size = cache_size

    def _uses_mask(self) -> bool:
        # CLIP was trained without a mask (its config says so); BERT and CLAP need one.
        if type(self.model).__name__.startswith("CLIP"):
            return bool(getattr(self.model.config, "use_attention_mask", False))
        return True

    @property
    def cache_count(self) -> int:
        """How many prompt embeddings the cache holds (at most cache_size)."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Forget every cached embedding (benchmarks time each encoding, as diffusers runs it)."""
        self._cache.clear()

    @torch.no_grad()
    def encode_uncached(self, prompts: list[str]) -> torch.Tensor:
        """Tokenize to the fixed length and run the encoder: (B, L, D) tokens, (B, L + 1, D) with the
        sentence token, or (B, D) pooled."""
        tokens = self.tokenizer(
            prompts, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
        )
        device = self.model.device
        attention = tokens.attention_mask.to(device)  # (B, L)
        out = self.model(tokens.input_ids.to(device), attention_mask=attention if self._uses_mask() else None)
        if self.pooled:
            return F.normalize(out.text_embeds, dim=-1)  # (B, D)
        if self.sentence_token:
            return with_sentence_token(out[0], attention)  # (B, L + 1, D); padding left out of the mean, even for CLIP
        return out[0]  # (B, L, D)

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """Embeddings for `prompts`, taken from the cache where seen before."""
        key_base = (str(self.model.device), self.model.dtype)
        missing = [p for p in dict.fromkeys(prompts) if (key_base, p) not in self._cache]
        if missing:
            for p, emb in zip(missing, self.encode_uncached(missing)):
                self._cache[(key_base, p)] = emb
        rows = []
        for p in prompts:
            self._cache.move_to_end((key_base, p))
            rows.append(self._cache[(key_base, p)])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return torch.stack(rows)

    def encode_for_guidance(self, prompts: list[str], negative: list[str], guided: bool) -> torch.Tensor:
        """(negative, positive) stacked when guided, the positive alone otherwise."""
        if not guided:
            return self.encode(prompts)
        return torch.cat([self.encode(negative), self.encode(prompts)])

    def encode_schedule(self, keys: list[int], prompts: list[str], negative: str, total: int, count: int,
                        guided: bool) -> torch.Tensor:
        """Per-frame embeddings (count, total, ...) of a prompt schedule (`travel`), (negative, positive) stacked
        when guided: the negative holds for every frame."""
        rows = travel(keys, self.encode(prompts), total)  # (F, ...)
        positive = rows.unsqueeze(0).expand(count, *rows.shape).contiguous()
        if not guided:
            return positive
        negative_rows = self.encode([negative]).unsqueeze(1).expand(count, total, *rows.shape[1:])
        return torch.cat([negative_rows, positive])  # (2 * count, F, ...)


def travel(keys: list[int], embeddings: torch.Tensor, total: int) -> torch.Tensor:
    """Prompt travel (FreeNoise, Qiu et al. 2023, sec. 3.3): keyed embeddings (K, ...) linearly interpolated
    frame by frame between their positions, the last one held to frame `total - 1`: (total, ...)."""
    keys, embeddings = list(keys), embeddings
    if keys[-1] != total - 1:
        keys, embeddings = keys + [total - 1], torch.cat([embeddings, embeddings[-1:]])
    out = embeddings.new_zeros((total, *embeddings.shape[1:]))
    out[0] = embeddings[0]
    for i in range(len(keys) - 1):
        start, end = keys[i], keys[i + 1]
        for j in range(end - start + 1):
            alpha = j / (end - start)
            out[start + j] = (1 - alpha) * embeddings[i] + alpha * embeddings[i + 1]
    return out

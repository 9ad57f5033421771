"""Task heads on a shared encoder, chosen by task type; composition, no subclassing of models.

`TaskModel` = any transformers encoder (its output has `last_hidden_state`) + a ModuleDict
of heads keyed by task name, so the same class serves single-task training (one head),
multi-task training (`forward(task=...)`) and the MLM baseline (a head of type "mlm").
State dict keys are "encoder.*" and "heads.<name>.*", so one safetensors file holds both.
Each head receives the encoder and the batch: multiple choice flattens choices before
encoding and retrieval encodes two sides, which a head fed only hidden states could not do.
"""

from __future__ import annotations

from collections.abc import Callable

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping, cast, get_args

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from transformers import PreTrainedModel

HeadType = Literal["classification", "multiple_choice", "qa", "tagging", "retrieval", "mlm"]


@dataclass(frozen=True)
class HeadSpec:
    """What a head needs besides the encoder's hidden size."""

    type: HeadType
    num_labels: int = 2
    dropout: float = 0.1
    similarity: Literal["cosine", "dot"] = "cosine"  # retrieval only
    temperature: float = 0.05  # retrieval only: logits = similarity / temperature


def position_offset(encoder: PreTrainedModel) -> int:
    """First position id of a sequence: RoBERTa/XLM-R count from padding_idx + 1, BERT from 0."""
    # torch types a module's undeclared attributes as Tensor | Module; these are a submodule and an int
    emb = cast(nn.Module, encoder.embeddings)
    return cast(int, emb.padding_idx) + 1 if hasattr(emb, "create_position_ids_from_input_ids") else 0


def block_mask(seq_ids: torch.Tensor, encoder: PreTrainedModel) -> torch.Tensor:
    """(rows, 1, width, width) mask: a token attends only within its own packed sequence; the
    row's padding attends to itself (no all-masked rows, whose NaNs would spread)."""
    same = (seq_ids[:, :, None] == seq_ids[:, None, :])[:, None]
    if encoder.config._attn_implementation == "eager":  # eager adds the mask to the scores
        return torch.zeros(same.shape, device=same.device).masked_fill(~same, torch.finfo(torch.float32).min)
    return same


def encode(encoder: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
           position_ids=None, seq_ids=None, unpack_index=None) -> torch.Tensor:
    """Last hidden states in the layout of `attention_mask` (the mask defaults to all ones like
    the encoders' own default). Packed input (training/packing.py) runs the encoder on the rows
    and gathers each sequence's states back into the padded layout."""
    if unpack_index is None:
        return encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    hidden = encoder(input_ids=input_ids, attention_mask=block_mask(seq_ids, encoder),
                     position_ids=position_ids + position_offset(encoder)).last_hidden_state
    return hidden.flatten(0, 1)[unpack_index]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Average of the non-padding token states (e5 and the alignment probes pool this way)."""
    if attention_mask is None:
        return hidden.mean(1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class ClassificationHead(nn.Module):
    """First token → dropout → dense → tanh → dropout → out, as RobertaClassificationHead."""

    def __init__(self, hidden: int, num_labels: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden, num_labels)

    def score(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])
        return self.out_proj(self.dropout(torch.tanh(self.dense(x))))

    def forward(self, encoder, input_ids, attention_mask=None, labels=None, *, position_ids=None, seq_ids=None,
                unpack_index=None, **_):
        logits = self.score(encode(encoder, input_ids, attention_mask, position_ids, seq_ids, unpack_index))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.float(), labels)
        return out


class MultipleChoiceHead(nn.Module):
    """Flattens (batch, choices, length), scores each choice, softmax over choices.
    `choice_mask` (batch, choices) marks real choices; padding choices get -inf logits."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.scorer = ClassificationHead(hidden, 1, dropout)

    def forward(self, encoder, input_ids, attention_mask=None, labels=None, choice_mask=None, *, position_ids=None,
                seq_ids=None, unpack_index=None, **_):
        if unpack_index is None:
            b, c, length = input_ids.shape
            flat_mask = None if attention_mask is None else attention_mask.reshape(b * c, length)
            hidden = encode(encoder, input_ids.reshape(b * c, length), flat_mask)
        else:  # packed: the (batch, choices, length) layout is the unpack index's
            b, c, length = unpack_index.shape
            hidden = encode(encoder, input_ids, None, position_ids, seq_ids, unpack_index.reshape(b * c, length))
        logits = self.scorer.score(hidden).reshape(b, c)
        if choice_mask is not None:
            logits = logits.masked_fill(~choice_mask, float("-inf"))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.float(), labels)
        return out


class QAHead(nn.Module):
    """Token → start/end logits; loss is the mean of the two cross-entropies (as BERT's).
    Padding positions get -inf logits, so neither loss nor prediction depends on how much
    a batch was padded (or whether it was packed)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.qa_outputs = nn.Linear(hidden, 2)

    def forward(self, encoder, input_ids, attention_mask=None, start_positions=None, end_positions=None, *,
                position_ids=None, seq_ids=None, unpack_index=None, **_):
        hidden = self.dropout(encode(encoder, input_ids, attention_mask, position_ids, seq_ids, unpack_index))
        start, end = self.qa_outputs(hidden).float().unbind(-1)
        if attention_mask is not None:
            start, end = (x.masked_fill(attention_mask == 0, float("-inf")) for x in (start, end))
        out = {"start_logits": start, "end_logits": end}
        if start_positions is not None and end_positions is not None:
            ignored = start.shape[1]  # positions outside the window are ignored, as in transformers
            s, e = start_positions.clamp(0, ignored), end_positions.clamp(0, ignored)
            out["loss"] = (F.cross_entropy(start, s, ignore_index=ignored) + F.cross_entropy(end, e, ignore_index=ignored)) / 2
        return out


class TaggingHead(nn.Module):
    """Token → label logits; labels of -100 (sub-words after the first, specials) are ignored."""

    def __init__(self, hidden: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, num_labels)

    def forward(self, encoder, input_ids, attention_mask=None, labels=None, *, position_ids=None, seq_ids=None,
                unpack_index=None, **_):
        hidden = encode(encoder, input_ids, attention_mask, position_ids, seq_ids, unpack_index)
        logits = self.classifier(self.dropout(hidden))
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        return out


class RetrievalHead(nn.Module):
    """Dual encoder with shared weights: mean pooling, in-batch negatives, InfoNCE loss.

    Given q_/p_ inputs it returns the contrastive loss (passage i is the positive of query i,
    every other passage in the batch a negative); given plain input_ids, the embeddings.
    """

    def __init__(self, similarity: str, temperature: float):
        super().__init__()
        self.similarity, self.temperature = similarity, temperature

    def embed(self, encoder, input_ids, attention_mask, *packing):
        emb = mean_pool(encode(encoder, input_ids, attention_mask, *packing), attention_mask).float()
        return F.normalize(emb, dim=-1) if self.similarity == "cosine" else emb

    def forward(self, encoder, input_ids=None, attention_mask=None, q_input_ids=None, q_attention_mask=None,
                p_input_ids=None, p_attention_mask=None, **batch):
        def packing(prefix: str) -> tuple:
            return tuple(batch.get(prefix + k) for k in ("position_ids", "seq_ids", "unpack_index"))

        if input_ids is not None:
            return {"embeddings": self.embed(encoder, input_ids, attention_mask, *packing(""))}
        q = self.embed(encoder, q_input_ids, q_attention_mask, *packing("q_"))
        p = self.embed(encoder, p_input_ids, p_attention_mask, *packing("p_"))
        logits = q @ p.T / self.temperature
        loss = F.cross_entropy(logits, torch.arange(len(q), device=q.device))
        return {"loss": loss, "logits": logits, "q_embeddings": q, "p_embeddings": p}


class MLMHead(nn.Module):
    """Masked-LM head for encoders shipped without one (me5-small): a new transform
    (dense + gelu + LayerNorm) and a decoder tied to the input word embeddings, plus a bias.

    The tied matrix is read from the encoder at call time rather than registered here, so
    the state dict holds it once (under "encoder.*"). Logits are computed only at labelled
    positions: a 250k-row vocabulary over every token would dominate memory.
    """

    def __init__(self, hidden: int, vocab_size: int, eps: float = 1e-12):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.layer_norm = nn.LayerNorm(hidden, eps=eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, encoder, input_ids, attention_mask=None, labels=None, *, position_ids=None, seq_ids=None,
                unpack_index=None, **_):
        hidden = encode(encoder, input_ids, attention_mask, position_ids, seq_ids, unpack_index)
        if labels is not None:
            keep = labels != -100
            hidden, labels = hidden[keep], labels[keep]
        x = self.layer_norm(F.gelu(self.dense(hidden)))
        logits = F.linear(x, encoder.get_input_embeddings().weight, self.bias)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.float(), labels) if len(labels) else logits.sum() * 0.0
        return out


def build_head(spec: HeadSpec, encoder: PreTrainedModel) -> nn.Module:
    hidden = encoder.config.hidden_size

    def mlm() -> nn.Module:
        # transformers types the input embeddings as any Module; an encoder's are an nn.Embedding
        vocab_size = cast(nn.Embedding, encoder.get_input_embeddings()).num_embeddings
        return MLMHead(hidden, vocab_size, getattr(encoder.config, "layer_norm_eps", 1e-12))

    heads: dict[str, Callable[[], nn.Module]] = {
        "classification": lambda: ClassificationHead(hidden, spec.num_labels, spec.dropout),
        "multiple_choice": lambda: MultipleChoiceHead(hidden, spec.dropout),
        "qa": lambda: QAHead(hidden, spec.dropout),
        "tagging": lambda: TaggingHead(hidden, spec.num_labels, spec.dropout),
        "retrieval": lambda: RetrievalHead(spec.similarity, spec.temperature),
        "mlm": mlm,
    }
    if spec.type not in heads:
        raise ValueError(f"unknown head type {spec.type!r}; expected one of {get_args(HeadType)}")
    return heads[spec.type]()


class TaskModel(nn.Module):
    """A shared encoder and one head per task name; `forward(task=..., **batch)`.

    With a single head `task` may be omitted. Batch keys a head does not take (e.g.
    "example_index", "offset_mapping" on eval features) are ignored.
    """

    def __init__(self, encoder: PreTrainedModel, heads: Mapping[str, HeadSpec]):
        super().__init__()
        self.encoder = encoder
        self.specs = dict(heads)
        self.heads = nn.ModuleDict({name: build_head(spec, encoder) for name, spec in heads.items()})

    def forward(self, task: str | None = None, **batch) -> dict[str, torch.Tensor]:
        if task is None:
            if len(self.heads) != 1:
                raise ValueError(f"this model has heads {list(self.heads)}: pass task=")
            task = next(iter(self.heads))
        return self.heads[task](self.encoder, **batch)


def task_model(encoder: PreTrainedModel, task_type: HeadType, *, name: str | None = None, **spec) -> TaskModel:
    """The single-task case: `task_model(enc, "classification", num_labels=3)`."""
    return TaskModel(encoder, {name or task_type: HeadSpec(task_type, **spec)})


def mlm_loss(model: TaskModel, input_ids, labels, attention_mask=None, task: str = "mlm") -> torch.Tensor:
    """The MLM loss of `model`'s head named `task` (for the keep-MLM-on baseline)."""
    return model(task=task, input_ids=input_ids, attention_mask=attention_mask, labels=labels)["loss"]


def mask_tokens(
    input_ids: torch.Tensor,
    tokenizer=None,
    *,
    mask_token_id: int | None = None,
    vocab_size: int | None = None,
    special_ids: list[int] | None = None,
    prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: pick `prob` of the non-special tokens as targets; of those 80% become
    <mask>, 10% a random token, 10% stay. Returns (masked input_ids, labels with -100 elsewhere).

    Ids come from `tokenizer` (mask_token_id, all_special_ids, len) or the keyword arguments;
    pad is a special token, so padding is never a target. Uses torch's global RNG unless a
    generator is given, so training resume (which restores that RNG) masks identically.
    """
    if tokenizer is not None:
        mask_token_id = tokenizer.mask_token_id if mask_token_id is None else mask_token_id
        vocab_size = len(tokenizer) if vocab_size is None else vocab_size
        special_ids = tokenizer.all_special_ids if special_ids is None else special_ids
    if mask_token_id is None or vocab_size is None:
        raise ValueError("mask_tokens needs a tokenizer or mask_token_id and vocab_size")
    special = torch.isin(input_ids, torch.tensor(special_ids or [], dtype=input_ids.dtype, device=input_ids.device))

    def draw(p: float) -> torch.Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=input_ids.device) < p

    target = draw(prob) & ~special
    labels = torch.where(target, input_ids, torch.full_like(input_ids, -100))
    masked = input_ids.clone()
    to_mask = target & draw(0.8)
    masked[to_mask] = mask_token_id
    to_random = target & ~to_mask & draw(0.5)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device, dtype=input_ids.dtype)
    masked[to_random] = random_ids[to_random]
    return masked, labels

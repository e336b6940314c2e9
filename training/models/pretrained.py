"""A pretrained seq2seq checkpoint (``train.init``: a hub name or a local path), fine-tuned."""

from __future__ import annotations

from pathlib import Path

from training.config import ExperimentConfig
from training.models.family import Family


def load_pretrained_tokenizer(config: ExperimentConfig, output_dir: Path):
    """The checkpoint's own tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(config.train.init)


def build_pretrained(config: ExperimentConfig, tokenizer):
    """The checkpoint in float32, its embeddings grown to the tokenizer's size if needed."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    # Shipped models store fp16 weights; training runs in fp32.
    model = AutoModelForSeq2SeqLM.from_pretrained(
        config.train.init, use_safetensors=True, dtype=torch.float32
    )
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    return model


FAMILY = Family(
    name="pretrained",
    claims=lambda config: config.train.init != "scratch",
    load_tokenizer=load_pretrained_tokenizer,
    build=build_pretrained,
    adds_tokens=True,
)

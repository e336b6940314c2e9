"""A T5 trained from scratch, sized by ``train.model``, over our own tokenizer."""

from __future__ import annotations

from pathlib import Path

from training.config import ExperimentConfig
from training.errors import TrainingError
from training.models.family import Family


def load_scratch_tokenizer(config: ExperimentConfig, output_dir: Path):
    """The tokenizer the training.tokenizer stage wrote under ``output_dir``."""
    from training.tokenizer import load_tokenizer

    folder = output_dir / "tokenizer"
    if not folder.is_dir():
        raise TrainingError(f"{folder} not found: run training.tokenizer first")
    return load_tokenizer(folder)


def build_t5_scratch(config: ExperimentConfig, tokenizer):
    """A randomly initialised T5 of the shape ``train.model``."""
    from transformers import T5Config, T5ForConditionalGeneration

    shape = config.train.model
    model_config = T5Config(
        vocab_size=len(tokenizer),
        d_model=shape.d_model,
        d_ff=shape.d_ff,
        d_kv=shape.d_kv,
        num_heads=shape.num_heads,
        num_layers=shape.num_layers,
        num_decoder_layers=shape.num_decoder_layers,
        dropout_rate=shape.dropout_rate,
        feed_forward_proj=shape.feed_forward_proj,
        relative_attention_num_buckets=shape.relative_attention_num_buckets,
        # A T5 from scratch must agree with its own tokenizer on these ids.
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5ForConditionalGeneration(model_config)


FAMILY = Family(
    name="t5_scratch",
    claims=lambda config: config.train.init == "scratch",
    load_tokenizer=load_scratch_tokenizer,
    build=build_t5_scratch,
)

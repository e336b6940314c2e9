"""Training pipeline for restore: lexicon -> spinner -> synthesize -> tokenizer -> train."""

"""Zero-shot evaluation, sentence encoding, retrieval and alignment probes."""

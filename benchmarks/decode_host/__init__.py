"""Host decode benchmark: our 8da4w ExecuTorch language model against the memory roofline and peers.
Run it with `python -m sf_mobile.benchmarks.decode_host`; see __main__.py."""

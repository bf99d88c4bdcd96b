"""sf-export --target coreml: a vision+SlowFast model and a stateful multifunction language model."""

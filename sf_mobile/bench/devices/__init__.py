"""Device backends: push an export and its parity bundle to a phone, run the demo app's benchmark
mode, pull its result JSON. Tested here up to the device boundary (no phone is attached)."""

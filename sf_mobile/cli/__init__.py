"""Command-line entry points. Each command imports the heavy code it needs only when it runs,
so `--help` works without torch's model code or any export backend loaded."""

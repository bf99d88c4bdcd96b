"""sf-mobile: SlowFast-LLaVA video LLMs exported for phones.

Importing the package is cheap: torch, transformers and every export backend are imported
by the modules that need them.
"""

__version__ = "0.1.0"

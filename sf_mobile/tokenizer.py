"""Tokenizers: load a checkpoint's `tokenizer.json`, or build a stand-in of the preset's vocab size.

A preset run without a checkpoint has random weights, so any tokenizer with the right vocabulary
size and the prompt's special tokens is as good as the real one: a byte-level BPE trained on the
paragraphs below, padded with unreachable `<unusedN>` entries up to the exact vocab size (random
weights emit any id, and every id must decode).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.config import PromptConfig
from sf_mobile.errors import CheckpointError

STANDIN_CORPUS = """\
A person walks into the kitchen, opens the fridge and takes out a bottle of milk.
The camera pans slowly from left to right across a busy street at night.
What is the man holding in his right hand? He is holding a red umbrella.
How many people appear in the video? Three people appear, two of them are children.
Describe the video in detail. A small dog runs after a ball on the grass, then returns it.
What happens after the car stops? The driver gets out and checks the front tire.
The square moves from the top left corner to the bottom right corner while the circle changes colour.
Is it raining? No, the sky is clear and the road is dry. The sun sets behind the hills.
Summarise the events in order: first the door opens, then a cat enters, finally the lights turn off.
Answer with one word. Yes. No. Left. Right. Up. Down. Red. Green. Blue. Yellow. Black. White.
"""


def build_standin_tokenizer(vocab_size: int, special_tokens: tuple[str, ...]):
    """A byte-level BPE with exactly `vocab_size` ids; the special tokens come first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    minimum = 256 + len(special_tokens)  # every byte must be a token
    if vocab_size < minimum:
        raise CheckpointError(
            f"vocab size {vocab_size} is too small for a byte-level stand-in tokenizer",
            f"use a vocab of at least {minimum}",
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(STANDIN_CORPUS.splitlines(), trainer=trainer)
    # Pad the BPE vocab to the exact size: no merge produces these, but they decode.
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    next_id = max(vocab.values()) + 1
    while next_id < vocab_size:
        vocab[f"<unused{next_id}>"] = next_id
        next_id += 1
    return Tokenizer.from_str(json.dumps(data))


def load_tokenizer(path: Path):
    """A `tokenizer.json` from disk; a missing or unreadable file is a `CheckpointError`."""
    from tokenizers import Tokenizer

    if not path.is_file():
        raise CheckpointError(f"no tokenizer at {path}", "put the model's tokenizer.json in the checkpoint folder")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as err:  # the Rust side raises plain Exception for malformed JSON
        raise CheckpointError(
            f"{path} is not a valid tokenizer.json ({str(err).splitlines()[0]})",
            "replace it with the model's tokenizer.json",
        ) from None


@dataclass(frozen=True)
class PromptIds:
    """A prompt split at the video placeholder: prefix ids, [visual tokens], suffix ids."""

    prefix: list[int]
    suffix: list[int]


class PromptCodec:
    """Renders the preset's chat template and maps text <-> ids around the video placeholder."""

    def __init__(self, tokenizer, prompt: PromptConfig, vocab_size: int):
        self.tokenizer = tokenizer
        self.prompt = prompt
        missing = [t for t in dict.fromkeys((*prompt.special_tokens, *prompt.stop_tokens)) if tokenizer.token_to_id(t) is None]
        if missing:
            raise CheckpointError(
                f"the tokenizer lacks the prompt's special token(s) {missing}",
                "use the tokenizer.json that belongs to the checkpoint",
            )
        if tokenizer.get_vocab_size() > vocab_size:
            raise CheckpointError(
                f"the tokenizer has {tokenizer.get_vocab_size()} ids but the LLM embeds only {vocab_size}",
                "use the tokenizer.json that belongs to the checkpoint",
            )
        self.stop_ids = tuple(tokenizer.token_to_id(t) for t in prompt.stop_tokens)
        self.bos_id = tokenizer.token_to_id(prompt.bos_token) if prompt.bos_token else None

    def render(self, question: str) -> str:
        return self.prompt.template.format(system=self.prompt.system, question=question)

    def encode(self, question: str) -> PromptIds:
        before, after = self.render(question).split(self.prompt.placeholder)
        prefix = self.tokenizer.encode(before, add_special_tokens=False).ids
        if self.bos_id is not None:
            prefix = [self.bos_id, *prefix]
        suffix = self.tokenizer.encode(after, add_special_tokens=False).ids
        return PromptIds(prefix=prefix, suffix=suffix)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i not in self.stop_ids], skip_special_tokens=True)

    def special_token_ids(self) -> dict[str, int]:
        return {t: self.tokenizer.token_to_id(t) for t in (*self.prompt.special_tokens, *self.prompt.stop_tokens)}

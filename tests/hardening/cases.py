"""The catalogue: every adversarial input the hardening suite tries, with its exact outcome.

A case names the command (`prog` + `argv(ws)`, which builds the input in the workspace), and what
must come back: `Refused` (one-line error, exit code), `Failed` (sf-verify's FAIL line, exit 1)
or `Handled` (exit 0 and a check of the answer). Every case must also leave the workspace exactly
as it found it (test_adversarial.py). docs/hardening.md counts this list (table.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from hardening import video_checks as vc
from hardening.inputs_checkpoint import checkpoint
from hardening.inputs_export import tampered
from hardening.inputs_video import video
from hardening.outcome import Case, Failed, Handled, Refused

VIDEO, CHECKPOINT, COMMAND, MANIFEST = "video", "checkpoint", "command line", "manifest"
READ_FIX = "check that the file is a complete video that a media player can open"
CKPT_FIX = "use the config.json that came with these weights, or pass the --size they were trained with"
REFETCH = "re-run sf-export to rebuild the folder"
PLAN = ["--video-seconds", "60", "--ttft-ms", "2000"]
BENCH_QUICK = ["--backend", "onnxruntime-cpu", "--repeats", "1", "--warmup", "0", "--decode-tokens", "2"]


def sf_run_video(name: str):
    return lambda ws: [str(video(ws, name)), "--max-new-tokens", "1", "--json"]


def sf_run_checkpoint(name: str):
    return lambda ws: ["--checkpoint", str(checkpoint(ws, name)), "--max-new-tokens", "1"]


def export_to(*flags: str, out=lambda ws: ws.fresh("out")):
    return lambda ws: [*flags, "--out", str(out(ws))]


def _file(ws):
    path = ws.inputs / "outs-file" / "a-file"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("in the way")
    return path


def _read_only_folder(ws):
    path = ws.inputs / "read-only"
    if not path.exists():
        path.mkdir()
        path.chmod(0o555)
    return path


def _unprivileged() -> tuple[str, ...]:
    """root writes anywhere: run without the capabilities that let it (util-linux setpriv)."""
    if os.geteuid() != 0:
        return ()
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--inh-caps", "-all")


@functools.cache
def _needs_setpriv() -> str | None:
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv") is None:
        return "running as root without util-linux setpriv: a folder cannot be made unwritable for root"
    probe = subprocess.run([*_unprivileged(), "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"running as root and setpriv cannot drop CAP_DAC_OVERRIDE here ({probe.stderr.strip()})"
    return None


VIDEO_CASES = [
    Case("video-missing", VIDEO, "sf-run", lambda ws: [str(ws.inputs / "video" / "nope.mp4")], Refused(2, ("nope.mp4 does not exist", "check the path"))),
    Case("video-directory", VIDEO, "sf-run", lambda ws: [str(ws.inputs)], Refused(2, ("is a directory", "pass a video file, not a folder"))),
    Case("video-empty", VIDEO, "sf-run", sf_run_video("empty"), Refused(2, ("empty.mp4 is empty (0 bytes)", "re-copy or re-record"))),
    Case("video-not-a-video", VIDEO, "sf-run", sf_run_video("text"), Refused(2, ("cannot read video", "text.mp4", "Invalid data", READ_FIX)), spawn=True),
    Case("video-random-bytes", VIDEO, "sf-run", sf_run_video("noise"), Refused(2, ("cannot read video", "noise.mp4", READ_FIX))),
    Case("video-truncated-index", VIDEO, "sf-run", sf_run_video("truncated-index"), Refused(2, ("cannot read video", "truncated-index.mp4", READ_FIX))),
    Case("video-header-only", VIDEO, "sf-run", sf_run_video("header-only"), Refused(2, ("cannot read video", "header-only.mp4", READ_FIX))),
    Case("video-no-decodable-frames", VIDEO, "sf-run", sf_run_video("blank-frames"), Refused(2, ("blank-frames.mp4 yields no decodable frames", READ_FIX))),
    Case("video-audio-only", VIDEO, "sf-run", sf_run_video("audio-only"), Refused(2, ("audio-only.m4a has no video stream", "pass a file with a video track"))),
    Case("video-truncated-frames", VIDEO, "sf-run", sf_run_video("truncated-frames"),
         Handled(vc.truncated_frames, warnings=("decodes 1.50 s of the 3.00 s its header declares",))),
    Case("video-single-frame", VIDEO, "sf-run", sf_run_video("single-frame"), Handled(vc.single_frame)),
    Case("video-zero-duration-still", VIDEO, "sf-run", sf_run_video("still-image"), Handled(vc.still_image)),
    Case("video-variable-frame-rate", VIDEO, "sf-run", sf_run_video("vfr"), Handled(vc.vfr)),
    Case("video-rotated", VIDEO, "sf-run", sf_run_video("rotated"), Handled(vc.rotated)),
    Case("video-8k", VIDEO, "sf-run", sf_run_video("8k"), Handled(vc.eight_k)),
    Case("video-long-3.5h", VIDEO, "sf-run", sf_run_video("long"), Handled(vc.long_sparse)),
    Case("video-many-frames", VIDEO, "sf-run", sf_run_video("many-frames"), Handled(vc.many_frames)),
]

CHECKPOINT_CASES = [
    Case("checkpoint-missing", CHECKPOINT, "sf-run", lambda ws: ["--checkpoint", str(ws.fresh("no-checkpoint"))],
         Refused(2, ("checkpoint folder", "does not exist", "pass the folder that holds config.json"))),
    Case("checkpoint-is-a-file", CHECKPOINT, "sf-run", sf_run_checkpoint("is-a-file"), Refused(2, ("is a file, not a folder",))),
    Case("checkpoint-no-config", CHECKPOINT, "sf-run", sf_run_checkpoint("no-config"), Refused(2, ("has no config.json",))),
    Case("checkpoint-config-not-json", CHECKPOINT, "sf-run", sf_run_checkpoint("config-not-json"), Refused(2, ("config.json is not valid JSON", "restore"))),
    Case("checkpoint-config-wrong-type", CHECKPOINT, "sf-run", sf_run_checkpoint("config-field-type"),
         Refused(2, ("config.json field 'hidden_size' is '64', not a int",))),
    Case("checkpoint-config-of-another-preset", CHECKPOINT, "sf-run", sf_run_checkpoint("config-other-preset"),
         Refused(2, ("the tokenizer lacks the prompt's special token(s) ['<unk>', '<s>', '</s>']", "use the tokenizer.json that belongs"))),
    Case("checkpoint-config-of-another-vision", CHECKPOINT, "sf-run", sf_run_checkpoint("config-other-vision"),
         Refused(2, ("mm_hidden_size 1152 does not match the tiny vision width", "pass the --size whose vision tower"))),
    Case("checkpoint-rope-scaling", CHECKPOINT, "sf-run", sf_run_checkpoint("rope-scaling"), Refused(2, ("RoPE type 'linear' is not supported",))),
    Case("checkpoint-missing-tensor", CHECKPOINT, "sf-run", sf_run_checkpoint("missing-tensor"),
         Refused(2, ("lacks tensor 'model.norm.weight' that its config needs", CKPT_FIX))),
    Case("checkpoint-unexpected-tensor", CHECKPOINT, "sf-run", sf_run_checkpoint("unexpected-tensor"),
         Refused(2, ("has tensor 'model.extra.weight' that the config has no place for", CKPT_FIX))),
    Case("checkpoint-wrong-shape", CHECKPOINT, "sf-run", sf_run_checkpoint("wrong-shape"),
         Refused(2, ("tensor 'model.norm.weight' has shape [65], the config expects [64]", CKPT_FIX))),
    Case("checkpoint-wrong-dtype", CHECKPOINT, "sf-run", sf_run_checkpoint("wrong-dtype"),
         Refused(2, ("tensor 'model.norm.weight' of dtype int64, the model expects a floating-point tensor", "re-save"))),
    Case("checkpoint-nan-weights", CHECKPOINT, "sf-run", sf_run_checkpoint("nan-weights"),
         Refused(2, ("tensor 'model.norm.weight' holding NaN or infinite values",))),
    Case("checkpoint-corrupt-safetensors", CHECKPOINT, "sf-run", sf_run_checkpoint("corrupt-safetensors"),
         Refused(2, ("model.safetensors is not a readable safetensors file", "re-download or re-save it"))),
    # the pickle would create UNPICKLED beside itself if anything loaded it: the leftover check sees it
    Case("checkpoint-pickle-only", CHECKPOINT, "sf-run", sf_run_checkpoint("pickle-only"),
         Refused(2, ("holds only pickled weights (pytorch_model.bin)", "never loaded because unpickling runs code", "convert them to safetensors")),
         spawn=True),
    Case("checkpoint-no-tokenizer", CHECKPOINT, "sf-run", sf_run_checkpoint("no-tokenizer"), Refused(2, ("no tokenizer at", "tokenizer.json"))),
    Case("checkpoint-tokenizer-not-json", CHECKPOINT, "sf-run", sf_run_checkpoint("tokenizer-not-json"), Refused(2, ("is not a valid tokenizer.json",))),
    Case("checkpoint-tokenizer-of-another-preset", CHECKPOINT, "sf-run", sf_run_checkpoint("tokenizer-other-preset"),
         Refused(2, ("lacks the prompt's special token(s) ['<|endoftext|>', '<|im_start|>', '<|im_end|>']",))),
    Case("checkpoint-tokenizer-bigger-vocab", CHECKPOINT, "sf-run", sf_run_checkpoint("tokenizer-bigger-vocab"),
         Refused(2, ("the tokenizer has 600 ids but the LLM embeds only 512",))),
]

COMMAND_CASES = [
    # sf-export: names and values
    Case("export-unknown-target", COMMAND, "sf-export", lambda ws: ["--target", "tflite"], Refused(2, ("unknown target 'tflite'", "use one of ['coreml', 'executorch', 'onnx']")), spawn=True),
    Case("export-unknown-size", COMMAND, "sf-export", export_to("--target", "onnx", "--size", "13b"), Refused(2, ("unknown preset '13b'", "valid presets: tiny"))),
    Case("export-unknown-quant-onnx", COMMAND, "sf-export", export_to("--target", "onnx", "--quant", "int3"), Refused(2, ("--quant 'int3' is not supported", "fp32"))),
    Case("export-unknown-quant-executorch", COMMAND, "sf-export", export_to("--target", "executorch", "--quant", "fp16"), Refused(2, ("--quant 'fp16' is not supported", "8da4w"))),
    Case("export-unknown-quant-coreml", COMMAND, "sf-export", export_to("--target", "coreml", "--quant", "8da4w"), Refused(2, ("--quant '8da4w' is not supported", "int4-block"))),
    Case("export-unknown-backend", COMMAND, "sf-export", export_to("--target", "onnx", "--backend", "tpu"), Refused(2, ("--backend 'tpu' is not supported", "['cpu', 'qnn']"))),
    Case("export-unknown-soc", COMMAND, "sf-export", export_to("--target", "onnx", "--backend", "qnn", "--soc", "sm9999"), Refused(2, ("--soc 'sm9999' is not supported", "sm8650"))),
    Case("export-unknown-compute-units", COMMAND, "sf-export", export_to("--target", "coreml", "--compute-units", "tpu"), Refused(2, ("--compute-units 'tpu' is not supported",))),
    # sf-export: flags that contradict each other or the model
    Case("export-soc-without-qnn", COMMAND, "sf-export", export_to("--target", "onnx", "--soc", "sm8650"), Refused(2, ("--soc sm8650 applies to --backend qnn only", "drop --soc, or add --backend qnn"))),
    Case("export-qnn-quant-on-cpu", COMMAND, "sf-export", export_to("--target", "onnx", "--quant", "a16w8"), Refused(2, ("--quant a16w8 is not available with --backend cpu", "--backend qnn for a16w8"))),
    Case("export-fp16-on-qnn", COMMAND, "sf-export", export_to("--target", "onnx", "--backend", "qnn", "--quant", "fp16"), Refused(2, ("--quant fp16 is not available with --backend qnn",))),
    Case("export-group-size", COMMAND, "sf-export", export_to("--target", "executorch", "--quant", "8da4w", "--group-size", "64"), Refused(2, ("group size 64 is not supported", "[32, 128]"))),
    Case("export-block-size", COMMAND, "sf-export", export_to("--target", "coreml", "--quant", "int4-block", "--block-size", "48"), Refused(2, ("block size 48 is not supported",))),
    Case("export-frames-zero", COMMAND, "sf-export", export_to("--target", "onnx", "--frames", "0"), Refused(2, ("--frames is 0", "pass a positive --frames"))),
    Case("export-context-too-small", COMMAND, "sf-export", export_to("--target", "onnx", "--max-context", "10"), Refused(2, ("max context 10 cannot hold the 96 visual tokens", "--max-context 256 or more"))),
    Case("export-context-too-large", COMMAND, "sf-export", export_to("--target", "executorch", "--max-context", "100000"), Refused(2, ("max context 100000 exceeds the 2048 positions", "--max-context 2048 or less"))),
    Case("export-prefill-chunk-zero", COMMAND, "sf-export", export_to("--target", "onnx", "--prefill-chunk", "0"), Refused(2, ("prefill chunk 0 does not fit", "between 1 and"))),
    Case("export-checkpoint-missing", COMMAND, "sf-export", export_to("--target", "onnx", "--checkpoint", "/nonexistent/ckpt"), Refused(2, ("checkpoint folder /nonexistent/ckpt does not exist",))),
    Case("export-no-target", COMMAND, "sf-export", export_to("--size", "tiny"), Refused(2, ("the following arguments are required: --target",), usage=True)),
    Case("export-unknown-flag", COMMAND, "sf-export", export_to("--target", "onnx", "--fast"), Refused(2, ("unrecognized arguments: --fast",), usage=True)),
    Case("export-frames-not-a-number", COMMAND, "sf-export", export_to("--target", "onnx", "--frames", "eight"), Refused(2, ("argument --frames: invalid int value: 'eight'",), usage=True)),
    # sf-export: the output folder
    Case("export-out-exists", COMMAND, "sf-export", export_to("--target", "onnx", out=lambda ws: ws.export()), Refused(2, ("onnx-tiny already exists", "pass --overwrite or choose another --out"))),
    Case("export-out-is-a-file", COMMAND, "sf-export", export_to("--target", "onnx", out=_file), Refused(2, ("a-file exists and is a file, not an output folder", "choose another --out"))),
    Case("export-out-is-a-file-overwrite", COMMAND, "sf-export", export_to("--target", "onnx", "--overwrite", out=_file), Refused(2, ("a-file exists and is a file, not an output folder",))),
    Case("export-out-under-a-file", COMMAND, "sf-export", export_to("--target", "onnx", out=lambda ws: _file(ws) / "out"), Refused(2, ("a-file is a file, so", "cannot be created", "choose another --out"))),
    Case("export-out-not-writable", COMMAND, "sf-export", export_to("--target", "onnx", out=lambda ws: _read_only_folder(ws) / "out"),
         Refused(2, ("cannot create the output folder", "read-only/out (Permission denied)", "choose a writable --out")), spawn=True, needs=_needs_setpriv, prefix=_unprivileged),
    # sf-run, sf-info
    Case("run-unknown-size", COMMAND, "sf-run", lambda ws: ["--size", "13b"], Refused(2, ("unknown preset '13b'",))),
    Case("run-frames-zero", COMMAND, "sf-run", lambda ws: ["--frames", "0"], Refused(2, ("--frames is 0",))),
    Case("run-max-new-tokens-zero", COMMAND, "sf-run", lambda ws: ["--max-new-tokens", "0"], Refused(2, ("--max-new-tokens is 0",))),
    Case("run-top-p-above-one", COMMAND, "sf-run", lambda ws: ["--top-p", "1.5"], Refused(2, ("top-p",))),
    Case("run-temperature-nan", COMMAND, "sf-run", lambda ws: ["--temperature", "nan"], Refused(2, ("temperature",))),
    Case("run-answer-longer-than-context", COMMAND, "sf-run", lambda ws: ["--max-new-tokens", "5000"], Refused(2, ("5000 new tokens exceed the LLM's 2048 positions", "lower --max-new-tokens"), after_load=True)),
    Case("info-unknown-size", COMMAND, "sf-info", lambda ws: ["--size", "13b"], Refused(2, ("unknown preset '13b'",))),
    Case("info-frames-zero", COMMAND, "sf-info", lambda ws: ["--frames", "0"], Refused(2, ("--frames is 0",))),
    Case("plan-unknown-size", COMMAND, "sf-plan", lambda ws: [*PLAN, "--size", "13b", "--device", "pixel-8"], Refused(2, ("unknown preset '13b'",))),
    Case("plan-unknown-device", COMMAND, "sf-plan", lambda ws: [*PLAN, "--size", "1b", "--device", "nokia-3310"], Refused(2, ("unknown device 'nokia-3310'; valid devices:",))),
    Case("plan-video-seconds-nan", COMMAND, "sf-plan", lambda ws: ["--size", "1b", "--device", "pixel-8", "--video-seconds", "nan", "--ttft-ms", "2000"],
         Refused(2, ("--video-seconds is nan", "> 0"))),
    Case("plan-ttft-zero", COMMAND, "sf-plan", lambda ws: ["--size", "1b", "--device", "pixel-8", "--video-seconds", "60", "--ttft-ms", "0"], Refused(2, ("--ttft-ms is 0",))),
    # sf-bench, sf-verify
    Case("bench-unknown-backend", COMMAND, "sf-bench", lambda ws: [str(ws.export()), "--backend", "tpu"], Refused(2, ("unknown backend(s) tpu", "use any of: pytorch-eager"))),
    Case("bench-repeats-zero", COMMAND, "sf-bench", lambda ws: [str(ws.export()), "--repeats", "0"], Refused(2, ("--repeats is 0",))),
    Case("bench-warmup-negative", COMMAND, "sf-bench", lambda ws: [str(ws.export()), "--warmup", "-1"], Refused(2, ("--warmup is -1", "pass 0 or more"))),
    Case("bench-folder-missing", COMMAND, "sf-bench", lambda ws: [str(ws.fresh("no-export"))], Refused(2, ("has no sf_manifest.json", "point at a folder written by sf-export"))),
    Case("bench-video-not-a-video", COMMAND, "sf-bench", lambda ws: [str(ws.export()), *BENCH_QUICK, "--video", str(video(ws, "text"))], Refused(2, ("cannot read video", "text.mp4"))),
    Case("bench-compare-missing", COMMAND, "sf-bench", lambda ws: ["compare", str(ws.fresh("a.json")), str(ws.fresh("b.json"))], Refused(2, ("a.json does not exist", "pass a JSON file written by sf-bench --report"), prog="sf-bench compare")),
    Case("verify-folder-missing", COMMAND, "sf-verify", lambda ws: [str(ws.fresh("no-export"))], Refused(2, ("has no sf_manifest.json",))),
    Case("verify-folder-is-a-file", COMMAND, "sf-verify", lambda ws: [str(_file(ws))], Refused(2, ("has no sf_manifest.json",))),
]


def _both(name: str, verify_expect, bench_fragments: tuple[str, ...]) -> list[Case]:
    """The same damaged folder through sf-verify (which reports) and sf-bench (which must refuse to run it)."""
    return [
        Case(f"verify-{name}", MANIFEST, "sf-verify", lambda ws: [str(tampered(ws, name)), "--no-io"], verify_expect),
        Case(f"bench-{name}", MANIFEST, "sf-bench", lambda ws: [str(tampered(ws, name)), *BENCH_QUICK], Refused(2, bench_fragments)),
    ]


_ARTIFACTS = ("does not match its sf_manifest.json", "see every problem with: sf-verify")
MANIFEST_CASES = [
    *_both("manifest-not-json", Refused(2, ("sf_manifest.json is not valid JSON", REFETCH)), ("sf_manifest.json is not valid JSON", REFETCH)),
    *_both("manifest-not-object", Refused(2, ("holds a JSON list, not an object",)), ("holds a JSON list, not an object",)),
    *_both("manifest-missing", Refused(2, ("has no sf_manifest.json",)), ("has no sf_manifest.json",)),
    *_both("schema-version-99", Refused(2, ("has schema_version 99; this sf-mobile reads version 2",)), ("has schema_version 99",)),
    *_both("hash-mismatch", Failed(("decoder.onnx.data: hash: FAIL", "sha256", "changed after export")), (*_ARTIFACTS, "decoder.onnx.data: sha256")),
    *_both("size-mismatch", Failed(("chat_template.json: hash: FAIL", "bytes, manifest says")), (*_ARTIFACTS, "chat_template.json")),
    *_both("artifact-missing", Failed(("vision.onnx: present: FAIL", "missing from the folder")), (*_ARTIFACTS, "vision.onnx: listed in sf_manifest.json but missing")),
    *_both("path-climbs-out", Failed(("../onnx-tiny/vision.onnx: path: FAIL", "refused, not read")), (*_ARTIFACTS, "climbs out with '..'")),
    *_both("path-absolute", Failed(("/etc/hostname: path: FAIL", "absolute")), (*_ARTIFACTS, "/etc/hostname", "refused, not read")),
    *_both("symlink-out", Failed(("tokenizer.json: path: FAIL", "a symlink leads outside the folder")), (*_ARTIFACTS, "a symlink leads outside the folder")),
    *_both("entry-malformed", Failed(("artifacts[0]: manifest: FAIL", "not an object")), (*_ARTIFACTS, "artifacts[0]: the entry is a JSON str")),
    Case("bench-config-missing", MANIFEST, "sf-bench", lambda ws: [str(tampered(ws, "config-missing")), *BENCH_QUICK], Refused(2, ("has no valid 'config' (a JSON object)", REFETCH))),
    Case("bench-config-invalid", MANIFEST, "sf-bench", lambda ws: [str(tampered(ws, "config-invalid")), *BENCH_QUICK], Refused(2, ("holds an invalid config", "llm", REFETCH))),
    Case("bench-parity-missing", MANIFEST, "sf-bench", lambda ws: [str(tampered(ws, "parity-missing")), *BENCH_QUICK], Refused(2, ("parity.json is missing", "re-run the export"))),
]

CASES = [*VIDEO_CASES, *CHECKPOINT_CASES, *COMMAND_CASES, *MANIFEST_CASES]
CATEGORIES = (VIDEO, CHECKPOINT, COMMAND, MANIFEST)

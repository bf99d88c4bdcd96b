"""The benchmark-mode contract between `sf-bench` (the host) and the sf-mobile demo apps.

This docstring is the whole specification an app developer needs; the constants below are the
same values for the host side, and the tests hold the two together.

Protocol "sf-bench-device/1". One run = one export folder benchmarked once by the app.

1. Identity
   Android package `org.sfmobile.demo`, activity `org.sfmobile.demo.BenchmarkActivity`
   (exported, no UI needed beyond a progress line). iOS/macOS bundle id `org.sfmobile.demo`.

2. What the host puts on the device. Every run has a fresh RUN-ID ([A-Za-z0-9._-]+, e.g.
   `20261123-031000-a1b2c3`); nothing is ever reused between runs. EXPORT is a copy of the export
   folder written by sf-export, files at the same relative paths:
       sf_manifest.json        shapes, token ids, frame geometry, artifacts (read this first)
       <graphs>                the manifest's "artifacts" (.pte files, or .mlpackage folders)
       tokenizer.json, chat_template.json
       parity/inputs.safetensors     frames uint8 [T,3,S,S], frames_packed uint8 [3,T*S,S],
                                     prefix_ids / suffix_ids / forced_tokens int64 [n]
       parity/reference.safetensors  visual [1,N_vis,D], prefill_last_logits [V],
                                     decode_logits [N_forced,V], greedy_tokens int64 [n]
       parity/parity.json            the same ids as lists, "precision", "tolerances"
                                     (component -> limits), "meta"
   Android  EXPORT  = /data/local/tmp/sf-mobile/<RUN-ID>/export/       (pushed by adb; readable
                                                                        by apps, not writable)
            RESULT  = /sdcard/Android/data/org.sfmobile.demo/files/sf-bench/<RUN-ID>/
                      (= getExternalFilesDir(null)/sf-bench/<RUN-ID>: the app writes it without any
                      permission and adb can read it; the app creates it from the path it is given)
   iOS      EXPORT  = Documents/sf-bench/<RUN-ID>/export/   in the app's data container
            RESULT  = Documents/sf-bench/<RUN-ID>/
            Paths given to the app are RELATIVE to the container root: resolve them against
            NSHomeDirectory() (which is the container root on iOS).
   macOS    EXPORT  = the user's export folder itself, RESULT = a fresh host temp folder; both
            ABSOLUTE paths. The app must be able to read/write them: build the macOS benchmark
            target without App Sandbox (a sandboxed app cannot see paths outside its container).
            The app must never modify EXPORT on macOS: it is the user's only copy.

3. How the run is started (the host never types into the app's UI)
   Android:
       adb -s SERIAL shell am start -W -S -n org.sfmobile.demo/.BenchmarkActivity
           --es folder EXPORT --es result_dir RESULT --ei repeats N --ei warmup W --es run_id RUN-ID
       (-S force-stops a running copy first so every run starts cold; -W waits for the launch.)
   iOS:
       xcrun devicectl device process launch --device ID --terminate-existing org.sfmobile.demo --
           --sf-bench EXPORT --repeats N --warmup W --result-dir RESULT --run-id RUN-ID --delete-export
   macOS: the app's executable (Contents/MacOS/<CFBundleExecutable>) run directly, same arguments
       as iOS but with absolute paths and without --delete-export.
   Arguments the app must accept, in any order: --sf-bench PATH, --repeats N (>= 1),
   --warmup W (>= 0), --result-dir PATH, --run-id ID, --delete-export (flag). Android receives the
   same values as the intent extras above (folder, result_dir, repeats, warmup, run_id).
   In benchmark mode the app shows no dialogs and waits for no input. On macOS it exits when done
   (status 0 whenever it wrote a result, even a "failed" one).

4. What the app does
   a. Read EXPORT/sf_manifest.json and parity/parity.json; load the graphs (the load is timed:
      stats.model_load_*).
   b. Parity: run the parity inputs through the app's own pipeline with teacher forcing
      (vision on frames_packed -> embeddings of prefix_ids + visual + suffix_ids -> prefill ->
      one decode step per forced token, feeding forced_tokens) and a greedy decode of
      len(greedy_tokens) steps. Compare with reference.safetensors:
        rel_l2  = ||a - e|| / ||e||, cosine of the flattened tensors, max_abs = max |a - e|
                  (vision, prefill_logits, decode_logits)
        top1    = [rows whose argmax equals the reference's, rows]  (prefill/decode logits)
        top1_within_noise = [rows whose pick's reference logit >= the reference max minus
                  2 x RMS(a - e) of that row, rows]
        greedy_prefix = [length of the common prefix with greedy_tokens, len(greedy_tokens)]
      A component fails when rel_l2 > max_rel_l2, cosine < min_cosine, top1_within_noise matches
      < ceil(min_top1 x rows), or greedy prefix < ceil(min_greedy_prefix x n) (limits from
      parity.json "tolerances"; a null limit does not apply). Write one PARITY_REPORT:
        {"backend": NAME, "precision": parity.json "precision", "against": "float" or
         "same-quantization" (parity.json meta "against"; "float" when absent), "passed": bool,
         "failed": [failing gated components], "components": {"vision": {...},
         "prefill_logits": {...}, "decode_logits": {...}, "greedy": {...}}, "timings": {...}}
      each component {"component", "passed", "gated", "rel_l2", "cosine", "max_abs", "top1",
      "top1_within_noise", "greedy_prefix", "failures": ["one line per missed limit"],
      "tolerance": the limits used}; unused measures are null. gated is false only for a
      weight-quantized precision compared "against": "float" (reported, not gating).
   c. Latency: W warm-up repeats (discarded), then N timed repeats of the full pipeline on the
      parity frames (greedy decode of len(greedy_tokens) tokens). For each metric record all N
      samples, the median and the 90th percentile (nearest rank). Metric names and units:
        vision_ms, vision_ms_per_frame, slowfast_projector_ms, embedding_ms, prefill_ms,
        time_to_first_token_ms (all "ms"); prefill_tok_s, decode_tok_s ("tok/s");
        frame_decode_ms ("ms", only when the app decodes a video file itself).
      Report only what the app measures; never invent a metric name.
   d. Memory: peak resident memory of the app process in MiB, and how it was read (Android:
      VmHWM from /proc/self/status; Apple: task_info phys_footprint high-water mark).
   e. Write RESULT/sf_bench_result.json (write to a temp name in RESULT, then rename), then on iOS
      with --delete-export remove EXPORT, then create the empty marker RESULT/done LAST. The host
      polls for `done` and reads the result only after it exists. A run that cannot finish
      (missing file, load error, out of memory caught) still writes a result with status
      "failed" and a one-line reason, then `done`.
   Log progress under the tag "SfBench" (Android logcat) / os_log category "SfBench".

5. The result: ONE backend entry of the sf-bench/1 schema (sf_mobile/reports/schema.py), UTF-8 JSON,
   no NaN/Infinity:
     {"name": "android-adb" | "ios-device" | "macos-app",   (the platform the app runs on)
      "kind": "device",
      "status": "ok" | "parity_failed" | "failed",   (parity_failed: a gated component failed)
      "reason": null | "one line",                   (required when failed)
      "accuracy_only": false,
      "device": {"model": ..., "os": ..., ...},      (the host overwrites serial/model/os; extra
                                                      keys such as "soc" or "abi" are kept)
      "parity": [PARITY_REPORT],
      "latency": {"repeats": N, "warmup": W,
                  "metrics": {NAME: {"unit": "ms" | "tok/s", "median": x, "p90": y,
                                     "samples": [N numbers]}}} | null,
      "stats": null | {ExecuTorch runner Stats field names, median repeat, ms from
                       model_load_start_ms = 0},
      "memory": {"peak_rss_mib": x | null, "method": "how it was measured"},
      "roofline": null}                              (the host fills the roofline)

6. Host side: push EXPORT, start, poll RESULT/done every few seconds until its timeout, pull
   sf_bench_result.json, validate it, fill `device`, delete the run folder (Android: adb rm;
   iOS: the app did it via --delete-export; devicectl has no delete we rely on).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path, PurePosixPath

from sf_mobile.errors import SfError
from sf_mobile.manifest import read_manifest
from sf_mobile.reports.schema import validate_backend

PROTOCOL = "sf-bench-device/1"

# --- identity --------------------------------------------------------------------------------
ANDROID_PACKAGE = "org.sfmobile.demo"
ANDROID_ACTIVITY = f"{ANDROID_PACKAGE}/.BenchmarkActivity"
IOS_BUNDLE_ID = "org.sfmobile.demo"
LOG_TAG = "SfBench"

# backend names in the sf-bench result; the app writes the one of the platform it runs on
ANDROID_BACKEND = "android-adb"
IOS_BACKEND = "ios-device"
MAC_BACKEND = "macos-app"

# --- files -----------------------------------------------------------------------------------
EXPORT_DIR = "export"
RESULT_FILE = "sf_bench_result.json"
DONE_FILE = "done"
# the parity bundle, as sf_mobile.parity.bundle writes it (not imported: that module imports torch)
PARITY_DIR = "parity"
PARITY_FILES = ("inputs.safetensors", "reference.safetensors", "parity.json")

# Android: models go where adb can write and apps can read; results go to the app's external
# files dir, the one place the app can write without a permission and adb can still read.
ANDROID_RUNS_ROOT = "/data/local/tmp/sf-mobile"
ANDROID_RESULTS_ROOT = f"/sdcard/Android/data/{ANDROID_PACKAGE}/files/sf-bench"
# intent extras of BenchmarkActivity
EXTRA_FOLDER = "folder"
EXTRA_RESULT_DIR = "result_dir"
EXTRA_REPEATS = "repeats"
EXTRA_WARMUP = "warmup"
EXTRA_RUN_ID = "run_id"

# iOS: relative to the app's data container root (NSHomeDirectory() inside the app)
IOS_RUNS_ROOT = "Documents/sf-bench"

# command-line arguments of the iOS/macOS app in benchmark mode
ARG_FOLDER = "--sf-bench"
ARG_REPEATS = "--repeats"
ARG_WARMUP = "--warmup"
ARG_RESULT_DIR = "--result-dir"
ARG_RUN_ID = "--run-id"
ARG_DELETE_EXPORT = "--delete-export"

# --- devicectl (Xcode 15+) -------------------------------------------------------------------
# NOT RUN HERE: no macOS on the machine that wrote this. The flags follow Apple's
# `xcrun devicectl help <command>` as quoted in public scripts that use them: `list devices
# --json-output FILE`, `device copy to|from --device ID --domain-type appDataContainer
# --domain-identifier BUNDLE --source S --destination D` (container paths relative to the
# container root; copy does not overwrite an existing destination), `device process launch
# --device ID --terminate-existing BUNDLE -- ARGS` (the `--` keeps the app's --flags away from
# devicectl's own parser). Check them with `xcrun devicectl help device copy to` on a Mac.
DEVICECTL = ("xcrun", "devicectl")
DEVICECTL_LIST = (*DEVICECTL, "list", "devices", "--json-output")
DEVICECTL_COPY_TO = (*DEVICECTL, "device", "copy", "to")
DEVICECTL_COPY_FROM = (*DEVICECTL, "device", "copy", "from")
DEVICECTL_LAUNCH = (*DEVICECTL, "device", "process", "launch")
DEVICECTL_TERMINATE_EXISTING = "--terminate-existing"
DEVICECTL_APP_CONTAINER = ("--domain-type", "appDataContainer", "--domain-identifier", IOS_BUNDLE_ID)

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
APP_FIX = "update the demo app to protocol " + PROTOCOL


# --- run ids and paths -----------------------------------------------------------------------
def new_run_id() -> str:
    """A fresh run id: sortable by time, unique by a random tail (two runs in one second)."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def check_run_id(run_id: str) -> str:
    # run ids land inside device shell commands (adb shell joins its words): no spaces, no quoting
    if not RUN_ID_PATTERN.fullmatch(run_id) or run_id in (".", ".."):
        raise SfError(f"run id {run_id!r} is not made of letters, digits, '.', '_' and '-'", "pass a plain run id")
    return run_id


def android_export_dir(run_id: str) -> str:
    return f"{ANDROID_RUNS_ROOT}/{check_run_id(run_id)}/{EXPORT_DIR}"


def android_result_dir(run_id: str) -> str:
    return f"{ANDROID_RESULTS_ROOT}/{check_run_id(run_id)}"


def ios_result_dir(run_id: str) -> str:
    return f"{IOS_RUNS_ROOT}/{check_run_id(run_id)}"


def ios_export_dir(run_id: str) -> str:
    return f"{ios_result_dir(run_id)}/{EXPORT_DIR}"


def app_arguments(folder: str, result_dir: str, repeats: int, warmup: int, run_id: str, delete_export: bool) -> list[str]:
    """The benchmark-mode arguments of the iOS/macOS app, in the order the host passes them."""
    args = [ARG_FOLDER, folder, ARG_REPEATS, str(repeats), ARG_WARMUP, str(warmup)]
    args += [ARG_RESULT_DIR, result_dir, ARG_RUN_ID, check_run_id(run_id)]
    return args + [ARG_DELETE_EXPORT] if delete_export else args


def android_extras(run_id: str, repeats: int, warmup: int) -> list[str]:
    """The `am start` intent extras of BenchmarkActivity."""
    return [
        "--es", EXTRA_FOLDER, android_export_dir(run_id),
        "--es", EXTRA_RESULT_DIR, android_result_dir(run_id),
        "--ei", EXTRA_REPEATS, str(repeats),
        "--ei", EXTRA_WARMUP, str(warmup),
        "--es", EXTRA_RUN_ID, run_id,
    ]  # fmt: skip


def check_counts(repeats: int, warmup: int) -> None:
    if repeats < 1 or warmup < 0:
        raise SfError(f"repeats {repeats} and warmup {warmup} are out of range", "pass --repeats >= 1 and --warmup >= 0")


# --- the export folder -----------------------------------------------------------------------
def export_files(folder: Path) -> list[tuple[Path, str]]:
    """(local file, relative POSIX path) of every file the app needs, the export's files first and
    the parity bundle last. Hidden files (.DS_Store, editors' droppings) stay behind.

    SfError when `folder` is not an export or has no complete parity bundle: without the bundle
    the app can neither check parity nor drive its timed runs."""
    folder = Path(folder)
    read_manifest(folder)
    missing = [name for name in PARITY_FILES if not (folder / PARITY_DIR / name).is_file()]
    if missing:
        raise SfError(
            f"{folder} has no complete parity bundle ({', '.join(f'{PARITY_DIR}/{m}' for m in missing)} missing)",
            "re-run sf-export: it writes the bundle the device app checks itself against",
        )
    files = sorted(
        (path.relative_to(folder).as_posix(), path)
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    in_bundle = [(path, rel) for rel, path in files if PurePosixPath(rel).parts[0] == PARITY_DIR]
    rest = [(path, rel) for rel, path in files if PurePosixPath(rel).parts[0] != PARITY_DIR]
    return rest + in_bundle


# --- the result ------------------------------------------------------------------------------
def read_result(path: Path, backend: str) -> dict:
    """The app's result file, checked: one valid backend entry of kind "device" named `backend`."""
    path = Path(path)
    if not path.is_file():
        raise SfError(f"{backend}: the app wrote no {RESULT_FILE} before its done marker", APP_FIX)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SfError(f"{backend}: the app's {RESULT_FILE} is not valid JSON ({err})", APP_FIX) from None
    validate_backend(entry, f"{backend}: the app's {RESULT_FILE}")
    if entry["kind"] != "device" or entry["name"] != backend:
        raise SfError(
            f"{backend}: the app's {RESULT_FILE} names backend {entry['name']!r} of kind {entry['kind']!r}, "
            f"expected {backend!r} of kind 'device'",
            APP_FIX,
        )
    if entry["device"] is not None and not isinstance(entry["device"], dict):
        raise SfError(f"{backend}: the app's {RESULT_FILE} has a 'device' that is not an object", APP_FIX)
    return entry


def with_device(entry: dict, device: dict) -> dict:
    """`entry` with the host's device facts over the app's own (the host knows serial/model/os
    from the OS tools; the app may add more keys, which are kept)."""
    return validate_backend({**entry, "device": {**(entry["device"] or {}), **device}})

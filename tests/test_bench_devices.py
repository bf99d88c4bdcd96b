"""Device backends of sf-bench, tested up to the device boundary.

Fake `adb`, `xcrun` and macOS tools are small Python scripts put first on PATH: each appends its
argv to a log and answers from a recorded configuration, so the real SubprocessRunner runs and the
exact commands issued are checked, not a mock's view of them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sf_mobile.bench.devices import protocol
from sf_mobile.bench.devices.android import AndroidBackend, parse_devices
from sf_mobile.bench.devices.apple import IOSBackend, MacBackend, choose_ios_device, parse_devicectl_devices
from sf_mobile.bench.devices.commands import RecordingRunner, SubprocessRunner, check_argv, wait_until
from sf_mobile.errors import SfError
from sf_mobile.manifest import MANIFEST_SCHEMA_VERSION
from sf_mobile.reports.schema import METRICS, validate_backend

FIXTURE = Path(__file__).parent / "fixtures" / "bench" / "result_v1.json"
RUN_ID = "run-1"
SERIAL = "R58M123"
EXPORT = f"/data/local/tmp/sf-mobile/{RUN_ID}/export"
RESULTS = f"/sdcard/Android/data/org.sfmobile.demo/files/sf-bench/{RUN_ID}"
ADB = ["adb", "-s", SERIAL]
FILES = [  # the export's files in push order: the export, then the parity bundle
    "chat_template.json",
    "model.pte",
    "sf_manifest.json",
    "tokenizer.json",
    "parity/inputs.safetensors",
    "parity/parity.json",
    "parity/reference.safetensors",
]

ONE_DEVICE = f"List of devices attached\n{SERIAL}               device usb:1-1 product:shiba model:Pixel_8 device:shiba transport_id:3\n\n"
NO_DEVICE = "* daemon not running; starting now at tcp:5037\n* daemon started successfully\nList of devices attached\n\n"
UNAUTHORIZED = f"List of devices attached\n{SERIAL}               unauthorized usb:1-1 transport_id:4\n\n"
OFFLINE = f"List of devices attached\n{SERIAL}               offline transport_id:5\n\n"
NO_PERMISSIONS = (
    "List of devices attached\n0123456789ABCDEF       no permissions (missing udev rules? user is in the plugdev group); "
    "see [http://developer.android.com/tools/device.html] usb:1-1 transport_id:6\n\n"
)
TWO_DEVICES = (
    f"List of devices attached\n{SERIAL}               device usb:1-1 product:shiba model:Pixel_8 transport_id:3\n"
    "emulator-5554          device product:sdk_gphone64_x86_64 model:sdk_gphone64_x86_64 transport_id:1\n\n"
)
AM_OK = (
    "Starting: Intent { cmp=org.sfmobile.demo/.BenchmarkActivity (has extras) }\nStatus: ok\nLaunchState: COLD\n"
    "Activity: org.sfmobile.demo/.BenchmarkActivity\nTotalTime: 412\nWaitTime: 420\nComplete\n"
)
AM_MISSING = (
    "Starting: Intent { cmp=org.sfmobile.demo/.BenchmarkActivity (has extras) }\nError type 3\n"
    "Error: Activity class {org.sfmobile.demo/org.sfmobile.demo.BenchmarkActivity} does not exist.\n"
)

# `xcrun devicectl list devices --json-output` as Xcode 16 writes it (trimmed): an iPhone that is
# reachable, an iPad paired long ago and not around, and this Mac, which devicectl lists too
DEVICECTL_JSON = {
    "info": {"arguments": ["devicectl", "list", "devices", "--json-output", "x.json"], "outcome": "success", "version": "397.21"},
    "result": {
        "devices": [
            {
                "identifier": "4A1E7C2B-0D33-4C8B-9A2E-6F0B8E1D2C3A",
                "capabilities": [],
                "connectionProperties": {"pairingState": "paired", "transportType": "wired", "tunnelState": "disconnected"},
                "deviceProperties": {
                    "bootState": "booted",
                    "developerModeStatus": "enabled",
                    "name": "Test iPhone",
                    "osBuildUpdate": "22B83",
                    "osVersionNumber": "18.1",
                },
                "hardwareProperties": {
                    "deviceType": "iPhone",
                    "marketingName": "iPhone 15 Pro",
                    "platform": "iOS",
                    "productType": "iPhone16,1",
                    "reality": "physical",
                    "udid": "00008130-000A1B2C3D4E5F60",
                },
            },
            {
                "identifier": "9C0B5D1E-2F44-4E6A-8B7C-1D2E3F4A5B6C",
                "connectionProperties": {"pairingState": "paired", "tunnelState": "unavailable"},
                "deviceProperties": {"developerModeStatus": "enabled", "name": "Old iPad", "osVersionNumber": "17.5.1"},
                "hardwareProperties": {
                    "deviceType": "iPad",
                    "platform": "iOS",
                    "productType": "iPad13,4",
                    "reality": "physical",
                    "udid": "00008103-001122334455667E",
                },
            },
            {
                "identifier": "B7D2C1A0-5E6F-4A3B-9C8D-7E6F5A4B3C2D",
                "connectionProperties": {"pairingState": "paired", "tunnelState": "connected"},
                "deviceProperties": {"name": "This Mac", "osVersionNumber": "15.1"},
                "hardwareProperties": {"deviceType": "mac", "platform": "macOS", "reality": "physical", "udid": "0000-MAC"},
            },
        ]
    },
}
IPHONE_ID = "4A1E7C2B-0D33-4C8B-9A2E-6F0B8E1D2C3A"
IOS_RUN = f"Documents/sf-bench/{RUN_ID}"

FAKE_ADB = """
import json, os, shutil, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "adb.log"), "a") as log:
    log.write(json.dumps(["adb"] + sys.argv[1:]) + "\\n")
cfg = json.load(open(os.path.join(here, "adb.json")))
args = sys.argv[1:]
if args[:1] == ["-s"]:
    args = args[2:]
def answer(out="", err="", rc=0):
    sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)
if args == ["devices", "-l"]:
    answer(cfg["devices"])
if args[0] == "push":
    if not os.path.isfile(args[1]):
        answer(err="adb: error: cannot stat '%s'\\n" % args[1], rc=1)
    answer("%s: 1 file pushed, 0 skipped.\\n" % args[1])
if args[0] == "pull":
    if cfg["result"] is None:
        answer(err="adb: error: failed to stat remote object '%s': No such file or directory\\n" % args[1], rc=1)
    shutil.copyfile(cfg["result"], args[2])
    answer("%s: 1 file pulled, 0 skipped.\\n" % args[1])
if args[0] == "shell":
    cmd = args[1:]
    if cmd[0] == "getprop":
        answer(cfg["props"].get(cmd[1], "") + "\\n")
    if cmd[:2] == ["pm", "path"]:
        answer(cfg["pm_path"], rc=0 if cfg["pm_path"] else 1)
    if cmd[:2] == ["am", "start"]:
        answer(cfg["am_start"])
    if cmd[:2] == ["test", "-f"]:
        if cfg.get("poll_error"):
            answer(err=cfg["poll_error"], rc=1)
        counter = os.path.join(here, "adb.polls")
        polls = (int(open(counter).read()) if os.path.exists(counter) else 0) + 1
        open(counter, "w").write(str(polls))
        answer(rc=0 if cfg["done_after"] is not None and polls >= cfg["done_after"] else 1)
    if cmd[:2] in (["am", "force-stop"], ["rm", "-rf"]):
        answer()
answer(err="fake adb: unexpected %r\\n" % (sys.argv,), rc=99)
"""

FAKE_XCRUN = """
import json, os, shutil, sys
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "xcrun.log"), "a") as log:
    log.write(json.dumps(["xcrun"] + sys.argv[1:]) + "\\n")
cfg = json.load(open(os.path.join(here, "xcrun.json")))
args = sys.argv[1:]
def answer(out="", err="", rc=0):
    sys.stdout.write(out); sys.stderr.write(err); sys.exit(rc)
def flag(name):
    return args[args.index(name) + 1]
if args[:3] == ["devicectl", "list", "devices"]:
    with open(flag("--json-output"), "w") as out:
        json.dump(cfg["devices"], out)
    answer("Devices:\\n...\\n")
if args[:4] == ["devicectl", "device", "copy", "to"]:
    answer("Copied 1 file.\\n" if cfg["copy_to_rc"] == 0 else "", "" if cfg["copy_to_rc"] == 0 else cfg["copy_to_error"], cfg["copy_to_rc"])
if args[:4] == ["devicectl", "device", "copy", "from"]:
    source, destination = flag("--source"), flag("--destination")
    if os.path.exists(destination):
        answer(err="ERROR: destination exists\\n", rc=1)
    if source.endswith("/done"):
        counter = os.path.join(here, "xcrun.polls")
        polls = (int(open(counter).read()) if os.path.exists(counter) else 0) + 1
        open(counter, "w").write(str(polls))
        if cfg["done_after"] is None or polls < cfg["done_after"]:
            answer(err="ERROR: The file couldn't be opened because there is no such file.\\n", rc=1)
        open(destination, "w").close()
        answer("Copied 1 file.\\n")
    if cfg["result"] is None:
        answer(err="ERROR: no such file\\n", rc=1)
    shutil.copyfile(cfg["result"], destination)
    answer("Copied 1 file.\\n")
if args[:4] == ["devicectl", "device", "process", "launch"]:
    answer(cfg["launch_out"], cfg["launch_err"], cfg["launch_rc"])
answer(err="fake xcrun: unexpected %r\\n" % (sys.argv,), rc=99)
"""

FAKE_MAC_APP = """
import json, os, shutil, sys, time
here = os.path.dirname(os.path.abspath(__file__))
cfg = json.load(open(os.path.join(here, "app.json")))
with open(cfg["log"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if cfg["sleep"]:
    time.sleep(cfg["sleep"])
if cfg["exit"]:
    sys.stderr.write("fatal: could not load model.pte\\n"); sys.exit(cfg["exit"])
result_dir = sys.argv[sys.argv.index("--result-dir") + 1]
shutil.copyfile(cfg["result"], os.path.join(result_dir, "sf_bench_result.json"))
open(os.path.join(result_dir, "done"), "w").close()
"""


# --- fixtures --------------------------------------------------------------------------------
def write_tool(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    # -S: no site import, so each fake call costs little on a busy machine
    path.write_text(f"#!{sys.executable} -S\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def read_log(path: Path) -> list[list[str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))  # only the fakes: a real adb/xcrun is never reached
    return folder


@pytest.fixture
def export(tmp_path) -> Path:
    folder = tmp_path / "export"
    (folder / "parity").mkdir(parents=True)
    manifest = {"schema_version": MANIFEST_SCHEMA_VERSION, "target": "executorch", "artifacts": [{"path": "model.pte", "sha256": "0" * 64, "bytes": 5}]}
    (folder / "sf_manifest.json").write_text(json.dumps(manifest))
    (folder / "model.pte").write_bytes(b"\0PTE\0")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "chat_template.json").write_text("{}")
    for name in protocol.PARITY_FILES:
        (folder / "parity" / name).write_text("{}")
    (folder / ".DS_Store").write_text("finder droppings stay behind")
    return folder


def device_entry(name: str) -> dict:
    """A result as the demo app would write it: the fixture's ExecuTorch entry, as a device."""
    entry = next(b for b in json.loads(FIXTURE.read_text())["backends"] if b["name"] == "executorch-host")
    return {**entry, "name": name, "kind": "device", "device": {"model": "app guess", "soc": "Tensor G3"}, "roofline": None}


@pytest.fixture
def result_file(tmp_path):
    written = []

    def write(entry: dict | str) -> str:
        written.append(entry)
        path = tmp_path / f"recorded_result_{len(written)}.json"  # one file per call: none overwritten
        path.write_text(entry if isinstance(entry, str) else json.dumps(entry))
        return str(path)

    return write


@pytest.fixture
def adb(bin_dir, result_file):
    """Configure the fake adb; returns a reader of its argv log."""

    def configure(**overrides):
        cfg = {
            "devices": ONE_DEVICE,
            "props": {"ro.product.model": "Pixel 8", "ro.build.version.release": "14"},
            "pm_path": "package:/data/app/~~Xy==/org.sfmobile.demo-1/base.apk\n",
            "am_start": AM_OK,
            "done_after": 3,
            "result": result_file(device_entry("android-adb")),
            "poll_error": None,
        }
        cfg.update(overrides)
        (bin_dir / "adb.json").write_text(json.dumps(cfg))
        write_tool(bin_dir, "adb", FAKE_ADB)
        return lambda: read_log(bin_dir / "adb.log")

    return configure


@pytest.fixture
def xcrun(bin_dir, result_file):
    def configure(**overrides):
        cfg = {
            "devices": DEVICECTL_JSON,
            "copy_to_rc": 0,
            "copy_to_error": "",
            "launch_out": "Launched application with org.sfmobile.demo bundle identifier.\n",
            "launch_err": "",
            "launch_rc": 0,
            "done_after": 2,
            "result": result_file(device_entry("ios-device")),
        }
        cfg.update(overrides)
        (bin_dir / "xcrun.json").write_text(json.dumps(cfg))
        write_tool(bin_dir, "xcrun", FAKE_XCRUN)
        return lambda: read_log(bin_dir / "xcrun.log")

    return configure


def android(**kwargs) -> AndroidBackend:
    return AndroidBackend(poll_interval_s=0.01, **kwargs)


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and text.strip() == text and text
    return text


# --- commands ------------------------------------------------------------------------------
def test_commands_are_argv_lists_never_shell_strings(adb, export, monkeypatch):
    with pytest.raises(TypeError):
        check_argv("adb devices -l")
    with pytest.raises(TypeError):
        RecordingRunner().run("adb devices")
    with pytest.raises(TypeError):
        check_argv([])

    seen = []
    real_run = subprocess.run

    def spy(args, *rest, **kwargs):
        seen.append((args, kwargs.get("shell", False)))
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    adb(done_after=1)
    android().run(export, repeats=3, warmup=1, timeout_s=30, run_id=RUN_ID)
    assert len(seen) >= 10
    assert all(isinstance(args, list) and all(isinstance(w, str) for w in args) and shell is False for args, shell in seen)


def test_recording_runner_keeps_calls_in_order(adb):
    adb()
    runner = RecordingRunner(SubprocessRunner())
    AndroidBackend(runner=runner).availability()
    assert runner.calls == [["adb", "devices", "-l"]]


def test_wait_until_polls_until_true_and_stops_at_the_deadline():
    answers = iter([False, False, True])
    assert wait_until(lambda: next(answers), timeout_s=5, interval_s=0) is True
    now = [0.0]
    calls = []

    def never():
        calls.append(now[0])
        return False

    assert wait_until(never, 10, 3, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)) is False
    assert calls == [0, 3, 6, 9, 10]  # the last look is at the deadline itself


# --- Android: availability -----------------------------------------------------------------
def test_adb_missing(bin_dir):
    assert android().availability() == "adb not found; install Android platform-tools"


@pytest.mark.parametrize(
    ("listing", "serial", "expected"),
    [
        (NO_DEVICE, None, "no Android device attached (adb devices lists none); connect one with USB debugging on"),
        (UNAUTHORIZED, None, f"Android device {SERIAL} is unauthorized; unlock it and accept the USB debugging prompt"),
        (OFFLINE, None, f"Android device {SERIAL} is offline; reconnect the cable or restart adb (adb kill-server)"),
        (NO_PERMISSIONS, None, "adb has no permission to open Android device 0123456789ABCDEF; fix the udev rules"),
        (TWO_DEVICES, None, f"2 Android devices attached: {SERIAL} (device), emulator-5554 (device); pick one with --device SERIAL"),
        (ONE_DEVICE, "other", f"Android device other is not attached (adb devices lists {SERIAL})"),
        (UNAUTHORIZED, SERIAL, f"Android device {SERIAL} is unauthorized"),
    ],
)
def test_android_unavailable_reasons(adb, listing, serial, expected):
    adb(devices=listing)
    reason = android(serial=serial).availability()
    assert reason is not None and reason.startswith(expected) and "\n" not in reason


@pytest.mark.parametrize(("listing", "serial"), [(ONE_DEVICE, None), (TWO_DEVICES, "emulator-5554"), (TWO_DEVICES, SERIAL)])
def test_android_available(adb, listing, serial):
    adb(devices=listing)
    assert android(serial=serial).availability() is None


def test_parse_adb_devices_reads_states_and_details():
    parsed = parse_devices(NO_DEVICE + "\n" + TWO_DEVICES + NO_PERMISSIONS.split("\n", 1)[1])
    assert [(d.serial, d.state) for d in parsed] == [
        (SERIAL, "device"),
        ("emulator-5554", "device"),
        ("0123456789ABCDEF", "no permissions"),
    ]
    assert parsed[0].details["model"] == "Pixel_8"
    assert parse_devices("List of devices attached\nemulator-5554\tdevice\n")[0].state == "device"  # without -l


# --- Android: a run ------------------------------------------------------------------------
def golden_android(export: Path, polls: int, pulled_to: str) -> list[list[str]]:
    return [
        ["adb", "devices", "-l"],
        [*ADB, "shell", "getprop", "ro.product.model"],
        [*ADB, "shell", "getprop", "ro.build.version.release"],
        [*ADB, "shell", "pm", "path", "org.sfmobile.demo"],
        *[[*ADB, "push", str(export / rel), f"{EXPORT}/{rel}"] for rel in FILES],
        [
            *ADB, "shell", "am", "start", "-W", "-S", "-n", "org.sfmobile.demo/.BenchmarkActivity",
            "--es", "folder", EXPORT, "--es", "result_dir", RESULTS,
            "--ei", "repeats", "3", "--ei", "warmup", "1", "--es", "run_id", RUN_ID,
        ],  # fmt: skip
        *[[*ADB, "shell", "test", "-f", f"{RESULTS}/done"]] * polls,
        [*ADB, "pull", f"{RESULTS}/sf_bench_result.json", pulled_to],
        [*ADB, "shell", "rm", "-rf", f"/data/local/tmp/sf-mobile/{RUN_ID}", RESULTS],
    ]


def test_android_run_issues_the_golden_commands_and_returns_a_valid_entry(adb, export):
    log = adb(done_after=3)
    entry = android().run(export, repeats=3, warmup=1, timeout_s=30, run_id=RUN_ID)

    issued = log()
    pulled_to = issued[-2][-1]
    assert pulled_to.endswith("/sf_bench_result.json") and not Path(pulled_to).exists()  # a temp dir, removed
    assert issued == golden_android(export, polls=3, pulled_to=pulled_to)

    assert validate_backend(entry) is entry
    assert (entry["name"], entry["kind"], entry["status"]) == ("android-adb", "device", "ok")
    # the host's facts win over the app's; the app's extra keys stay
    assert entry["device"] == {"serial": SERIAL, "model": "Pixel 8", "os": "Android 14", "soc": "Tensor G3"}
    assert entry["latency"]["metrics"]["decode_tok_s"]["median"] == 245.0


def test_android_commands_match_what_run_issues(adb, export, tmp_path):
    adb()
    planned = android().commands(export, RUN_ID, 3, 1, local_dir=tmp_path / "local")
    assert planned == golden_android(export, polls=1, pulled_to=str(tmp_path / "local" / "sf_bench_result.json"))[1:]


def test_android_app_not_installed_is_found_before_the_push(adb, export):
    log = adb(pm_path="")
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    assert "demo app org.sfmobile.demo is not installed on R58M123" in one_line(err)
    assert "adb -s R58M123 install" in str(err.value)
    assert not any("push" in argv for argv in log())


def test_android_activity_missing_from_am_start(adb, export):
    log = adb(am_start=AM_MISSING)
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    text = one_line(err)
    assert "is not installed" in text and "does not exist" in text and "install the sf-mobile demo app" in text
    assert log()[-1] == [*ADB, "shell", "rm", "-rf", f"/data/local/tmp/sf-mobile/{RUN_ID}", RESULTS]  # cleaned up


def test_android_other_am_error(adb, export):
    adb(am_start="Starting: Intent { cmp=org.sfmobile.demo/.BenchmarkActivity }\nError: Activity not started, unable to resolve Intent\n")
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    assert "am start org.sfmobile.demo/.BenchmarkActivity failed (Error: Activity not started" in one_line(err)


def test_android_timeout_stops_the_app_and_cleans_up(adb, export):
    log = adb(done_after=None)
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, timeout_s=0.3, run_id=RUN_ID)
    text = one_line(err)
    assert "no result from org.sfmobile.demo on R58M123 within 0.3 s" in text and "--timeout" in text
    assert log()[-2:] == [
        [*ADB, "shell", "am", "force-stop", "org.sfmobile.demo"],
        [*ADB, "shell", "rm", "-rf", f"/data/local/tmp/sf-mobile/{RUN_ID}", RESULTS],
    ]


def test_android_device_lost_while_polling(adb, export):
    adb(poll_error=f"error: device '{SERIAL}' not found\n")
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    assert "lost Android device R58M123 during the run" in one_line(err)


def test_android_result_missing(adb, export):
    adb(done_after=1, result=None)
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    text = one_line(err)
    assert "marked the run done but" in text and "sf_bench_result.json" in text


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({**device_entry("android-adb"), "latency": {"metrics": {"tokens_per_joule": {}}}}), "unknown latency metric"),
        (json.dumps(device_entry("ios-device")), "names backend 'ios-device'"),
        (json.dumps({**device_entry("android-adb"), "kind": "host"}), "of kind 'host'"),
    ],
)
def test_android_invalid_result(adb, export, result_file, content, words):
    adb(done_after=1, result=result_file(content))
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    assert words in one_line(err)


def test_android_unavailable_run_and_bad_folder_fail_early(adb, export, tmp_path):
    log = adb(devices=NO_DEVICE)
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    assert "android-adb is unavailable: no Android device attached" in one_line(err)

    adb()
    (export / "parity" / "reference.safetensors").unlink()
    with pytest.raises(SfError) as err:
        android().run(export, 3, 1, 30, run_id=RUN_ID)
    assert "parity/reference.safetensors missing" in one_line(err)
    with pytest.raises(SfError, match="has no sf_manifest.json"):
        android().run(tmp_path, 3, 1, 30)
    assert all(argv == ["adb", "devices", "-l"] for argv in log())  # nothing pushed or started
    with pytest.raises(SfError, match="run id"):
        android().run(export, 3, 1, 30, run_id="a b; reboot")


# --- iOS -----------------------------------------------------------------------------------
def test_parse_recorded_devicectl_json():
    devices = parse_devicectl_devices(DEVICECTL_JSON)
    assert [d.name for d in devices] == ["Test iPhone", "Old iPad"]  # the Mac is left out
    phone = devices[0]
    assert (phone.identifier, phone.udid, phone.model, phone.os_version) == (
        IPHONE_ID,
        "00008130-000A1B2C3D4E5F60",
        "iPhone 15 Pro",
        "18.1",
    )
    assert (phone.paired, phone.developer_mode, phone.tunnel_state) == (True, "enabled", "disconnected")
    assert devices[1].model == "iPad13,4" and devices[1].tunnel_state == "unavailable"
    assert parse_devicectl_devices({"info": {}}) == []


def test_ios_device_choice_and_reasons():
    devices = parse_devicectl_devices(DEVICECTL_JSON)
    phone, ipad = devices
    assert choose_ios_device(devices, None) == (phone, None)  # the unreachable iPad is no candidate
    assert choose_ios_device(devices, "test iphone") == (phone, None)
    assert choose_ios_device(devices, "00008130-000A1B2C3D4E5F60") == (phone, None)
    assert "Old iPad (00008103-001122334455667E) is paired but not reachable" in choose_ios_device(devices, "Old iPad")[1]
    assert "iOS device nope is not in xcrun devicectl list devices" in choose_ios_device(devices, "nope")[1]
    assert choose_ios_device([], None)[1].startswith("no iOS device paired")
    reachable_ipad = parse_devicectl_devices(_with(DEVICECTL_JSON, 1, tunnelState="connected"))
    assert "2 iOS devices reachable" in choose_ios_device(reachable_ipad, None)[1]
    assert "--device UDID" in choose_ios_device(reachable_ipad, None)[1]
    no_dev_mode = parse_devicectl_devices(_with(DEVICECTL_JSON, 0, developerModeStatus="disabled"))
    assert "Developer Mode is off on iOS device Test iPhone" in choose_ios_device(no_dev_mode, None)[1]
    unpaired = parse_devicectl_devices(_with(DEVICECTL_JSON, 0, pairingState="unpaired"))
    assert "is not paired with this Mac" in choose_ios_device(unpaired, None)[1]


def _with(document: dict, index: int, **changes) -> dict:
    doc = json.loads(json.dumps(document))
    device = doc["result"]["devices"][index]
    for key, value in changes.items():
        section = "connectionProperties" if key in ("tunnelState", "pairingState") else "deviceProperties"
        device[section][key] = value
    return doc


def test_ios_unavailable_without_xcrun_or_devices(bin_dir, xcrun):
    reason = IOSBackend().availability()
    assert reason == "xcrun not found; iOS devices need a Mac with Xcode 15 or newer (xcrun devicectl)"
    xcrun(devices={"info": {}, "result": {"devices": []}})
    assert IOSBackend().availability().startswith("no iOS device paired (xcrun devicectl list devices lists none)")


def golden_ios(export: Path, polls: int, local: str) -> list[list[str]]:
    target = ["--device", IPHONE_ID]
    container = ["--domain-type", "appDataContainer", "--domain-identifier", "org.sfmobile.demo"]
    copy_from = ["xcrun", "devicectl", "device", "copy", "from", *target, *container]
    return [
        *[
            ["xcrun", "devicectl", "device", "copy", "to", *target, *container,
             "--source", str(export / rel), "--destination", f"{IOS_RUN}/export/{rel}"]
            for rel in FILES
        ],
        [
            "xcrun", "devicectl", "device", "process", "launch", *target, "--terminate-existing", "org.sfmobile.demo", "--",
            "--sf-bench", f"{IOS_RUN}/export", "--repeats", "3", "--warmup", "1",
            "--result-dir", IOS_RUN, "--run-id", RUN_ID, "--delete-export",
        ],
        *[[*copy_from, "--source", f"{IOS_RUN}/done", "--destination", f"{local}/done"]] * polls,
        [*copy_from, "--source", f"{IOS_RUN}/sf_bench_result.json", "--destination", f"{local}/sf_bench_result.json"],
    ]  # fmt: skip


def test_ios_run_issues_the_golden_commands_and_returns_a_valid_entry(xcrun, export):
    log = xcrun(done_after=2)
    entry = IOSBackend(poll_interval_s=0.01).run(export, repeats=3, warmup=1, timeout_s=30, run_id=RUN_ID)
    issued = log()
    assert issued[0][:5] == ["xcrun", "devicectl", "list", "devices", "--json-output"] and len(issued[0]) == 6
    local = str(Path(issued[-1][-1]).parent)
    assert issued[1:] == golden_ios(export, polls=2, local=local)
    assert validate_backend(entry) is entry and entry["name"] == "ios-device"
    assert entry["device"] == {"serial": "00008130-000A1B2C3D4E5F60", "model": "iPhone 15 Pro", "os": "iOS 18.1", "soc": "Tensor G3"}


def test_ios_commands_match_what_run_issues(xcrun, export, tmp_path):
    xcrun()
    assert IOSBackend().commands(export, RUN_ID, 3, 1, local_dir=tmp_path) == golden_ios(export, 1, str(tmp_path))


def test_ios_errors_are_one_line(xcrun, export):
    xcrun(copy_to_rc=1, copy_to_error="ERROR: The specified application is not installed. (CoreDevice.ActionError error 3.)\n")
    with pytest.raises(SfError) as err:
        IOSBackend(poll_interval_s=0.01).run(export, 3, 1, 30, run_id=RUN_ID)
    assert "not installed" in one_line(err) and "install the sf-mobile demo app" in str(err.value)

    xcrun(launch_rc=1, launch_out="", launch_err="ERROR: The application failed to launch. (FBSOpenApplicationServiceErrorDomain error 1.)\n")
    with pytest.raises(SfError) as err:
        IOSBackend(poll_interval_s=0.01).run(export, 3, 1, 30, run_id=RUN_ID)
    assert "launching org.sfmobile.demo on Test iPhone" in one_line(err)

    xcrun(done_after=None)
    with pytest.raises(SfError) as err:
        IOSBackend(poll_interval_s=0.05).run(export, 3, 1, 0.3, run_id=RUN_ID)
    assert "no result from org.sfmobile.demo on Test iPhone" in one_line(err)


# --- macOS ---------------------------------------------------------------------------------
@pytest.fixture
def mac_app(tmp_path, bin_dir, result_file):
    app = tmp_path / "SF Mobile Demo.app"  # a space, as Xcode names apps: argv lists keep it whole
    macos = app / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    import plistlib

    (app / "Contents" / "Info.plist").write_bytes(plistlib.dumps({"CFBundleExecutable": "SFMobileDemo"}))
    write_tool(bin_dir, "sysctl", "import sys\nprint({'hw.model': 'Mac15,3', 'machdep.cpu.brand_string': 'Apple M3'}[sys.argv[2]])\n")
    write_tool(bin_dir, "sw_vers", "print('15.1')\n")
    log = tmp_path / "app.log"

    def configure(sleep=0, exit=0, result=None):
        cfg = {"log": str(log), "sleep": sleep, "exit": exit, "result": result or result_file(device_entry("macos-app"))}
        (macos / "app.json").write_text(json.dumps(cfg))
        write_tool(macos, "SFMobileDemo", FAKE_MAC_APP)
        return lambda: read_log(log)

    return app, configure


def test_mac_unavailable_off_macos(tmp_path, export):
    assert MacBackend(tmp_path / "X.app", system="Linux").availability() == "the macOS demo app runs only on macOS (this machine runs Linux)"
    if sys.platform.startswith("linux"):
        assert MacBackend(tmp_path / "X.app").availability().startswith("the macOS demo app runs only on macOS")
    assert "no macOS demo app at" in MacBackend(tmp_path / "X.app", system="Darwin").availability()
    assert MacBackend(None, system="Darwin").availability() == "no macOS demo app given; pass the demo app's macOS build with --app PATH.app"
    assert MacBackend(None).availability() is not None  # what sf-bench builds when --app is left out
    with pytest.raises(SfError, match="macos-app is unavailable: the macOS demo app runs only on macOS"):
        MacBackend(tmp_path / "X.app", system="Linux").run(export, 3, 1, 30)


def test_mac_run_in_place(mac_app, export):
    app, configure = mac_app
    log = configure()
    backend = MacBackend(app, system="Darwin")
    assert backend.availability() is None
    entry = backend.run(export, repeats=3, warmup=1, timeout_s=30, run_id=RUN_ID)
    (args,) = log()
    result_dir = args[args.index("--result-dir") + 1]
    assert args == ["--sf-bench", str(export.resolve()), "--repeats", "3", "--warmup", "1", "--result-dir", result_dir, "--run-id", RUN_ID]
    assert "--delete-export" not in args and (export / "model.pte").exists()  # the user's folder is untouched
    assert validate_backend(entry)["name"] == "macos-app"
    assert entry["device"] == {"serial": None, "model": "Mac15,3", "os": "macOS 15.1", "chip": "Apple M3", "soc": "Tensor G3"}
    planned = backend.commands(export, RUN_ID, 3, 1, local_dir=Path(result_dir))
    assert planned[-1] == [str(app / "Contents" / "MacOS" / "SFMobileDemo"), *args]


def test_mac_app_failure_and_timeout(mac_app, export):
    app, configure = mac_app
    configure(exit=3)
    with pytest.raises(SfError) as err:
        MacBackend(app, system="Darwin").run(export, 3, 1, 30, run_id=RUN_ID)
    assert "exited with status 3 without its done marker (fatal: could not load model.pte)" in one_line(err)
    configure(sleep=5)
    with pytest.raises(SfError) as err:
        MacBackend(app, system="Darwin").run(export, 3, 1, 0.5, run_id=RUN_ID)
    assert "gave no result within 0.5 s" in one_line(err)


# --- the protocol --------------------------------------------------------------------------
def test_protocol_docstring_states_the_constants():
    doc = protocol.__doc__
    for value in (
        protocol.PROTOCOL,
        protocol.ANDROID_PACKAGE,
        protocol.ANDROID_ACTIVITY,
        protocol.IOS_BUNDLE_ID,
        protocol.ANDROID_RUNS_ROOT,
        protocol.ANDROID_RESULTS_ROOT,
        protocol.IOS_RUNS_ROOT,
        protocol.RESULT_FILE,
        protocol.DONE_FILE,
        protocol.LOG_TAG,
        protocol.ANDROID_BACKEND,
        protocol.IOS_BACKEND,
        protocol.MAC_BACKEND,
        *protocol.PARITY_FILES,
        *(getattr(protocol, n) for n in dir(protocol) if n.startswith(("ARG_", "EXTRA_"))),
        *METRICS,  # every metric an app may report is named to its developer
    ):
        assert value in doc, value


def test_parity_file_names_match_the_bundle_writer():
    # read bundle.py's constants without importing it (it imports torch)
    source = (Path(protocol.__file__).parents[2] / "parity" / "bundle.py").read_text()
    constants = {
        node.targets[0].id: node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.targets[0], ast.Name)
    }
    assert protocol.PARITY_DIR == constants["BUNDLE_DIR"]
    assert set(protocol.PARITY_FILES) == {constants["INPUTS_FILE"], constants["REFERENCE_FILE"], constants["JSON_FILE"]}


def test_unavailable_entry_matches_the_recorded_result():
    from sf_mobile.bench.entry import unavailable

    recorded = next(b for b in json.loads(FIXTURE.read_text())["backends"] if b["name"] == "android-adb")
    assert validate_backend(unavailable("android-adb", "device", recorded["reason"])) == recorded


def test_run_ids_and_paths():
    assert protocol.check_run_id(protocol.new_run_id())
    for bad in ("", "a b", "../x", "..", "x;rm", "a/b"):
        with pytest.raises(SfError):
            protocol.check_run_id(bad)
    assert protocol.android_export_dir("r") == "/data/local/tmp/sf-mobile/r/export"
    assert protocol.ios_export_dir("r") == "Documents/sf-bench/r/export"
    with pytest.raises(SfError, match="--repeats >= 1"):
        protocol.check_counts(0, 1)


def test_export_files_order_and_hidden_files(export):
    assert [rel for _, rel in protocol.export_files(export)] == FILES

"""The `android-adb` backend: benchmark an export on an Android phone through adb and the demo app.

push the export (and its parity bundle) -> `am start` BenchmarkActivity -> poll for the `done`
marker -> pull sf_bench_result.json -> remove the run's files. The protocol the app implements is
in `protocol.py`; this module only drives adb. Imports without adb installed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sf_mobile.bench.devices.commands import CommandRunner, CommandResult, SubprocessRunner, ToolNotFound, wait_until
from sf_mobile.bench.devices.protocol import (
    ANDROID_ACTIVITY,
    ANDROID_BACKEND,
    ANDROID_PACKAGE,
    ANDROID_RUNS_ROOT,
    APP_FIX,
    DONE_FILE,
    LOG_TAG,
    RESULT_FILE,
    android_export_dir,
    android_extras,
    android_result_dir,
    check_counts,
    check_run_id,
    export_files,
    new_run_id,
    read_result,
    with_device,
)
from sf_mobile.errors import SfError

QUICK_TIMEOUT_S = 60.0  # devices, getprop, pm, am, test, rm: seconds on a healthy device
PULL_TIMEOUT_S = 120.0  # the result is a few KB; the margin is for a slow USB hub
PUSH_FLOOR_BYTES_S = 5e6  # a push slower than 5 MB/s (USB 2 does ~30) is treated as hung
# `adb devices -l` states that are more than one word; single words are read as they come
MULTIWORD_STATES = ("no permissions",)


@dataclass(frozen=True)
class AdbDevice:
    serial: str
    state: str  # "device" when usable; "unauthorized", "offline", "no permissions", ...
    details: dict = field(default_factory=dict)  # -l's key:value words (model, product, transport_id)


def parse_devices(text: str) -> list[AdbDevice]:
    """The devices in `adb devices -l` output (daemon start-up chatter and the header skipped)."""
    devices = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("*") or line.startswith("List of devices"):
            continue
        serial, _, rest = line.partition(" ") if "\t" not in line else line.partition("\t")
        rest = rest.strip()
        state = next((s for s in MULTIWORD_STATES if rest.startswith(s)), rest.split(" ", 1)[0] if rest else "unknown")
        words = rest[len(state) :].split()
        details = dict(word.split(":", 1) for word in words if ":" in word and not word.startswith("["))
        devices.append(AdbDevice(serial, state, details))
    return devices


def state_reason(device: AdbDevice) -> str | None:
    """None when adb can use `device`, else why not and what to do."""
    serial, state = device.serial, device.state
    if state == "device":
        return None
    if state == "unauthorized":
        return f"Android device {serial} is unauthorized; unlock it and accept the USB debugging prompt"
    if state == "offline":
        return f"Android device {serial} is offline; reconnect the cable or restart adb (adb kill-server)"
    if state == "no permissions":
        return (
            f"adb has no permission to open Android device {serial}; "
            "fix the udev rules (developer.android.com/tools/device)"
        )
    return f"Android device {serial} is in state '{state}', not 'device'; boot it normally with USB debugging on"


def choose_device(devices: list[AdbDevice], serial: str | None) -> tuple[str | None, str | None]:
    """(serial to use, None) or (None, reason): `serial` when given, else the only device."""
    if serial is not None:
        match = next((d for d in devices if d.serial == serial), None)
        if match is None:
            listed = ", ".join(d.serial for d in devices) or "none"
            return None, f"Android device {serial} is not attached (adb devices lists {listed})"
        reason = state_reason(match)
        return (None, reason) if reason else (serial, None)
    if not devices:
        return None, "no Android device attached (adb devices lists none); connect one with USB debugging on"
    if len(devices) > 1:
        listed = ", ".join(f"{d.serial} ({d.state})" for d in devices)
        return None, f"{len(devices)} Android devices attached: {listed}; pick one with --device SERIAL"
    reason = state_reason(devices[0])
    return (None, reason) if reason else (devices[0].serial, None)


@dataclass(frozen=True)
class AndroidPlan:
    """Every adb command of one run, in order; `poll` is repeated until it succeeds."""

    device_info: list[list[str]]
    check_installed: list[str]
    push: list[list[str]]
    push_bytes: list[int]
    start: list[str]
    poll: list[str]
    pull: list[str]
    stop: list[str]  # only after a timeout: the app may still be running
    cleanup: list[str]

    def commands(self) -> list[list[str]]:
        return [*self.device_info, self.check_installed, *self.push, self.start, self.poll, self.pull, self.cleanup]


class AndroidBackend:
    """An Android phone over adb. `serial`: the phone to use (required when several are attached)."""

    name = ANDROID_BACKEND
    kind = "device"

    def __init__(self, serial: str | None = None, runner: CommandRunner | None = None, *, poll_interval_s: float = 2.0):
        self.serial = serial
        self.runner = runner or SubprocessRunner()
        self.poll_interval_s = poll_interval_s
        self._chosen: str | None = None

    # --- is it usable ------------------------------------------------------------------------
    def availability(self) -> str | None:
        """None when a usable phone is attached, else a one-line reason with the fix."""
        try:
            listing = self.runner.run(["adb", "devices", "-l"], QUICK_TIMEOUT_S)
        except ToolNotFound:
            return "adb not found; install Android platform-tools"
        except SfError as err:  # a hung adb server
            return f"adb devices did not answer ({err.problem}); restart it with adb kill-server"
        if not listing.ok:
            return f"adb devices failed ({listing.first_line()}); restart it with adb kill-server"
        self._chosen, reason = choose_device(parse_devices(listing.stdout), self.serial)
        return reason

    def _serial(self) -> str:
        if self._chosen is None:
            reason = self.availability()
            if reason:
                raise SfError(f"{self.name} is unavailable: {reason}")
        return self._chosen

    # --- what it will run --------------------------------------------------------------------
    def plan(self, folder: Path, run_id: str, repeats: int, warmup: int, local_dir: Path) -> AndroidPlan:
        check_counts(repeats, warmup)
        adb = ["adb", "-s", self._serial()]
        export, results = android_export_dir(run_id), android_result_dir(run_id)
        files = export_files(folder)
        return AndroidPlan(
            device_info=[adb + ["shell", "getprop", prop] for prop in ("ro.product.model", "ro.build.version.release")],
            check_installed=adb + ["shell", "pm", "path", ANDROID_PACKAGE],
            # one push per file to a full remote file path: `adb push DIR DEST` nests DIR inside
            # DEST or not depending on whether DEST exists; file-to-file has one meaning
            push=[adb + ["push", str(local), f"{export}/{rel}"] for local, rel in files],
            push_bytes=[local.stat().st_size for local, _ in files],
            start=[*adb, "shell", "am", "start", "-W", "-S", "-n", ANDROID_ACTIVITY, *android_extras(run_id, repeats, warmup)],
            poll=adb + ["shell", "test", "-f", f"{results}/{DONE_FILE}"],
            pull=adb + ["pull", f"{results}/{RESULT_FILE}", str(Path(local_dir) / RESULT_FILE)],
            stop=adb + ["shell", "am", "force-stop", ANDROID_PACKAGE],
            cleanup=adb + ["shell", "rm", "-rf", f"{ANDROID_RUNS_ROOT}/{check_run_id(run_id)}", results],
        )

    def commands(
        self, folder: Path, run_id: str, repeats: int, warmup: int, *, local_dir: Path | None = None
    ) -> list[list[str]]:
        """The argv lists of one run after `adb devices -l`, in order (the poll once)."""
        local_dir = local_dir or Path(tempfile.gettempdir()) / f"sf-bench-{run_id}"
        return self.plan(folder, run_id, repeats, warmup, local_dir).commands()

    # --- running it --------------------------------------------------------------------------
    def run(self, folder: Path, repeats: int, warmup: int, timeout_s: float, *, run_id: str | None = None) -> dict:
        """Benchmark `folder` on the phone; the validated backend entry, `device` filled in.
        `timeout_s` bounds the app's run (from its start to its done marker), not the push."""
        run_id = check_run_id(run_id or new_run_id())
        export_files(folder)  # a bad folder fails before adb is touched
        serial = self._serial()
        with tempfile.TemporaryDirectory(prefix="sf-bench-android-") as local:
            plan = self.plan(folder, run_id, repeats, warmup, Path(local))
            device = self._device_info(plan, serial)
            self._check_installed(plan, serial)
            try:
                for argv, size in zip(plan.push, plan.push_bytes):
                    self._must(argv, QUICK_TIMEOUT_S + size / PUSH_FLOOR_BYTES_S, f"pushing {argv[-1]}")
                self._start(plan, serial)
                if not wait_until(lambda: self._poll(plan, serial), timeout_s, self.poll_interval_s):
                    self._quiet(plan.stop)
                    raise SfError(
                        f"{self.name}: no result from {ANDROID_PACKAGE} on {serial} within {timeout_s:g} s "
                        f"(no {plan.poll[-1]})",
                        f"watch the app with adb -s {serial} logcat -s {LOG_TAG}, or allow more time with --timeout",
                    )
                pulled = self._run(plan.pull, PULL_TIMEOUT_S)
                if not pulled.ok:
                    raise SfError(
                        f"{self.name}: the app marked the run done but {plan.pull[-2]} cannot be pulled "
                        f"({pulled.first_line()})",
                        f"the app must write {RESULT_FILE} before {DONE_FILE}; {APP_FIX}",
                    )
                entry = read_result(Path(local) / RESULT_FILE, self.name)
            finally:
                self._quiet(plan.cleanup)  # the export copy can be GBs: never leave it behind
        return with_device(entry, device)

    def _run(self, argv: list[str], timeout_s: float) -> CommandResult:
        return self.runner.run(argv, timeout_s)

    def _must(self, argv: list[str], timeout_s: float, doing: str) -> CommandResult:
        result = self._run(argv, timeout_s)
        if not result.ok:
            raise SfError(
                f"{self.name}: {doing} failed ({result.first_line()})", "check the device is connected and has free space"
            )
        return result

    def _quiet(self, argv: list[str]) -> None:
        try:
            self._run(argv, QUICK_TIMEOUT_S)
        except SfError:
            pass  # clean-up after an error must not hide that error

    def _device_info(self, plan: AndroidPlan, serial: str) -> dict:
        model, release = (
            self._must(argv, QUICK_TIMEOUT_S, f"reading {argv[-1]}").stdout.strip() for argv in plan.device_info
        )
        return {"serial": serial, "model": model or None, "os": f"Android {release}" if release else None}

    def _not_installed(self, serial: str, detail: str) -> SfError:
        return SfError(
            f"{self.name}: the demo app {ANDROID_PACKAGE} is not installed on {serial} ({detail})",
            f"install the sf-mobile demo app: adb -s {serial} install <demo app .apk>",
        )

    def _check_installed(self, plan: AndroidPlan, serial: str) -> None:
        # before the push: copying GBs to find out afterwards would waste minutes
        answer = self._run(plan.check_installed, QUICK_TIMEOUT_S)
        if "package:" not in answer.stdout:
            raise self._not_installed(serial, "pm path lists no package")

    def _start(self, plan: AndroidPlan, serial: str) -> None:
        started = self._run(plan.start, QUICK_TIMEOUT_S)
        # am reports most failures on stdout with exit status 0: read the words, not the status
        lines = [line.strip() for line in (started.stdout + "\n" + started.stderr).splitlines() if line.strip()]
        missing = next((line for line in lines if "does not exist" in line), None)
        if missing:
            raise self._not_installed(serial, f"am start: {missing}")
        error = next((line for line in lines if line.startswith(("Error", "Exception", "java.lang."))), None)
        if error or not started.ok:
            raise SfError(
                f"{self.name}: am start {ANDROID_ACTIVITY} failed ({error or started.first_line()})",
                f"see adb -s {serial} logcat -s {LOG_TAG} ActivityManager",
            )

    def _poll(self, plan: AndroidPlan, serial: str) -> bool:
        answer = self._run(plan.poll, QUICK_TIMEOUT_S)
        if answer.ok:
            return True
        # `test -f` says "no" with a bare non-zero status; adb itself prints "error: ..."
        if "error:" in answer.stderr.lower():
            raise SfError(
                f"{self.name}: lost Android device {serial} during the run ({answer.first_line()})", "reconnect it and run again"
            )
        return False

"""The `ios-device` and `macos-app` backends: the demo app's benchmark mode on Apple hardware.

iOS: `xcrun devicectl` (Xcode 15+) copies the export into the app's data container, launches the
app with the benchmark arguments, and copies the result back once the `done` marker appears.
macOS: the same app's executable is run directly on the export folder. The protocol is in
`protocol.py`. Nothing here was run against a real devicectl (see protocol.DEVICECTL); the
modules import, and the backends report themselves unavailable, without Xcode.
"""

from __future__ import annotations

import json
import os
import platform
import plistlib
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sf_mobile.bench.devices.commands import (
    CommandResult,
    CommandRunner,
    CommandTimeout,
    SubprocessRunner,
    ToolNotFound,
    wait_until,
)
from sf_mobile.bench.devices.protocol import (
    APP_FIX,
    DEVICECTL_APP_CONTAINER,
    DEVICECTL_COPY_FROM,
    DEVICECTL_COPY_TO,
    DEVICECTL_LAUNCH,
    DEVICECTL_LIST,
    DEVICECTL_TERMINATE_EXISTING,
    DONE_FILE,
    IOS_BACKEND,
    IOS_BUNDLE_ID,
    LOG_TAG,
    MAC_BACKEND,
    RESULT_FILE,
    app_arguments,
    check_counts,
    check_run_id,
    export_files,
    ios_export_dir,
    ios_result_dir,
    new_run_id,
    read_result,
    with_device,
)
from sf_mobile.errors import SfError

LIST_TIMEOUT_S = 60.0  # devicectl may wake a wireless tunnel
COPY_TIMEOUT_S = 120.0  # a small file (the marker, the result) through the tunnel
COPY_FLOOR_BYTES_S = 5e6  # slower than this, a copy is treated as hung
LAUNCH_TIMEOUT_S = 120.0
NO_APP_FIX = "pass the demo app's macOS build with --app PATH.app"
INSTALL_FIX = "install the sf-mobile demo app on the device (Xcode > Run), unlock it, and run again"


# --- iOS devices -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IOSDevice:
    identifier: str  # CoreDevice identifier: what --device is given
    udid: str | None
    name: str
    model: str | None  # marketing name ("iPhone 15 Pro"), else product type ("iPhone16,1")
    os_version: str | None
    platform: str
    paired: bool
    developer_mode: str | None  # "enabled" | "disabled" | None (not reported)
    tunnel_state: str | None  # "connected" | "disconnected" (reachable on demand) | "unavailable"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.udid or self.identifier})"


def parse_devicectl_devices(document: dict) -> list[IOSDevice]:
    """The physical iOS/iPadOS devices in `devicectl list devices --json-output` JSON."""
    devices = []
    for raw in (document.get("result") or {}).get("devices") or []:
        hardware = raw.get("hardwareProperties") or {}
        props = raw.get("deviceProperties") or {}
        connection = raw.get("connectionProperties") or {}
        if hardware.get("platform") not in ("iOS", "iPadOS") or hardware.get("reality", "physical") != "physical":
            continue  # Macs, watches, TVs and simulators are listed too
        identifier = raw.get("identifier") or hardware.get("udid")
        if not identifier:
            continue
        devices.append(
            IOSDevice(
                identifier=identifier,
                udid=hardware.get("udid"),
                name=props.get("name") or identifier,
                model=hardware.get("marketingName") or hardware.get("productType"),
                os_version=props.get("osVersionNumber"),
                platform=hardware.get("platform"),
                paired=connection.get("pairingState", "paired") == "paired",
                developer_mode=props.get("developerModeStatus"),
                tunnel_state=connection.get("tunnelState"),
            )
        )
    return devices


def ios_state_reason(device: IOSDevice) -> str | None:
    if not device.paired:
        return (
            f"iOS device {device.label} is not paired with this Mac; "
            "unlock it, tap Trust, and pair it in Xcode > Devices and Simulators"
        )
    if device.developer_mode == "disabled":
        return (
            f"Developer Mode is off on iOS device {device.label}; "
            "turn it on in Settings > Privacy & Security > Developer Mode"
        )
    if device.tunnel_state == "unavailable":
        return (
            f"iOS device {device.label} is paired but not reachable; "
            "unlock it and connect it by cable or to this Mac's network"
        )
    return None


def choose_ios_device(devices: list[IOSDevice], wanted: str | None) -> tuple[IOSDevice | None, str | None]:
    """(device, None) or (None, reason). `wanted` matches the identifier, the UDID or the name."""
    if wanted is not None:
        match = next((d for d in devices if wanted in (d.identifier, d.udid) or d.name.casefold() == wanted.casefold()), None)
        if match is None:
            listed = ", ".join(d.label for d in devices) or "none"
            return None, f"iOS device {wanted} is not in xcrun devicectl list devices (it lists {listed})"
        reason = ios_state_reason(match)
        return (None, reason) if reason else (match, None)
    if not devices:
        return None, (
            "no iOS device paired (xcrun devicectl list devices lists none); connect one, unlock it and trust this Mac"
        )
    # devicectl lists every device ever paired: only the reachable ones are candidates
    reachable = [d for d in devices if d.tunnel_state != "unavailable"]
    if not reachable:
        if len(devices) == 1:
            return None, ios_state_reason(devices[0])
        listed = ", ".join(d.label for d in devices)
        return None, f"no iOS device reachable ({listed} are paired but unavailable); unlock one and connect it"
    if len(reachable) > 1:
        listed = ", ".join(d.label for d in reachable)
        return None, f"{len(reachable)} iOS devices reachable: {listed}; pick one with --device UDID"
    reason = ios_state_reason(reachable[0])
    return (None, reason) if reason else (reachable[0], None)


@dataclass(frozen=True)
class IOSPlan:
    push: list[list[str]]
    push_bytes: list[int]
    launch: list[str]
    poll: list[str]  # copies the done marker back: exit 0 and a local file mean "done"
    pull: list[str]

    def commands(self) -> list[list[str]]:
        return [*self.push, self.launch, self.poll, self.pull]


class IOSBackend:
    """A physical iPhone/iPad through `xcrun devicectl`. `device`: identifier, UDID or name
    (required when several are reachable)."""

    name = IOS_BACKEND
    kind = "device"

    def __init__(self, device: str | None = None, runner: CommandRunner | None = None, *, poll_interval_s: float = 3.0):
        self.device = device
        self.runner = runner or SubprocessRunner()
        self.poll_interval_s = poll_interval_s
        self._chosen: IOSDevice | None = None

    def list_devices(self) -> list[IOSDevice]:
        """The paired iOS devices; SfError (ToolNotFound without Xcode) when devicectl cannot say."""
        with tempfile.TemporaryDirectory(prefix="sf-bench-devicectl-") as tmp:
            out = Path(tmp) / "devices.json"
            listing = self.runner.run([*DEVICECTL_LIST, str(out)], LIST_TIMEOUT_S)
            if not listing.ok or not out.is_file():
                raise SfError(
                    f"xcrun devicectl list devices failed ({listing.first_line()})", "iOS devices need Xcode 15 or newer"
                )
            try:
                document = json.loads(out.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise SfError(f"xcrun devicectl wrote unreadable JSON ({err})", "update Xcode") from None
        return parse_devicectl_devices(document if isinstance(document, dict) else {})

    def availability(self) -> str | None:
        try:
            devices = self.list_devices()
        except ToolNotFound:
            return "xcrun not found; iOS devices need a Mac with Xcode 15 or newer (xcrun devicectl)"
        except SfError as err:
            return str(err)
        self._chosen, reason = choose_ios_device(devices, self.device)
        return reason

    def _device(self) -> IOSDevice:
        if self._chosen is None:
            reason = self.availability()
            if reason:
                raise SfError(f"{self.name} is unavailable: {reason}")
        return self._chosen

    def plan(self, folder: Path, run_id: str, repeats: int, warmup: int, local_dir: Path) -> IOSPlan:
        check_counts(repeats, warmup)
        target = ["--device", self._device().identifier]
        export, results = ios_export_dir(run_id), ios_result_dir(run_id)
        files = export_files(folder)

        def copy_from(source: str) -> list[str]:
            destination = str(Path(local_dir) / PurePosixPath(source).name)
            return [*DEVICECTL_COPY_FROM, *target, *DEVICECTL_APP_CONTAINER, "--source", source, "--destination", destination]

        return IOSPlan(
            push=[
                [*DEVICECTL_COPY_TO, *target, *DEVICECTL_APP_CONTAINER, "--source", str(local), "--destination", f"{export}/{rel}"]
                for local, rel in files
            ],
            push_bytes=[local.stat().st_size for local, _ in files],
            # --delete-export: devicectl offers no delete we rely on, so the app frees the copy
            launch=[
                *DEVICECTL_LAUNCH, *target, DEVICECTL_TERMINATE_EXISTING, IOS_BUNDLE_ID, "--",
                *app_arguments(export, results, repeats, warmup, run_id, delete_export=True),
            ],  # fmt: skip
            poll=copy_from(f"{results}/{DONE_FILE}"),
            pull=copy_from(f"{results}/{RESULT_FILE}"),
        )

    def commands(
        self, folder: Path, run_id: str, repeats: int, warmup: int, *, local_dir: Path | None = None
    ) -> list[list[str]]:
        """The argv lists of one run after `devicectl list devices`, in order (the poll once)."""
        local_dir = local_dir or Path(tempfile.gettempdir()) / f"sf-bench-{run_id}"
        return self.plan(folder, run_id, repeats, warmup, local_dir).commands()

    def run(self, folder: Path, repeats: int, warmup: int, timeout_s: float, *, run_id: str | None = None) -> dict:
        """Benchmark `folder` on the device; the validated backend entry, `device` filled in.
        `timeout_s` bounds the app's run (launch to done marker), not the copy."""
        run_id = check_run_id(run_id or new_run_id())
        export_files(folder)
        device = self._device()
        with tempfile.TemporaryDirectory(prefix="sf-bench-ios-") as tmp:
            local = Path(tmp)
            plan = self.plan(folder, run_id, repeats, warmup, local)
            for argv, size in zip(plan.push, plan.push_bytes):
                copied = self.runner.run(argv, COPY_TIMEOUT_S + size / COPY_FLOOR_BYTES_S)
                if not copied.ok:
                    raise SfError(
                        f"{self.name}: copying {argv[-1]} into {IOS_BUNDLE_ID}'s container failed ({copied.first_line()})",
                        INSTALL_FIX,
                    )
            launched = self.runner.run(plan.launch, LAUNCH_TIMEOUT_S)
            if not launched.ok:
                raise SfError(
                    f"{self.name}: launching {IOS_BUNDLE_ID} on {device.label} failed ({launched.first_line()})", INSTALL_FIX
                )
            if not wait_until(lambda: self._copied(plan.poll, local / DONE_FILE), timeout_s, self.poll_interval_s):
                raise SfError(
                    f"{self.name}: no result from {IOS_BUNDLE_ID} on {device.label} within {timeout_s:g} s "
                    f"(no {plan.poll[-3]})",
                    f"watch the app in Console.app (category {LOG_TAG}), or allow more time with --timeout",
                )
            if not self._copied(plan.pull, local / RESULT_FILE):
                raise SfError(f"{self.name}: the app marked the run done but wrote no {plan.pull[-3]}", APP_FIX)
            entry = read_result(local / RESULT_FILE, self.name)
        os_name = "iPadOS" if device.platform == "iPadOS" else "iOS"
        os_version = f"{os_name} {device.os_version}" if device.os_version else None
        facts = {"serial": device.udid or device.identifier, "model": device.model, "os": os_version}
        return with_device(entry, facts)

    def _copied(self, argv: list[str], local: Path) -> bool:
        local.unlink(missing_ok=True)  # devicectl will not overwrite an existing destination
        result = self.runner.run(argv, COPY_TIMEOUT_S)
        return result.ok and local.is_file()


# --- macOS -----------------------------------------------------------------------------------
class MacBackend:
    """The demo app's macOS build on this Mac. `app`: the .app bundle, or its executable (None:
    not given; the backend then reports itself unavailable and says how to pass it)."""

    name = MAC_BACKEND
    kind = "device"

    def __init__(self, app: Path | None, runner: CommandRunner | None = None, *, system: str | None = None):
        self.app = Path(app) if app is not None else None
        self.runner = runner or SubprocessRunner()
        self.system = system or platform.system()  # a parameter so tests can play macOS

    def executable(self) -> Path:
        """The binary to run: Contents/MacOS/<CFBundleExecutable> of a bundle, or `app` itself."""
        if self.app is None:
            raise SfError("no macOS demo app given", NO_APP_FIX)
        if self.app.is_file():
            return self.app
        info = self.app / "Contents" / "Info.plist"
        try:
            with info.open("rb") as handle:
                name = plistlib.load(handle).get("CFBundleExecutable")
        except (OSError, plistlib.InvalidFileException, ValueError) as err:
            raise SfError(f"{info} cannot be read ({err})", "pass the demo app's .app bundle as built by Xcode") from None
        if not name:
            raise SfError(f"{info} names no CFBundleExecutable", "pass the demo app's .app bundle as built by Xcode")
        return self.app / "Contents" / "MacOS" / name

    def availability(self) -> str | None:
        if self.system != "Darwin":
            return f"the macOS demo app runs only on macOS (this machine runs {self.system})"
        if self.app is None:
            return f"no macOS demo app given; {NO_APP_FIX}"
        if not self.app.exists():
            return f"no macOS demo app at {self.app}; build the demo app's macOS target and pass its .app"
        try:
            binary = self.executable()
        except SfError as err:
            return str(err)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            return f"{binary} is not an executable; rebuild the demo app's macOS target"
        return None

    def commands(
        self, folder: Path, run_id: str, repeats: int, warmup: int, *, local_dir: Path | None = None
    ) -> list[list[str]]:
        """The host facts, then the app run on the folder in place (absolute paths, no copy)."""
        check_counts(repeats, warmup)
        local_dir = local_dir or Path(tempfile.gettempdir()) / f"sf-bench-{run_id}"
        folder, local_dir = Path(folder).resolve(), Path(local_dir).resolve()
        # never --delete-export here: the folder is the user's own export, not a copy
        arguments = app_arguments(str(folder), str(local_dir), repeats, warmup, run_id, delete_export=False)
        return [*self._fact_commands(), [str(self.executable()), *arguments]]

    @staticmethod
    def _fact_commands() -> list[list[str]]:
        return [["sysctl", "-n", "hw.model"], ["sysctl", "-n", "machdep.cpu.brand_string"], ["sw_vers", "-productVersion"]]

    def run(self, folder: Path, repeats: int, warmup: int, timeout_s: float, *, run_id: str | None = None) -> dict:
        run_id = check_run_id(run_id or new_run_id())
        export_files(folder)
        reason = self.availability()
        if reason:
            raise SfError(f"{self.name} is unavailable: {reason}")
        with tempfile.TemporaryDirectory(prefix="sf-bench-mac-") as tmp:
            local = Path(tmp)
            *facts_argv, app_argv = self.commands(folder, run_id, repeats, warmup, local_dir=local)
            model, chip, version = (self._fact(argv) for argv in facts_argv)
            try:
                finished = self.runner.run(app_argv, timeout_s)
            except CommandTimeout:
                raise SfError(
                    f"{self.name}: the demo app gave no result within {timeout_s:g} s (it was stopped)",
                    f"run it by hand with the same arguments and watch Console.app (category {LOG_TAG}), "
                    "or allow more time with --timeout",
                ) from None
            if not (local / DONE_FILE).is_file():
                raise SfError(
                    f"{self.name}: the demo app exited with status {finished.returncode} without its done marker "
                    f"({finished.first_line()})",
                    f"run {app_argv[0]} by hand with the same arguments to see why; {APP_FIX}",
                )
            entry = read_result(local / RESULT_FILE, self.name)
        facts = {"serial": None, "model": model, "os": f"macOS {version}" if version else None, "chip": chip}
        return with_device(entry, facts)

    def _fact(self, argv: list[str]) -> str | None:
        # a missing fact is not worth failing a benchmark over
        try:
            result: CommandResult = self.runner.run(argv, LIST_TIMEOUT_S)
        except SfError:
            return None
        return (result.stdout.strip() or None) if result.ok else None

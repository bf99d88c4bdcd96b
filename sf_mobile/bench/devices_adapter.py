"""Device backends (sf_mobile/bench/devices) as sf-bench entries: unavailable with the reason when
no device or tool is there, failed with the error when a run breaks, else the device's own entry."""

from __future__ import annotations

from sf_mobile.bench.context import BenchContext
from sf_mobile.bench.entry import failed, unavailable
from sf_mobile.errors import SfError
from sf_mobile.reports.schema import validate_backend

NAMES = ("android-adb", "ios-device", "macos-app")


def _device_backend(name: str, ctx: BenchContext):
    if name == "android-adb":
        from sf_mobile.bench.devices.android import AndroidBackend

        return AndroidBackend(serial=ctx.settings.device)
    if name == "ios-device":
        from sf_mobile.bench.devices.apple import IOSBackend

        return IOSBackend(device=ctx.settings.device)
    from sf_mobile.bench.devices.apple import MacBackend

    return MacBackend(app=ctx.settings.app)


def evaluate(name: str, ctx: BenchContext) -> dict:
    backend = _device_backend(name, ctx)
    reason = backend.availability()
    if reason is not None:
        return unavailable(name, "device", reason)
    ctx.report(f"{name}: running on the device")
    try:
        return validate_backend(
            backend.run(ctx.folder, ctx.settings.repeats, ctx.settings.warmup, ctx.settings.timeout_s), f"{name} result"
        )
    except SfError as err:
        return failed(name, "device", str(err))

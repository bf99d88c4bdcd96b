import Darwin
import Foundation

/// The device facts the app writes into the result's `device` (the host overwrites serial,
/// model and os with what devicectl / sysctl say, and keeps the other keys).
enum DeviceInfo {
    /// "ios-device" on iPhone/iPad, "macos-app" on a Mac (protocol.py section 5).
    static var backendName: String {
        #if os(macOS)
        return BenchResult.macBackend
        #else
        return BenchResult.iosBackend
        #endif
    }

    static var isMac: Bool {
        #if os(macOS)
        return true
        #else
        return false
        #endif
    }

    static func facts(compute: ComputePlan?) -> [String: JSONValue] {
        var facts: [String: JSONValue] = [
            "model": .string(modelIdentifier()),
            "os": .string(osName()),
            "app": .string(appVersion()),
        ]
        if let chip = sysctlString("machdep.cpu.brand_string") {
            facts["chip"] = .string(chip)
        }
        if let compute {
            facts["compute_units"] = .string(compute.summary)
        }
        return facts
    }

    /// "iPhone16,1" (hw.machine on iOS) or "Mac15,3" (hw.model on macOS).
    static func modelIdentifier() -> String {
        #if os(macOS)
        return sysctlString("hw.model") ?? "Mac"
        #else
        if let simulated = ProcessInfo.processInfo.environment["SIMULATOR_MODEL_IDENTIFIER"] {
            return simulated + " (simulator)"
        }
        return sysctlString("hw.machine") ?? "iOS device"
        #endif
    }

    /// "iOS 18.2" / "macOS 15.1.1"
    static func osName() -> String {
        let version = ProcessInfo.processInfo.operatingSystemVersion
        let number = version.patchVersion > 0
            ? "\(version.majorVersion).\(version.minorVersion).\(version.patchVersion)"
            : "\(version.majorVersion).\(version.minorVersion)"
        #if os(macOS)
        return "macOS \(number)"
        #else
        return "iOS \(number)"
        #endif
    }

    static func appVersion() -> String {
        let info = Bundle.main.infoDictionary ?? [:]
        let version = info["CFBundleShortVersionString"] as? String ?? "?"
        let build = info["CFBundleVersion"] as? String ?? "?"
        return "SFMobileDemo \(version) (\(build))"
    }

    static func sysctlString(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &buffer, &size, nil, 0) == 0 else { return nil }
        let value = String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
        return value.isEmpty ? nil : value
    }
}

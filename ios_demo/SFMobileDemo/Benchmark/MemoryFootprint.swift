import Darwin
import Foundation

/// Peak memory of this process as Apple's memory limits count it: the phys_footprint ledger's
/// high-water mark (TASK_VM_INFO ledger_phys_footprint_peak), i.e. the number jetsam compares
/// with the app's limit on iOS. The peak covers the process's whole life, so it includes the UI
/// and every model load before the measured run.
enum MemoryFootprint {
    static let method = "task_info phys_footprint high-water mark (TASK_VM_INFO ledger_phys_footprint_peak), whole app process"

    /// (peak, current) in bytes; nil when the kernel refuses the query.
    static func read() -> (peak: UInt64, current: UInt64)? {
        var info = task_vm_info_data_t()
        // TASK_VM_INFO_COUNT is a C macro Swift does not import: the struct size in natural_t units.
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let status = withUnsafeMutablePointer(to: &info) { pointer in
            pointer.withMemoryRebound(to: integer_t.self, capacity: Int(count)) { raw in
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), raw, &count)
            }
        }
        guard status == KERN_SUCCESS else { return nil }
        let current = UInt64(info.phys_footprint)
        // Kernels that do not fill the ledger fields leave the peak at 0: fall back to now.
        let peak = max(UInt64(clamping: info.ledger_phys_footprint_peak), current)
        return (peak, current)
    }

    /// The peak in MiB, one decimal, or nil.
    static func peakMiB() -> Double? {
        guard let peak = read()?.peak else { return nil }
        return Rounding.decimals(Double(peak) / 1_048_576, 1)
    }
}

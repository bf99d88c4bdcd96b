package org.sfmobile.demo.bench

import java.io.File

/** Peak resident memory of this process (protocol.py 4d: Android reads VmHWM from /proc/self/status). */
object MemoryProbe {
    const val METHOD = "VmHWM from /proc/self/status"

    /** VmHWM in MiB from the text of /proc/<pid>/status; null when the line is absent. */
    fun parseVmHwmMib(status: String): Double? {
        val line = status.lineSequence().firstOrNull { it.startsWith("VmHWM:") } ?: return null
        val parts = line.removePrefix("VmHWM:").trim().split(Regex("\\s+"))
        val value = parts.getOrNull(0)?.toDoubleOrNull() ?: return null
        val kib = when (parts.getOrNull(1)?.lowercase()) {
            "kb", null -> value
            "mb" -> value * 1024
            "gb" -> value * 1024 * 1024
            else -> return null
        }
        return kib / 1024.0
    }

    fun peakRss(statusFile: File = File("/proc/self/status")): Memory {
        val mib = try {
            parseVmHwmMib(statusFile.readText())
        } catch (e: Exception) {
            null
        }
        return if (mib != null) Memory(PyNumbers.round(mib, 1), METHOD) else Memory(null, "$METHOD (unreadable)")
    }
}

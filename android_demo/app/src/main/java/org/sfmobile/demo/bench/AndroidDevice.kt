package org.sfmobile.demo.bench

import android.os.Build
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import org.sfmobile.demo.engine.EngineFactory

/** The result's "device": what the app knows about the phone (the host overwrites serial/model/os, keeps the rest). */
object AndroidDevice {
    fun facts(): JsonObject {
        val facts = linkedMapOf(
            "model" to JsonPrimitive(Build.MODEL),
            "manufacturer" to JsonPrimitive(Build.MANUFACTURER),
            "os" to JsonPrimitive("Android ${Build.VERSION.RELEASE}"),
            "sdk" to JsonPrimitive(Build.VERSION.SDK_INT),
            "abi" to JsonPrimitive(Build.SUPPORTED_ABIS.firstOrNull() ?: "unknown"),
        )
        EngineFactory.deviceSoc()?.let { facts["soc"] = JsonPrimitive(it) }
        return JsonObject(facts)
    }
}

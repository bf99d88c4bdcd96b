package org.sfmobile.demo.engine

import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtException
import ai.onnxruntime.OrtSession
import android.system.Os
import java.io.File
import org.sfmobile.demo.export.ExportError

/**
 * Qualcomm's QNN execution provider for ONNX Runtime, a plugin since onnxruntime-qnn 2.x
 * (shared/notes/qnn-htp.md): the library is registered with the environment once per process,
 * the NPU is picked from the environment's EP devices, and sessions are created with CPU fallback
 * disabled, so a node HTP cannot run fails the session instead of running quietly on the CPU.
 * The same calls as sf_mobile/runtimes/qnn.py htp_session_options, in the Java API.
 */
object QnnProvider {
    const val EP_NAME = "QNNExecutionProvider"
    private const val PLUGIN_LIBRARY = "libonnxruntime_providers_qnn.so" // from com.qualcomm.qti:onnxruntime-android-qnn
    private const val HTP_BACKEND = "libQnnHtp.so" // from com.qualcomm.qti:qnn-runtime

    @Volatile
    private var registered = false

    /**
     * Registers the plugin (the APK's extracted native libs, see useLegacyPackaging) and points the
     * DSP loader at the same folder: without ADSP_LIBRARY_PATH, FastRPC loads the vendor
     * partition's HTP skeleton, whose QAIRT version need not match the stub in the APK.
     */
    @Synchronized
    fun register(env: OrtEnvironment, nativeLibraryDir: String) {
        if (registered) return
        val plugin = File(nativeLibraryDir, PLUGIN_LIBRARY)
        if (!plugin.isFile) {
            throw ExportError("$PLUGIN_LIBRARY is not among the app's native libraries (QNN ships for arm64-v8a only)")
        }
        Os.setenv("ADSP_LIBRARY_PATH", "$nativeLibraryDir;/vendor/dsp/cdsp;/vendor/lib/rfsa/adsp;/system/lib/rfsa/adsp;/dsp", true)
        try {
            env.registerExecutionProviderLibrary(EP_NAME, plugin.absolutePath)
        } catch (e: OrtException) {
            throw ExportError("cannot register the QNN execution provider: ${e.message}", e)
        }
        registered = true
    }

    /**
     * Session options running every node on the HTP of the SoC `socModel` (QNN's id: 43 = SM8550,
     * 57 = SM8650, 69 = SM8750, 87 = SM8850; the manifest's soc_model of the compiled graphs).
     */
    fun sessionOptions(env: OrtEnvironment, nativeLibraryDir: String, socModel: Int): OrtSession.SessionOptions {
        register(env, nativeLibraryDir)
        // OrtEpDevice.getEpName() (the plugin-EP Java API's first cut, Aug 2025, called it getName())
        val devices = env.epDevices.filter { it.epName == EP_NAME }
        if (devices.isEmpty()) throw ExportError("the QNN execution provider found no Hexagon NPU on this phone")
        val options = OrtSession.SessionOptions()
        options.addConfigEntry("session.disable_cpu_ep_fallback", "1")
        options.addExecutionProvider(
            devices,
            mapOf(
                "backend_path" to File(nativeLibraryDir, HTP_BACKEND).absolutePath,
                "soc_model" to socModel.toString(),
                // benchmark numbers are peak numbers: the HTP clocks stay up between calls
                "htp_performance_mode" to "burst",
            ),
        )
        return options
    }
}

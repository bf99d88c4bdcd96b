package org.sfmobile.demo.bench

import android.content.Context
import android.os.Bundle
import android.util.Log
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import org.sfmobile.demo.engine.EngineFactory

/**
 * Holds the one benchmark run of BenchmarkActivity: started once per process launch (a
 * configuration change re-creates the activity, not the run), on a background dispatcher.
 */
class BenchmarkViewModel : ViewModel() {
    private val line = MutableStateFlow("sf-bench: starting")
    val progress: StateFlow<String> = line
    private var started = false

    fun start(context: Context, extras: Bundle?) {
        if (started) return
        started = true
        val app = context.applicationContext
        viewModelScope.launch(Dispatchers.Default) {
            val device = AndroidDevice.facts()
            val args = try {
                BenchmarkArguments.parse { key -> extra(extras, key) }
            } catch (e: BenchmarkArguments.Invalid) {
                log("bad arguments: ${e.reason}")
                e.resultDir?.let { dir ->
                    ResultWriter.write(dir, BackendEntry(name = BackendEntry.ANDROID_NAME, status = BackendEntry.STATUS_FAILED, reason = e.reason, device = device))
                    log("done")
                }
                return@launch
            }
            try {
                val runner = BenchmarkRunner(openEngine = { folder -> EngineFactory.open(app, folder) }, device = device, log = ::log)
                val entry = runner.run(args)
                log("finished: ${entry.status}")
            } catch (e: Throwable) {
                // only writing the result itself can fail here: nothing more can be told to the host
                Log.e(TAG, "cannot write the result to ${args.resultDir.path}", e)
                line.value = "sf-bench: cannot write the result (${e.message})"
            }
        }
    }

    private fun log(message: String) {
        Log.i(TAG, message)
        line.value = "sf-bench: $message"
    }

    @Suppress("DEPRECATION") // Bundle.get(String): the typed getters cannot tell --ei from --es
    private fun extra(extras: Bundle?, key: String): Any? = extras?.get(key)

    companion object {
        /** logcat tag of benchmark mode (protocol.py LOG_TAG): adb logcat -s SfBench */
        const val TAG = "SfBench"
    }
}

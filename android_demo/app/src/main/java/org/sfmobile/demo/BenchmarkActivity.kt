package org.sfmobile.demo

import android.os.Bundle
import android.view.WindowManager
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.sfmobile.demo.bench.BenchmarkViewModel

/**
 * Benchmark mode for `sf-bench --backend android-adb` (sf_mobile/bench/devices/protocol.py): started
 * by `am start` with the extras folder / result_dir / repeats / warmup / run_id, it runs the export's
 * parity bundle and timed repeats, writes RESULT/sf_bench_result.json and then RESULT/done. No
 * dialogs, no input: one progress line, also logged under the tag SfBench.
 */
class BenchmarkActivity : ComponentActivity() {
    private val run: BenchmarkViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // a sleeping phone throttles and may kill the run: keep the screen on while it is shown
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        run.start(this, intent.extras)
        setContent {
            MaterialTheme {
                Surface(modifier = Modifier.fillMaxSize()) {
                    val line by run.progress.collectAsStateWithLifecycle()
                    Text(text = line, modifier = Modifier.padding(16.dp), style = MaterialTheme.typography.bodyLarge)
                }
            }
        }
    }
}

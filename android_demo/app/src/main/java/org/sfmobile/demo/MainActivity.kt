package org.sfmobile.demo

import android.net.Uri
import android.os.Bundle
import android.provider.OpenableColumns
import androidx.activity.ComponentActivity
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.compose.setContent
import androidx.activity.result.contract.ActivityResultContracts
import androidx.activity.viewModels
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.runtime.getValue
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import org.sfmobile.demo.ui.DemoScreen
import org.sfmobile.demo.ui.DemoViewModel

/** The interactive demo. Benchmark mode is BenchmarkActivity. */
class MainActivity : ComponentActivity() {
    private val demo: DemoViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme {
                Surface {
                    val state by demo.state.collectAsStateWithLifecycle()
                    // the system document picker: no storage permission, any provider (files, photos, drive)
                    val pickVideo = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocument()) { uri: Uri? ->
                        if (uri != null) demo.setVideo(uri, displayName(uri))
                    }
                    DemoScreen(
                        state = state,
                        exportsHint = demo.exportsDir.absolutePath,
                        onExportPath = demo::setExportPath,
                        onLoad = demo::loadExport,
                        onRefresh = demo::refreshCandidates,
                        onPickVideo = { pickVideo.launch(arrayOf("video/*")) },
                        onQuestion = demo::setQuestion,
                        onMaxTokens = demo::setMaxNewTokens,
                        onAsk = demo::ask,
                        onStop = demo::stop,
                    )
                }
            }
        }
    }

    private fun displayName(uri: Uri): String =
        contentResolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { c ->
            if (c.moveToFirst()) c.getString(0) else null
        } ?: uri.lastPathSegment ?: uri.toString()
}

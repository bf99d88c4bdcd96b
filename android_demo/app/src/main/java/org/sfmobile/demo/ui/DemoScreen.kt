package org.sfmobile.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.AssistChip
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp

/** The demo screen: export folder, video, question, streamed answer and its numbers. */
@Composable
fun DemoScreen(
    state: DemoState,
    exportsHint: String,
    onExportPath: (String) -> Unit,
    onLoad: () -> Unit,
    onRefresh: () -> Unit,
    onPickVideo: () -> Unit,
    onQuestion: (String) -> Unit,
    onMaxTokens: (String) -> Unit,
    onAsk: () -> Unit,
    onStop: () -> Unit,
) {
    Column(
        modifier = Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text("sf-mobile: SlowFast-LLaVA on device", style = MaterialTheme.typography.titleLarge)

        Text("Export folder (written by sf-export; adb push it to $exportsHint/<name>)", style = MaterialTheme.typography.labelLarge)
        OutlinedTextField(
            value = state.exportPath,
            onValueChange = onExportPath,
            singleLine = true,
            label = { Text("path on the phone") },
            modifier = Modifier.fillMaxWidth(),
        )
        if (state.exportCandidates.isNotEmpty()) {
            Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
                for (path in state.exportCandidates) {
                    AssistChip(onClick = { onExportPath(path) }, label = { Text(path.substringAfterLast('/')) })
                }
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = onLoad, enabled = !state.busy) { Text("Load") }
            OutlinedButton(onClick = onRefresh, enabled = !state.busy) { Text("Rescan") }
        }
        state.engineSummary?.let { summary ->
            Text(summary + (state.loadMs?.let { "  (loaded in ${fmt(it, 0)} ms)" } ?: ""), style = MaterialTheme.typography.bodyMedium)
        }

        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = onPickVideo, enabled = !state.busy) { Text("Pick video") }
            Text(state.videoLabel ?: "no video", modifier = Modifier.padding(top = 12.dp))
        }
        OutlinedTextField(
            value = state.question,
            onValueChange = onQuestion,
            label = { Text("question") },
            modifier = Modifier.fillMaxWidth(),
        )
        OutlinedTextField(
            value = state.maxNewTokens.toString(),
            onValueChange = onMaxTokens,
            singleLine = true,
            label = { Text("max new tokens") },
        )
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = onAsk, enabled = state.loaded && state.videoUri != null && !state.busy) { Text("Ask") }
            OutlinedButton(onClick = onStop, enabled = state.busy) { Text("Stop") }
        }
        if (state.busy) LinearProgressIndicator(modifier = Modifier.fillMaxWidth())
        state.status?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
        state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }

        Card(modifier = Modifier.fillMaxWidth()) {
            Text(state.answer.ifEmpty { " " }, modifier = Modifier.padding(12.dp), style = MaterialTheme.typography.bodyLarge)
        }
        Metrics(state)
    }
}

@Composable
private fun Metrics(state: DemoState) {
    val lines = listOfNotNull(
        state.frames?.let { n -> "frames: $n" + (state.frameDecodeMs?.let { " (decoded in ${fmt(it, 0)} ms)" } ?: "") },
        state.visualTokens?.let { "visual tokens: $it" },
        state.promptTokens?.let { "prompt tokens: $it" },
        state.ttftMs?.let { "time to first token: ${fmt(it, 0)} ms" },
        state.prefillTokS?.let { "prefill: ${fmt(it, 1)} tok/s" },
        state.decodeTokS?.let { "decode: ${fmt(it, 1)} tok/s" },
        state.generatedTokens?.let { "generated tokens: $it" },
    )
    Column(verticalArrangement = Arrangement.spacedBy(2.dp)) {
        for (line in lines) Text(line, style = MaterialTheme.typography.bodyMedium)
    }
}

private fun fmt(value: Double, decimals: Int): String = "%.${decimals}f".format(value)

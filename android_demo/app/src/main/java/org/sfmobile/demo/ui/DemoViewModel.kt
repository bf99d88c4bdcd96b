package org.sfmobile.demo.ui

import android.app.Application
import android.net.Uri
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import java.io.File
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.sfmobile.demo.bench.BenchmarkRunner
import org.sfmobile.demo.engine.Engine
import org.sfmobile.demo.engine.EngineFactory
import org.sfmobile.demo.export.ExportFolder
import org.sfmobile.demo.generation.GenerationEvent
import org.sfmobile.demo.generation.Generator
import org.sfmobile.demo.text.BpeTokenizer
import org.sfmobile.demo.text.PromptBuilder
import org.sfmobile.demo.video.FrameReader
import org.sfmobile.demo.video.Preprocess
import org.sfmobile.demo.video.VisualTokenBudget

/** Everything the demo screen shows. */
data class DemoState(
    val exportPath: String = "",
    val exportCandidates: List<String> = emptyList(),
    val engineSummary: String? = null,
    val loadMs: Double? = null,
    val loaded: Boolean = false,
    val videoUri: Uri? = null,
    val videoLabel: String? = null,
    val question: String = "Describe what happens in the video.",
    val maxNewTokens: Int = 128,
    val answer: String = "",
    val busy: Boolean = false,
    val status: String? = null,
    val error: String? = null,
    val frames: Int? = null,
    val frameDecodeMs: Double? = null,
    val visualTokens: Int? = null,
    val promptTokens: Int? = null,
    val ttftMs: Double? = null,
    val prefillTokS: Double? = null,
    val decodeTokS: Double? = null,
    val generatedTokens: Int? = null,
)

/**
 * The demo: load an export folder (the engine its manifest names), pick a video, ask; the answer
 * streams in with time to first token and tokens/s. Models load and run off the main thread.
 */
class DemoViewModel(app: Application) : AndroidViewModel(app) {
    private val _state = MutableStateFlow(DemoState())
    val state: StateFlow<DemoState> = _state

    private var folder: ExportFolder? = null
    private var engine: Engine? = null
    private var generator: Generator? = null
    private var job: Job? = null

    private class Loaded(val folder: ExportFolder, val engine: Engine, val prompt: PromptBuilder, val summary: String, val loadMs: Double)

    /** Where to `adb push` exports for the demo: readable by the app without any permission. */
    val exportsDir: File = File(app.getExternalFilesDir(null), "exports")

    init {
        exportsDir.mkdirs()
        refreshCandidates()
    }

    fun refreshCandidates() {
        val found = exportsDir.listFiles()
            ?.filter { File(it, ExportFolder.MANIFEST_FILE).isFile }
            ?.map { it.absolutePath }
            ?.sorted()
            .orEmpty()
        _state.update { it.copy(exportCandidates = found, exportPath = it.exportPath.ifEmpty { found.firstOrNull() ?: "" }) }
    }

    fun setExportPath(path: String) = _state.update { it.copy(exportPath = path) }
    fun setQuestion(text: String) = _state.update { it.copy(question = text) }
    fun setMaxNewTokens(text: String) = _state.update { s -> s.copy(maxNewTokens = text.toIntOrNull()?.coerceIn(1, 4096) ?: s.maxNewTokens) }
    fun setVideo(uri: Uri?, label: String?) = _state.update { it.copy(videoUri = uri, videoLabel = label) }

    fun loadExport() {
        val path = _state.value.exportPath.trim()
        if (path.isEmpty() || _state.value.busy) return
        job = viewModelScope.launch {
            _state.update { it.copy(busy = true, error = null, status = "loading $path", loaded = false, engineSummary = null) }
            try {
                val loaded = withContext(Dispatchers.IO) {
                    release()
                    val export = ExportFolder.open(File(path))
                    val plan = EngineFactory.plan(export)
                    val prompt = PromptBuilder.of(export.manifest, BpeTokenizer.load(export.tokenizerFile))
                    val t0 = System.nanoTime()
                    val opened = EngineFactory.open(getApplication<Application>(), export, plan)
                    Loaded(export, opened, prompt, plan.summary, (System.nanoTime() - t0) / 1e6)
                }
                folder = loaded.folder
                engine = loaded.engine
                generator = Generator(loaded.engine, loaded.prompt)
                val m = loaded.folder.manifest
                _state.update {
                    it.copy(
                        busy = false, loaded = true, loadMs = loaded.loadMs, status = null,
                        engineSummary = "${loaded.summary}: ${m.preset}, ${m.quantizationText("llm") ?: m.backend}, " +
                            "${m.frameGeometry.frames} frames x ${m.frameGeometry.width} px, context ${m.maxContext}",
                    )
                }
            } catch (e: Throwable) {
                _state.update { it.copy(busy = false, status = null, error = BenchmarkRunner.oneLine(e)) }
            }
        }
    }

    fun ask() {
        val s = _state.value
        val gen = generator ?: return
        val export = folder ?: return
        val uri = s.videoUri ?: return
        if (s.busy) return
        job = viewModelScope.launch {
            _state.update {
                it.copy(busy = true, error = null, answer = "", status = "reading frames", ttftMs = null, prefillTokS = null, decodeTokS = null, generatedTokens = null)
            }
            try {
                val m = export.manifest
                val sampled = withContext(Dispatchers.IO) {
                    FrameReader(getApplication<Application>()).read(uri, m.frameGeometry.frames, m.frameGeometry.width, Preprocess.ResizeMode.parse(m.config.vision.resize))
                }
                _state.update {
                    it.copy(
                        frames = sampled.frames.count, frameDecodeMs = sampled.decodeMs, status = "thinking",
                        visualTokens = VisualTokenBudget.of(m.config, sampled.frames.count).total,
                    )
                }
                gen.generate(sampled.frames, s.question, s.maxNewTokens).collect { event ->
                    when (event) {
                        is GenerationEvent.Started -> _state.update { it.copy(promptTokens = event.promptTokens, visualTokens = event.visualTokens) }
                        is GenerationEvent.Token -> _state.update { it.copy(answer = it.answer + event.text, status = null) }
                        is GenerationEvent.Finished -> _state.update {
                            it.copy(
                                busy = false, status = "stopped: ${event.stopReason.name.lowercase().replace('_', ' ')}",
                                ttftMs = event.stats.timeToFirstTokenMs,
                                prefillTokS = event.stats.prefillTokPerS.takeIf { v -> v.isFinite() },
                                decodeTokS = event.stats.decodeTokPerS.takeIf { v -> v.isFinite() },
                                generatedTokens = event.stats.generatedTokens,
                            )
                        }
                    }
                }
            } catch (e: kotlinx.coroutines.CancellationException) {
                _state.update { it.copy(busy = false, status = "stopped") }
                throw e
            } catch (e: Throwable) {
                _state.update { it.copy(busy = false, status = null, error = BenchmarkRunner.oneLine(e)) }
            }
        }
    }

    fun stop() {
        job?.cancel()
    }

    private fun release() {
        generator = null
        engine?.close()
        engine = null
        folder = null
    }

    override fun onCleared() {
        job?.cancel()
        release()
    }
}

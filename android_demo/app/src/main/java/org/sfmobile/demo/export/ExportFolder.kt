package org.sfmobile.demo.export

import java.io.File
import java.io.IOException

/** A problem with an export folder or its use, worded for one line of UI or of a result file. */
class ExportError(message: String, cause: Throwable? = null) : Exception(message, cause)

/** Which engine runs an export, decided from the manifest's target and backend alone. */
sealed interface EnginePlan {
    val summary: String

    /** target "executorch": one .pte with vision_encoder / token_embedding / text_decoder, on XNNPACK. */
    data class ExecuTorch(val pte: File) : EnginePlan {
        override val summary: String get() = "ExecuTorch (${pte.name}, XNNPACK CPU)"
    }

    /** target "onnx", backend "cpu": the float graphs on ONNX Runtime's CPU provider. */
    data class OnnxCpu(val graphs: File) : EnginePlan {
        override val summary: String get() = "ONNX Runtime CPU"
    }

    /**
     * target "onnx", backend "qnn": the EPContext graphs compiled for one Snapdragon SoC (qnn/<soc>/),
     * run by the QNN execution provider on the HTP NPU. `exactSoc` is false when the phone's SoC
     * is unknown or not among the compiled ones and the only compiled SoC is tried anyway.
     */
    data class OnnxQnn(
        val graphs: File,
        val soc: String,
        val socModel: Int,
        val htpArch: String?,
        val exactSoc: Boolean,
    ) : EnginePlan {
        override val summary: String
            get() = "ONNX Runtime + QNN HTP ($soc${htpArch?.let { ", $it" } ?: ""}${if (exactSoc) "" else ", SoC not matched"})"
    }
}

/**
 * One folder written by `sf-export`: the manifest, the files it lists, and the engine that runs it.
 * Files are at the same relative paths as on the host (protocol.py section 2).
 */
class ExportFolder private constructor(val root: File, val manifest: SfManifest) {

    fun file(relative: String): File = File(root, relative)

    val tokenizerFile: File get() = file(TOKENIZER_FILE)
    val parityDir: File get() = file(PARITY_DIR)

    /**
     * The engine for this export on a phone whose SoC is `deviceSoc` (Build.SOC_MODEL, e.g.
     * "SM8650"; null when unknown). ExportError names what is missing or unsupported.
     */
    fun plan(deviceSoc: String?): EnginePlan = when (manifest.target) {
        "executorch" -> planExecuTorch()
        "onnx" -> when (manifest.backend) {
            "cpu" -> EnginePlan.OnnxCpu(requireGraphs(root, "ONNX graphs"))
            "qnn" -> planQnn(deviceSoc)
            else -> throw ExportError("ONNX backend '${manifest.backend}' is not supported by this app (cpu or qnn)")
        }
        "coreml" -> throw ExportError("a Core ML export runs on Apple devices only; export with --target executorch or onnx for Android")
        else -> throw ExportError("export target '${manifest.target}' is unknown to this app")
    }

    private fun planExecuTorch(): EnginePlan {
        val entry = manifest.artifacts.firstOrNull { it.path.endsWith(".pte") }
            ?: throw ExportError("the manifest lists no .pte artifact")
        val missing = REQUIRED_METHODS.filter { entry.methods != null && it !in entry.methods }
        if (missing.isNotEmpty()) {
            throw ExportError("${entry.path} lacks the method(s) ${missing.joinToString()}; re-export it")
        }
        return EnginePlan.ExecuTorch(requireFile(entry.path))
    }

    private fun planQnn(deviceSoc: String?): EnginePlan {
        // Compiled EPContext graphs carry "compiled_from" and the SoC they were built for.
        val compiled = manifest.artifacts.filter { it.compiledFrom != null && it.soc != null && it.socModel != null }
        val socs = compiled.map { it.soc!! }.distinct()
        if (socs.isEmpty()) throw ExportError("the manifest lists no compiled QNN context graphs")
        val match = socs.firstOrNull { deviceSoc != null && it.equals(deviceSoc, ignoreCase = true) }
        val chosen = match ?: socs.singleOrNull()
            ?: throw ExportError(
                "this phone's SoC (${deviceSoc ?: "unknown"}) is not among the compiled ones (${socs.joinToString()}); " +
                    "re-export with --soc for it",
            )
        val vision = compiled.firstOrNull { it.soc == chosen && it.compiledFrom == VISION_GRAPH }
            ?: throw ExportError("no compiled $VISION_GRAPH for $chosen in the manifest")
        val graphs = requireFile(vision.path).parentFile ?: root
        return EnginePlan.OnnxQnn(
            graphs = requireGraphs(graphs, "compiled QNN graphs for $chosen"),
            soc = chosen,
            socModel = vision.socModel!!,
            htpArch = vision.htpArch,
            exactSoc = match != null,
        )
    }

    private fun requireFile(relative: String): File {
        val f = file(relative)
        if (!f.isFile) throw ExportError("${root.path} has no $relative (listed in the manifest)")
        return f
    }

    companion object {
        const val MANIFEST_FILE = "sf_manifest.json"
        const val TOKENIZER_FILE = "tokenizer.json"
        const val PARITY_DIR = "parity"
        const val VISION_GRAPH = "vision.onnx"
        val ONNX_GRAPHS = listOf(VISION_GRAPH, "prefill.onnx", "decode.onnx")
        val REQUIRED_METHODS = listOf("vision_encoder", "token_embedding", "text_decoder")

        /** Reads and checks `root/sf_manifest.json`; ExportError when it cannot be used. */
        fun open(root: File): ExportFolder {
            val manifestFile = File(root, MANIFEST_FILE)
            if (!manifestFile.isFile) throw ExportError("${root.path} has no $MANIFEST_FILE: point at a folder written by sf-export")
            val manifest = try {
                SfManifest.parse(manifestFile.readText(Charsets.UTF_8))
            } catch (e: IOException) {
                throw ExportError("cannot read ${manifestFile.path}: ${e.message}", e)
            } catch (e: IllegalArgumentException) {
                // kotlinx.serialization reports malformed or incomplete JSON this way
                throw ExportError("${manifestFile.path} is not a manifest this app can read (${e.message?.lineSequence()?.first()})", e)
            }
            if (manifest.schemaVersion < 1 || manifest.schemaVersion > SfManifest.KNOWN_SCHEMA_VERSION) {
                throw ExportError(
                    "manifest schema ${manifest.schemaVersion} is not one this app reads (1..${SfManifest.KNOWN_SCHEMA_VERSION}); " +
                        "update the app or re-export",
                )
            }
            if (manifest.status == "failed") throw ExportError("the export in ${root.path} failed (manifest status 'failed')")
            return ExportFolder(root, manifest)
        }

        private fun requireGraphs(dir: File, what: String): File {
            val missing = ONNX_GRAPHS.filter { !File(dir, it).isFile }
            if (missing.isNotEmpty()) throw ExportError("$what: ${dir.path} lacks ${missing.joinToString()}")
            return dir
        }
    }
}

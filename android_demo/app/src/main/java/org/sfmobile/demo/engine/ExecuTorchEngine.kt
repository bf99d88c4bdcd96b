package org.sfmobile.demo.engine

import java.io.File
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
import org.sfmobile.demo.export.ExportError
import org.sfmobile.demo.export.SfManifest
import org.sfmobile.demo.video.FrameBatch

/**
 * The .pte of `sf-export --target executorch` on ExecuTorch's Android runtime (XNNPACK, CPU).
 * Methods and shapes are the multimodal runner contract the exporter writes
 * (export/executorch/pipeline.py):
 *   vision_encoder(uint8 [3, T*S, S])            -> float [1, N_vis, D]
 *   token_embedding(int64 [1, S])                -> float [1, S, D]
 *   text_decoder(float [1, S, D], int64 [S])     -> float logits of the last position [1, 1, V]
 * S is dynamic up to get_max_seq_len (= max_context - 1), so a whole prompt goes in one call. The
 * KV cache lives inside the program (llama::update_cache / custom_sdpa, bundled in the AAR), and
 * custom_sdpa attends only to slots below start + S: a new sequence overwrites each slot before
 * reading it, so reset() has nothing to clear (sf_mobile/runtimes/executorch.py).
 * Sizes come from the program's constant methods, the manifest only as a fallback.
 */
class ExecuTorchEngine(pte: File, manifest: SfManifest) : Engine {
    // mmap: the weights page in from the file instead of being copied into the heap
    private val module: Module = try {
        Module.load(pte.absolutePath, Module.LOAD_MODE_MMAP)
    } catch (e: Exception) {
        throw ExportError("${pte.name} is not loadable by ExecuTorch ${e.message?.let { "($it)" } ?: ""}; the AAR must match the executorch that exported it", e)
    }
    private val methods: Set<String> = module.getMethods().toSet()

    override val name: String = "executorch-xnnpack"
    override val maxChunk: Int
    override val maxContext: Int
    override val frames: Int
    override val frameSide: Int
    private val hidden: Int

    init {
        val missing = METHODS.filter { it !in methods }
        if (missing.isNotEmpty()) throw ExportError("${pte.name} lacks the method(s) ${missing.joinToString()}; re-export it")
        for (m in METHODS) module.loadMethod(m) // load now, so that the timed model load includes it
        val decoderInput = manifest.artifact(pte.name)?.inputs?.get("text_decoder")?.get("embeds")
        maxContext = constant("get_max_context_len") ?: manifest.maxContext
        maxChunk = constant("get_max_seq_len") ?: decoderInput?.upperBound(1) ?: (maxContext - 1)
        frames = constant("get_num_frames") ?: manifest.frameGeometry.frames
        frameSide = constant("get_frame_size") ?: manifest.frameGeometry.width
        hidden = constant("get_hidden_size") ?: manifest.config.llm.hiddenSize
    }

    /** A constant method's value (sf-export writes get_max_seq_len, get_num_frames, ...); null when absent. */
    private fun constant(method: String): Int? =
        if (method in methods) module.execute(method)[0].toInt().toInt() else null

    override fun encodeVision(frames: FrameBatch): FloatTensor {
        val packed = Tensor.fromBlobUnsigned(frames.packed(), longArrayOf(3, (frames.count * frames.side).toLong(), frames.side.toLong()))
        return module.execute("vision_encoder", EValue.from(packed))[0].toTensor().toFloatTensor()
    }

    override fun embed(ids: IntArray): FloatTensor {
        val t = Tensor.fromBlob(LongArray(ids.size) { ids[it].toLong() }, longArrayOf(1, ids.size.toLong()))
        return module.execute("token_embedding", EValue.from(t))[0].toTensor().toFloatTensor()
    }

    override fun decode(embeds: FloatArray, rows: Int, start: Int): FloatArray {
        require(rows in 1..maxChunk) { "text_decoder takes 1..$maxChunk rows, got $rows" }
        require(start + rows <= maxContext) { "rows at slots $start..${start + rows - 1} do not fit the $maxContext-slot KV cache" }
        val x = Tensor.fromBlob(embeds, longArrayOf(1, rows.toLong(), hidden.toLong()))
        val positions = Tensor.fromBlob(LongArray(rows) { (start + it).toLong() }, longArrayOf(rows.toLong()))
        val logits = module.execute("text_decoder", EValue.from(x), EValue.from(positions))[0].toTensor()
        val data = logits.dataAsFloatArray
        val vocab = logits.shape().last().toInt()
        // [1, 1, V] from sf-export; a decoder returning every row [1, S, V] gives its last row
        return if (data.size == vocab) data else data.copyOfRange(data.size - vocab, data.size)
    }

    override fun reset() = Unit

    override fun close() {
        module.destroy()
    }

    private fun Tensor.toFloatTensor(): FloatTensor = FloatTensor(shape().map { it.toInt() }.toIntArray(), dataAsFloatArray)

    companion object {
        val METHODS = listOf("vision_encoder", "token_embedding", "text_decoder")
    }
}

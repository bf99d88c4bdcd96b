package org.sfmobile.demo

import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import org.sfmobile.demo.export.EnginePlan
import org.sfmobile.demo.export.ExportError
import org.sfmobile.demo.export.ExportFolder

/** Which engine runs a folder: the manifest's target and backend, and for QNN the phone's SoC. */
class ExportFolderTest {
    private val graphs = listOf("vision.onnx", "prefill.onnx", "decode.onnx")

    @Test
    fun executorchExportRunsOnExecuTorch() {
        val dir = TestExport.write(tempDir("et"), "executorch", "xnnpack",
            """{"path": "model.pte", "methods": ["vision_encoder", "token_embedding", "text_decoder"]}""", listOf("model.pte"))
        val plan = ExportFolder.open(dir).plan(deviceSoc = null)
        assertTrue(plan is EnginePlan.ExecuTorch)
        assertEquals(File(dir, "model.pte"), (plan as EnginePlan.ExecuTorch).pte)
    }

    @Test
    fun onnxCpuExportRunsOnTheCpuProvider() {
        val dir = TestExport.write(tempDir("onnx"), "onnx", "cpu", graphs.joinToString { """{"path": "$it"}""" }, graphs)
        assertTrue(ExportFolder.open(dir).plan("SM8650") is EnginePlan.OnnxCpu)
    }

    private fun qnnExport(socs: List<Pair<String, Int>>): File {
        val artifacts = socs.flatMap { (soc, model) ->
            graphs.map { g -> """{"path": "qnn/$soc/$g", "compiled_from": "$g", "soc": "$soc", "soc_model": $model, "htp_arch": "v75"}""" }
        }
        return TestExport.write(tempDir("qnn"), "onnx", "qnn", artifacts.joinToString(), socs.flatMap { (soc, _) -> graphs.map { "qnn/$soc/$it" } })
    }

    @Test
    fun qnnExportPicksThePhonesSoc() {
        val dir = qnnExport(listOf("sm8550" to 43, "sm8650" to 57))
        val plan = ExportFolder.open(dir).plan("SM8650") as EnginePlan.OnnxQnn
        assertEquals("sm8650", plan.soc)
        assertEquals(57, plan.socModel)
        assertEquals(File(dir, "qnn/sm8650"), plan.graphs)
        assertTrue(plan.exactSoc)
        // several compiled, none for this phone: refused with the choices named
        val e = assertThrows(ExportError::class.java) { ExportFolder.open(dir).plan("SM8750") }
        assertTrue(e.message!!.contains("sm8550, sm8650"))
    }

    @Test
    fun aSingleCompiledSocIsTriedWhenThePhonesIsUnknown() {
        val plan = ExportFolder.open(qnnExport(listOf("sm8650" to 57))).plan(null) as EnginePlan.OnnxQnn
        assertEquals("sm8650", plan.soc)
        assertFalse(plan.exactSoc)
    }

    @Test
    fun coreMlAndMissingFilesAreRefused() {
        val coreml = TestExport.write(tempDir("cml"), "coreml", "ane", "", emptyList())
        assertThrows(ExportError::class.java) { ExportFolder.open(coreml).plan(null) }
        val missing = TestExport.write(tempDir("miss"), "executorch", "xnnpack", """{"path": "model.pte"}""", emptyList())
        assertThrows(ExportError::class.java) { ExportFolder.open(missing).plan(null) }
        assertThrows(ExportError::class.java) { ExportFolder.open(tempDir("empty")) }
    }
}

package org.sfmobile.demo.engine

import android.content.Context
import android.os.Build
import org.sfmobile.demo.export.EnginePlan
import org.sfmobile.demo.export.ExportFolder

/** Opens the engine an export folder's manifest asks for, on this phone. */
object EngineFactory {
    /** The SoC model ("SM8650") on Android 12+; null before, or when the vendor left it unset. */
    fun deviceSoc(): String? =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) Build.SOC_MODEL.takeIf { it.isNotBlank() && it != Build.UNKNOWN } else null

    fun plan(folder: ExportFolder): EnginePlan = folder.plan(deviceSoc())

    fun open(context: Context, folder: ExportFolder, plan: EnginePlan = plan(folder)): Engine = when (plan) {
        is EnginePlan.ExecuTorch -> ExecuTorchEngine(plan.pte, folder.manifest)
        is EnginePlan.OnnxCpu -> OnnxEngine.open(folder, plan.graphs, OnnxEngine.Provider.Cpu)
        is EnginePlan.OnnxQnn -> OnnxEngine.open(
            folder,
            plan.graphs,
            OnnxEngine.Provider.Qnn(context.applicationInfo.nativeLibraryDir, plan.socModel, plan.soc),
        )
    }
}

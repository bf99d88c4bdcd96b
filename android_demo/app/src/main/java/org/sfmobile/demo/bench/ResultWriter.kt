package org.sfmobile.demo.bench

import java.io.File
import java.io.IOException

/**
 * Protocol.py 4e: write RESULT/sf_bench_result.json under a temporary name and rename it, then
 * create the empty marker RESULT/done LAST. The host polls for `done` and reads the result only
 * after it exists, so it never sees a half-written file.
 */
object ResultWriter {
    const val RESULT_FILE = "sf_bench_result.json"
    const val DONE_FILE = "done"

    fun write(resultDir: File, entry: BackendEntry) {
        if (!resultDir.isDirectory && !resultDir.mkdirs()) throw IOException("cannot create ${resultDir.path}")
        val text = BackendEntry.encode(entry) + "\n"
        val temp = File(resultDir, ".$RESULT_FILE.tmp")
        temp.writeText(text, Charsets.UTF_8)
        val target = File(resultDir, RESULT_FILE)
        if (!temp.renameTo(target)) {
            // rename over an existing file can fail on some filesystems: replace explicitly
            target.delete()
            if (!temp.renameTo(target)) throw IOException("cannot rename ${temp.path} to ${target.path}")
        }
        val done = File(resultDir, DONE_FILE)
        if (!done.exists() && !done.createNewFile()) throw IOException("cannot create ${done.path}")
    }
}

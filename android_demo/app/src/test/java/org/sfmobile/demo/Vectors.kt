package org.sfmobile.demo

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.Assert.assertEquals

/**
 * The shared vectors of tests/vectors/ (written by `python -m sf_mobile.vectors`). app/build.gradle.kts
 * adds that folder as a test resource folder, so each file is a classpath resource.
 */
object Vectors {
    fun text(name: String): String {
        val url = Vectors::class.java.getResource("/$name")
            ?: throw AssertionError("tests/vectors/$name is not on the test classpath (app/build.gradle.kts adds ../../tests/vectors)")
        return url.readText(Charsets.UTF_8)
    }

    /** A vector file, checked to be the version these tests were written for. */
    fun json(name: String): JsonObject {
        val root = Json.parseToJsonElement(text(name)).jsonObject
        root["version"]?.let { assertEquals("$name version", 1, it.jsonPrimitive.int) }
        return root
    }
}

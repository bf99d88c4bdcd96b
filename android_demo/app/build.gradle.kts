import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
    alias(libs.plugins.kotlin.serialization)
}

android {
    // Package and activity names are part of the sf-bench protocol (sf_mobile/bench/devices/
    // protocol.py): `am start -n org.sfmobile.demo/.BenchmarkActivity`. Do not rename.
    namespace = "org.sfmobile.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "org.sfmobile.demo"
        // minSdk 28 (Android 9) = the highest floor among what the app needs:
        //   ExecuTorch AAR 23, ONNX Runtime AAR 21-24, Qualcomm's QNN plugin AAR 27,
        //   and the app's own MediaExtractor.getSampleSize (API 28) used to list frame times.
        // Every Snapdragon 8 Gen 2+ phone (the QNN engine's targets) ships Android 13 or newer.
        minSdk = 28
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // The QNN libraries exist for arm64 only; x86_64 keeps the ExecuTorch engine usable on
            // an emulator. 32-bit ABIs are dropped: no 1B model fits a 32-bit address space.
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    buildTypes {
        release {
            // Minification would need keep rules for the JNI-reached classes of ExecuTorch (fbjni)
            // and ONNX Runtime; a demo app does not need the size win.
            isMinifyEnabled = false
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
    }

    packaging {
        jniLibs {
            // Store native libraries extracted (android:extractNativeLibs="true" in the merged
            // manifest): the QNN plugin is registered by FILE PATH
            // (nativeLibraryDir/libonnxruntime_providers_qnn.so), libQnnHtp.so is opened by path,
            // and the Hexagon DSP loader reads the *Skel.so files as real files through
            // ADSP_LIBRARY_PATH; none of that works on libraries mmapped from inside the APK.
            useLegacyPackaging = true
            // Several AARs carry the NDK's C++ runtime (fbjni for ExecuTorch, the QNN libraries); the
            // APK may hold one copy per ABI, and any of them serves every library.
            pickFirsts += "**/libc++_shared.so"
        }
    }

    sourceSets {
        // The JUnit tests read the shared vectors the Python side writes (python -m
        // sf_mobile.vectors): repository tests/vectors/ becomes a test resource folder, so each
        // file is a classpath resource ("/frame_sampling.json"). Nothing is copied or committed twice.
        getByName("test") {
            resources.srcDir("../../tests/vectors")
        }
    }

    testOptions {
        unitTests {
            // android.util.Log and friends return defaults in JVM tests instead of throwing; the code
            // under test is plain Kotlin, this only guards a stray log call.
            isReturnDefaultValues = true
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.kotlinx.serialization.json)
    implementation(libs.kotlinx.coroutines.android)

    // Engine 1: ExecuTorch (.pte, XNNPACK on the CPU).
    implementation(libs.executorch.android)
    // Engine 2: ONNX Runtime, with Qualcomm's QNN execution provider as a plugin for the NPU. The
    // plugin AAR's POM does not pull in ONNX Runtime or the QNN runtime: all three are declared.
    implementation(libs.onnxruntime.android)
    implementation(libs.qnn.onnxruntime.plugin)
    implementation(libs.qnn.runtime)

    debugImplementation(libs.androidx.compose.ui.tooling)

    testImplementation(libs.junit)
}

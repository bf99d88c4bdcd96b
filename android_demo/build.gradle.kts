// Top-level build file: declares the plugins (versions from gradle/libs.versions.toml) without
// applying them; the app module applies what it uses.
plugins {
    alias(libs.plugins.android.application) apply false
    alias(libs.plugins.kotlin.android) apply false
    alias(libs.plugins.kotlin.compose) apply false
    alias(libs.plugins.kotlin.serialization) apply false
}

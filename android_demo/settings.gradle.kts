// The sf-mobile Android demo: one app module. Every dependency comes from Google's Maven and Maven
// Central by coordinates pinned in gradle/libs.versions.toml; no .aar/.jar/.so is committed.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    // Modules may not add repositories of their own: where a dependency comes from is decided here.
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "sf-mobile-demo"
include(":app")

import PhotosUI
import SwiftUI
import UniformTypeIdentifiers

/// The interactive demo: pick an export folder, pick a video, ask, read the streamed answer and
/// the numbers (time to first token, tokens/s, visual tokens).
struct ContentView: View {
    @EnvironmentObject private var model: AppModel
    @State private var choosingExport = false
    @State private var choosingVideoFile = false
    @State private var photoItem: PhotosPickerItem?

    var body: some View {
        NavigationStack {
            Form {
                exportSection
                videoSection
                questionSection
                answerSection
                if model.pipeline != nil {
                    Section("Numbers") {
                        StatsView(stats: model.stats, prepared: model.prepared, timeToFirstTokenMs: model.timeToFirstTokenMs,
                                  budget: model.pipeline?.visualBudget)
                    }
                }
            }
            .navigationTitle("SlowFast-LLaVA")
            .toolbar {
                ToolbarItem {
                    if model.busy { ProgressView() }
                }
            }
        }
        .fileImporter(isPresented: $choosingExport, allowedContentTypes: [.folder]) { result in
            if case .success(let url) = result {
                model.openPicked(url)
            }
        }
        .onChange(of: photoItem) { _, item in
            model.usePickedItem(item)
        }
        .alert("Error", isPresented: Binding(get: { model.errorMessage != nil }, set: { if !$0 { model.errorMessage = nil } })) {
            Button("OK", role: .cancel) { model.errorMessage = nil }
        } message: {
            Text(model.errorMessage ?? "")
        }
        .onAppear {
            model.refreshLibrary()
            model.reopenLastPicked()
        }
    }

    private var exportSection: some View {
        Section("Export") {
            if let export = model.export {
                LabeledContent("Folder", value: export.name)
                LabeledContent("Preset", value: "\(export.manifest.preset) (\(export.manifest.quantization?.llm ?? "?"))")
                LabeledContent("Visual tokens", value: "\(export.manifest.visualTokens.total) (\(export.manifest.visualTokens.slow) slow + \(export.manifest.visualTokens.fast) fast)")
                if export.hasRandomWeights {
                    Text("Random weights: the answer is noise; shapes and timings are real.")
                        .font(.footnote)
                        .foregroundStyle(.orange)
                }
            }
            Button("Open export folder…") { choosingExport = true }
            if !model.library.isEmpty {
                Menu("Exports on this device") {
                    ForEach(model.library) { entry in
                        Button("\(entry.name) (\(entry.origin))") { model.open(entry.url) }
                    }
                }
            }
            Picker("Compute units", selection: $model.computeChoice) {
                Text(AppModel.ComputeChoice.manifest.label).tag(AppModel.ComputeChoice.manifest)
                ForEach(ComputeUnitName.allCases) { units in
                    Text(units.rawValue).tag(AppModel.ComputeChoice.override(units))
                }
            }
            .onChange(of: model.computeChoice) { _, _ in model.loadPipeline() }
            Text(model.status)
                .font(.footnote)
                .foregroundStyle(.secondary)
        }
    }

    private var videoSection: some View {
        Section("Video") {
            PhotosPicker(selection: $photoItem, matching: .videos) {
                Label("Choose from Photos", systemImage: "photo.on.rectangle")
            }
            Button {
                choosingVideoFile = true
            } label: {
                Label("Choose a video file…", systemImage: "folder")
            }
            .fileImporter(isPresented: $choosingVideoFile, allowedContentTypes: [.movie]) { result in
                if case .success(let url) = result {
                    model.useVideoFile(url)
                }
            }
            if let url = model.videoURL {
                LabeledContent("Selected", value: url.lastPathComponent)
            }
        }
    }

    private var questionSection: some View {
        Section("Question") {
            TextField("Ask about the video", text: $model.question, axis: .vertical)
                .lineLimit(1...4)
            Stepper("Max new tokens: \(model.maxNewTokens)", value: $model.maxNewTokens, in: 1...2048, step: 16)
            HStack {
                Button("Ask") { model.ask() }
                    .disabled(!model.canAsk)
                    .buttonStyle(.borderedProminent)
                if model.busy && model.pipeline != nil {
                    Button("Stop", role: .destructive) { model.stop() }
                }
            }
        }
    }

    private var answerSection: some View {
        Section("Answer") {
            Text(model.answer.isEmpty ? " " : model.answer)
                .textSelection(.enabled)
                .frame(maxWidth: .infinity, alignment: .leading)
        }
    }
}

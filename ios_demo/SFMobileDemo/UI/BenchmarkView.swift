import SwiftUI

/// Benchmark mode's only screen: the progress lines, no controls (the host never types).
struct BenchmarkView: View {
    @ObservedObject var session: BenchmarkSession

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            HStack {
                Text("sf-bench").font(.title2.bold())
                Spacer()
                if !session.finished {
                    ProgressView()
                }
            }
            ScrollViewReader { proxy in
                ScrollView {
                    LazyVStack(alignment: .leading, spacing: 2) {
                        ForEach(Array(session.lines.enumerated()), id: \.offset) { item in
                            Text(item.element)
                                .font(.system(.footnote, design: .monospaced))
                                .id(item.offset)
                        }
                    }
                    .frame(maxWidth: .infinity, alignment: .leading)
                }
                .onChange(of: session.lines.count) { _, count in
                    proxy.scrollTo(count - 1, anchor: .bottom)
                }
            }
        }
        .padding()
        .frame(minWidth: 420, minHeight: 300)
    }
}

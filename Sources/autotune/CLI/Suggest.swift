import Engine

/// The candidate closest to `input` by edit distance (Engine's `closestMatch`), if it is close
/// enough to be a likely typo.
///
///     suggestion(for: "--jsn", among: ["--json", "--quiet"])   // "--json"
func suggestion(for input: String, among candidates: [String]) -> String? {
    closestMatch(to: input, among: candidates)
}

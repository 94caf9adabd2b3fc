/// Small pieces of HTML text, escaped where they carry data.
enum HTML {
    /// Text as HTML character data or a quoted attribute value.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// `<tag attributes>content</tag>`, content already HTML.
    static func element(_ tag: String, _ content: String, _ attributes: [(String, String)] = []) -> String {
        let attrs = attributes.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
        return "<\(tag)\(attrs)>\(content)</\(tag)>"
    }

    /// A table of text cells (escaped); `numeric` columns are right-aligned.
    static func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = [], id: String? = nil) -> String {
        func cells(_ row: [String], _ tag: String) -> String {
            row.enumerated().map { i, cell in
                element(tag, escape(cell), numeric.contains(i) ? [("class", "num")] : [])
            }.joined()
        }
        let head = element("thead", element("tr", cells(header, "th")))
        let body = element("tbody", rows.map { element("tr", cells($0, "td")) }.joined(separator: "\n"))
        return element("table", head + "\n" + body, id.map { [("id", $0)] } ?? [])
    }

    /// A definition list of (term, text) pairs, both escaped.
    static func definitions(_ pairs: [(String, String)]) -> String {
        element("dl", pairs.map { element("dt", escape($0.0)) + element("dd", escape($0.1)) }.joined(separator: "\n"))
    }

    /// Preformatted text (escaped), e.g. a JSON document.
    static func code(_ text: String) -> String { element("pre", element("code", escape(text))) }
}

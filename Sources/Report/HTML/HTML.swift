import Foundation

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

    /// A whole page: the house style (plus `extraStyle`), the body, a footer line with the date.
    static func page(title: String, extraStyle: String = "", body: String, footer: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(style)\(extraStyle)</style>
        </head>
        <body>
        \(body)
        <footer>\(escape(footer)) on \(escape(isoDate(Date()))).</footer>
        </body>
        </html>

        """
    }

    static let style = """
    body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
    h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
    table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
    th{background:#f3f6fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
    dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
    pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.85em}
    figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
    details{margin:.4em 0}summary{cursor:pointer}footer{margin-top:3em;color:#777;font-size:.8em}
    """
}

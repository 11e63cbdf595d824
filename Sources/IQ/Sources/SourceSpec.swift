/// A source named on the command line:
/// `rtlsdr`, `rtlsdr:1`, `rtlsdr:serial=00000001`, `rtltcp://host:port`, `file:PATH`, or a bare path.
public enum SourceSpec: Equatable, Sendable {
    case rtlsdr(RtlSdrSource.Selector)
    case rtlTcp(host: String, port: UInt16)
    case file(path: String)

    public init(_ text: String) throws {
        if text == "rtlsdr" {
            self = .rtlsdr(.index(0))
        } else if text.hasPrefix("rtlsdr:") {
            let arg = String(text.dropFirst("rtlsdr:".count))
            if arg.hasPrefix("serial=") {
                self = .rtlsdr(.serial(String(arg.dropFirst("serial=".count))))
            } else if let index = Int(arg), index >= 0 {
                self = .rtlsdr(.index(index))
            } else {
                throw IQError.invalidArgument("bad RTL-SDR source '\(text)': use rtlsdr:INDEX or rtlsdr:serial=SERIAL")
            }
        } else if text.hasPrefix("rtltcp://") || text.hasPrefix("rtl_tcp://") {
            let rest = text.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
            var host = rest
            var port: UInt16 = 1234
            if rest.hasPrefix("[") , let close = rest.firstIndex(of: "]") {  // [::1]:1234
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let tail = rest[rest.index(after: close)...]
                if tail.hasPrefix(":") {
                    guard let p = UInt16(tail.dropFirst()) else { throw IQError.invalidArgument("bad port in '\(text)'") }
                    port = p
                }
            } else if let colon = rest.lastIndex(of: ":") {
                host = String(rest[..<colon])
                guard let p = UInt16(rest[rest.index(after: colon)...]) else { throw IQError.invalidArgument("bad port in '\(text)'") }
                port = p
            }
            if host.isEmpty { host = "127.0.0.1" }
            self = .rtlTcp(host: host, port: port)
        } else if text.hasPrefix("file:") {
            self = .file(path: String(text.dropFirst("file:".count)))
        } else if text.hasPrefix("soapy:") {
            throw IQError.invalidArgument("SoapySDR sources are not supported yet; use rtlsdr, rtltcp://HOST:PORT or file:PATH")
        } else if let scheme = text.range(of: "://").map({ text[..<$0.lowerBound] }), !scheme.contains("/") {
            // A URL of a kind we do not read (http://, soapy://…), not a file to look for.
            throw IQError.invalidArgument("unknown source '\(text)': '\(scheme)://' is not a source; use rtlsdr[:N], rtltcp://HOST:PORT or file:PATH")
        } else if text.contains("/") || text.contains(".") {
            self = .file(path: text)
        } else {
            throw IQError.invalidArgument("unknown source '\(text)': use rtlsdr[:N], rtltcp://HOST:PORT or file:PATH")
        }
    }
}

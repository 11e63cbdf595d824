import Foundation

/// SigMF metadata (`.sigmf-meta`, spec 1.2): the `global` object, `captures` and `annotations`.
///
/// Core fields have typed accessors; everything else (extensions, unknown keys) is kept as JSON
/// so that converting a recording never loses what its author wrote.
///
/// Example:
/// ```json
/// {"global": {"core:datatype": "cu8", "core:sample_rate": 2400000, "core:version": "1.2.0"},
///  "captures": [{"core:sample_start": 0, "core:frequency": 915000000,
///                "core:datetime": "2026-11-29T14:00:00.000000Z"}],
///  "annotations": [{"core:sample_start": 24000, "core:sample_count": 2400, "core:label": "burst"}]}
/// ```
public struct SigMFMetadata: Equatable, Sendable {
    public static let specVersion = "1.2.0"

    public var global: [String: JSONValue]
    public var captures: [SigMFCapture]
    public var annotations: [SigMFAnnotation]

    public init(format: SampleFormat, sampleRateHz: Double) {
        global = [
            "core:datatype": .string(format.sigmfDatatype),
            "core:sample_rate": .number(sampleRateHz),
            "core:version": .string(Self.specVersion),
        ]
        captures = []
        annotations = []
    }

    public var datatype: String? { global["core:datatype"]?.stringValue }
    public var sampleRateHz: Double? {
        get { global["core:sample_rate"]?.doubleValue }
        set { global["core:sample_rate"] = newValue.map(JSONValue.number) }
    }
    public var numChannels: Int64 { global["core:num_channels"]?.int64Value ?? 1 }

    public subscript(string key: String) -> String? {
        get { global[key]?.stringValue }
        set { global[key] = newValue.map(JSONValue.string) }
    }

    /// Parses and checks the structure; `path` only names the file in errors.
    public static func parse(_ data: Data, path: String) throws -> SigMFMetadata {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw IQError.invalidMetadata(path: path, reason: "not valid JSON (\(Self.describe(error)))")
        }
        guard let top = root.objectValue else {
            throw IQError.invalidMetadata(path: path, reason: "top level is not a JSON object")
        }
        guard let global = top["global"]?.objectValue else {
            throw IQError.invalidMetadata(path: path, reason: "missing \"global\" object")
        }
        guard global["core:datatype"]?.stringValue != nil else {
            throw IQError.invalidMetadata(path: path, reason: "missing core:datatype")
        }
        var meta = SigMFMetadata(format: .cu8, sampleRateHz: 0)
        meta.global = global
        for (k, item) in (top["captures"]?.arrayValue ?? []).enumerated() {
            guard let fields = item.objectValue, let capture = SigMFCapture(fields) else {
                throw IQError.invalidMetadata(path: path, reason: "captures[\(k)] has no integer core:sample_start")
            }
            meta.captures.append(capture)
        }
        for (k, item) in (top["annotations"]?.arrayValue ?? []).enumerated() {
            guard let fields = item.objectValue, let annotation = SigMFAnnotation(fields) else {
                throw IQError.invalidMetadata(path: path, reason: "annotations[\(k)] has no integer core:sample_start")
            }
            meta.annotations.append(annotation)
        }
        if let bad = zip(meta.captures, meta.captures.dropFirst()).first(where: { $0.sampleStart > $1.sampleStart }) {
            throw IQError.invalidMetadata(path: path, reason: "captures not sorted by core:sample_start (\(bad.0.sampleStart) before \(bad.1.sampleStart))")
        }
        return meta
    }

    public func jsonValue() -> JSONValue {
        .object([
            "global": .object(global),
            "captures": .array(captures.map { .object($0.fields) }),
            "annotations": .array(annotations.sorted { $0.sampleStart < $1.sampleStart }.map { .object($0.fields) }),
        ])
    }

    public func serialized() -> String { jsonValue().serialized(indent: 4) + "\n" }

    private static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            if let underlying = context.underlyingError as NSError?,
               let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                return detail
            }
            return context.debugDescription
        }
        return "\(error)"
    }
}

/// One `captures` segment: where a tuning (frequency, time) starts in the data.
public struct SigMFCapture: Equatable, Sendable {
    public var fields: [String: JSONValue]

    public init(sampleStart: Int64, frequencyHz: Double? = nil, datetimeS: Double? = nil, globalIndex: Int64? = nil) {
        fields = ["core:sample_start": .int(sampleStart)]
        self.frequencyHz = frequencyHz
        self.datetimeS = datetimeS
        if let globalIndex { fields["core:global_index"] = .int(globalIndex) }
    }

    init?(_ fields: [String: JSONValue]) {
        guard let start = fields["core:sample_start"]?.int64Value, start >= 0 else { return nil }
        self.fields = fields
        self.fields["core:sample_start"] = .int(start)
    }

    public var sampleStart: Int64 {
        get { fields["core:sample_start"]?.int64Value ?? 0 }
        set { fields["core:sample_start"] = .int(newValue) }
    }
    public var frequencyHz: Double? {
        get { fields["core:frequency"]?.doubleValue }
        set { fields["core:frequency"] = newValue.map(JSONValue.number) }
    }
    /// `core:datetime` as seconds since 1970 UTC (nil when absent or unparsable).
    public var datetimeS: Double? {
        get { fields["core:datetime"]?.stringValue.flatMap(RFC3339.parse) }
        set { fields["core:datetime"] = newValue.map { .string(RFC3339.format($0)) } }
    }
    public var globalIndex: Int64? { fields["core:global_index"]?.int64Value }
    public var headerBytes: Int64 { fields["core:header_bytes"]?.int64Value ?? 0 }
}

/// One annotation: a labelled span of samples, optionally with RF edges.
public struct SigMFAnnotation: Equatable, Sendable {
    public var fields: [String: JSONValue]

    public init(sampleStart: Int64, sampleCount: Int64?, freqLowerEdgeHz: Double? = nil, freqUpperEdgeHz: Double? = nil,
                label: String? = nil, comment: String? = nil, generator: String? = nil) {
        fields = ["core:sample_start": .int(sampleStart)]
        if let sampleCount { fields["core:sample_count"] = .int(sampleCount) }
        if let freqLowerEdgeHz { fields["core:freq_lower_edge"] = .number(freqLowerEdgeHz) }
        if let freqUpperEdgeHz { fields["core:freq_upper_edge"] = .number(freqUpperEdgeHz) }
        if let label { fields["core:label"] = .string(label) }
        if let comment { fields["core:comment"] = .string(comment) }
        if let generator { fields["core:generator"] = .string(generator) }
    }

    init?(_ fields: [String: JSONValue]) {
        guard let start = fields["core:sample_start"]?.int64Value, start >= 0 else { return nil }
        self.fields = fields
    }

    public var sampleStart: Int64 { fields["core:sample_start"]?.int64Value ?? 0 }
    public var sampleCount: Int64? { fields["core:sample_count"]?.int64Value }
    public var freqLowerEdgeHz: Double? { fields["core:freq_lower_edge"]?.doubleValue }
    public var freqUpperEdgeHz: Double? { fields["core:freq_upper_edge"]?.doubleValue }
    public var label: String? { fields["core:label"]?.stringValue }
    public var comment: String? { fields["core:comment"]?.stringValue }
}

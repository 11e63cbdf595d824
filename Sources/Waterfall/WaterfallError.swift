/// Errors from writing waterfall images. `description` is one line meant for the user.
public enum WaterfallError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be created or written; `reason` is the system's text (strerror).
    case cannotWrite(path: String, reason: String)
    /// The image cannot be encoded (for example it has no pixels).
    case invalidImage(path: String, reason: String)
    /// libpng could not be set up (out of memory).
    case encoderFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason):
            return "cannot write \(path) (\(reason))"
        case .invalidImage(let path, let reason):
            return "cannot write \(path) (invalid image: \(reason))"
        case .encoderFailed(let path, let reason):
            return "cannot write \(path) (PNG encoder: \(reason))"
        }
    }
}

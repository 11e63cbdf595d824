#if canImport(Glibc)
import Glibc
#endif

func fopenRead(_ path: String) -> UnsafeMutablePointer<FILE>? { fopen(path, "rb") }

func fopenWrite(_ path: String) -> UnsafeMutablePointer<FILE>? { fopen(path, "wb") }

func lastErrorText() -> String { String(cString: strerror(errno)) }

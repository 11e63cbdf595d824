import CPNG

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// PNG encoding through libpng.
//
// libpng reports errors by calling an error function that must not return; its default one
// longjmps, which Swift cannot survive. So:
//   * everything that could fail is checked before libpng sees it: the image size (1 to
//     1,000,000 pixels per side, byte count = width × height × 3) and the output file, which
//     we open ourselves with fopen;
//   * the file is written through our own write callback (png_set_write_fn) rather than
//     png_init_io, so a failed write (disk full, I/O error) is recorded with its errno and
//     reported as a thrown WaterfallError instead of becoming a libpng error;
//   * the error function we install prints one line to stderr and aborts. With the checks
//     above it can only be reached by an internal bug or zlib running out of memory.
// Warnings are ignored (libpng issues none for the plain 8-bit RGB images written here).

/// State shared with the C write callback.
private final class PNGSink {
    let file: UnsafeMutablePointer<FILE>
    var errorNumber: Int32 = 0
    var bytesWritten = 0

    init(file: UnsafeMutablePointer<FILE>) {
        self.file = file
    }
}

private func pngWrite(_ png: png_structp?, _ data: png_bytep?, _ length: Int) {
    guard let png, let raw = png_get_io_ptr(png) else { return }
    let sink = Unmanaged<PNGSink>.fromOpaque(raw).takeUnretainedValue()
    guard sink.errorNumber == 0, length > 0, let data else { return }
    let n = fwrite(data, 1, length, sink.file)
    if n != length {
        let e = errno
        sink.errorNumber = e != 0 ? e : EIO
    } else {
        sink.bytesWritten += n
    }
}

private func pngFlush(_ png: png_structp?) {
    guard let png, let raw = png_get_io_ptr(png) else { return }
    let sink = Unmanaged<PNGSink>.fromOpaque(raw).takeUnretainedValue()
    if sink.errorNumber == 0 && fflush(sink.file) != 0 {
        let e = errno
        sink.errorNumber = e != 0 ? e : EIO
    }
}

private func pngError(_ png: png_structp?, _ message: png_const_charp?) {
    let text = message.map { String(cString: $0) } ?? "unknown error"
    let line = "Waterfall: libpng error: \(text)\n"
    _ = line.utf8CString.withUnsafeBufferPointer { buf in
        write(2, buf.baseAddress, buf.count - 1)
    }
    abort()   // must not return to libpng; see the note at the top of this file
}

private func pngWarning(_ png: png_structp?, _ message: png_const_charp?) {}

private func systemError(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "error \(code)" }
    return String(cString: s)
}

extension RGBImage {
    /// Writes the image as an 8-bit RGB, non-interlaced PNG file (replacing an existing file).
    /// Errors: `.cannotWrite(path, reason)` when the file cannot be created or written (the
    /// reason is the system's message, e.g. "cannot write OUT.png (Permission denied)"),
    /// `.invalidImage` for an image with no pixels. A write that fails part-way may leave a
    /// truncated file behind. libpng's own fatal errors (only possible on an internal bug or
    /// when zlib runs out of memory, since everything else is checked first) print one line
    /// to stderr and abort the process: libpng offers no way to return from them to Swift.
    public func writePNG(to path: String) throws(WaterfallError) {
        // Validate before libpng is involved (its error path cannot return to us).
        guard width >= 1, height >= 1, width <= 1_000_000, height <= 1_000_000 else {
            throw .invalidImage(path: path, reason: "size \(width)x\(height)")
        }
        guard pixels.count == width * height * 3 else {
            throw .invalidImage(path: path, reason: "pixel buffer does not match \(width)x\(height)")
        }
        guard !path.isEmpty else { throw .cannotWrite(path: path, reason: "empty path") }

        guard let file = fopen(path, "wb") else {
            throw .cannotWrite(path: path, reason: systemError(errno))
        }
        let sink = PNGSink(file: file)

        guard let png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, pngError, pngWarning) else {
            fclose(file)
            throw .encoderFailed(path: path, reason: "png_create_write_struct failed")
        }
        var pngOpt: png_structp? = png
        guard let info = png_create_info_struct(png) else {
            png_destroy_write_struct(&pngOpt, nil)
            fclose(file)
            throw .encoderFailed(path: path, reason: "png_create_info_struct failed")
        }
        var infoOpt: png_infop? = info

        withExtendedLifetime(sink) {
            png_set_write_fn(png, Unmanaged.passUnretained(sink).toOpaque(), pngWrite, pngFlush)
            png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8,
                         PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                         PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT)
            // zlib level 3: about 2.5x faster than the default 6 on noisy spectrograms and
            // no larger (measured on a 1255x1011 render: 133 ms / 1.55 MB vs 320 ms / 1.66 MB).
            png_set_compression_level(png, 3)
            png_write_info(png, info)
            let stride = width * 3
            pixels.withUnsafeBufferPointer { buf in
                guard let base = buf.baseAddress else { return }
                // All rows are always passed to libpng, even after a failed write (the
                // callback then discards output), so libpng never sees an incomplete image.
                for y in 0..<height {
                    png_write_row(png, base + y * stride)
                }
            }
            png_write_end(png, info)
            png_destroy_write_struct(&pngOpt, &infoOpt)
        }

        var failure = sink.errorNumber
        if failure == 0 && ferror(file) != 0 { failure = EIO }
        if fclose(file) != 0 && failure == 0 {
            failure = errno != 0 ? errno : EIO
        }
        if failure != 0 {
            throw .cannotWrite(path: path, reason: systemError(failure))
        }
    }
}

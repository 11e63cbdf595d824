import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// The client side of a TAK Server's TLS streaming input (8089): the client certificate and key
/// from a PKCS#12 file (what TAK Server's certificate tools hand out, usually with the password
/// "atakatak"), the server checked against a CA (the TAK Server's, `--cot-ca`) and its name.
///
/// Uses Debian's OpenSSL (libssl-dev) through a system-library target, like librtlsdr and fftw:
/// no second TLS stack to compile, and the distribution's security updates apply.
public struct TLSClientOptions: Sendable, Equatable {
    /// PKCS#12 (.p12) holding the client certificate, its key and optionally its chain.
    public var certificatePath: String
    public var certificatePassword: String
    /// PEM file of CAs trusted for the server; nil = the system's trust store.
    public var caPath: String?

    public init(certificatePath: String, certificatePassword: String, caPath: String? = nil) {
        self.certificatePath = certificatePath
        self.certificatePassword = certificatePassword
        self.caPath = caPath
    }
}

/// Everything the queued OpenSSL errors say, on one line.
private func openSSLErrors() -> String {
    var texts: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // "error:0A000086:SSL routines::certificate verify failed" → the reason.
        texts.append(text.split(separator: ":").last.map(String.init) ?? text)
    }
    return texts.isEmpty ? "no detail from OpenSSL" : texts.joined(separator: "; ")
}

/// An `SSL_CTX` with the client identity loaded once, shared by every (re)connection.
final class TLSClientContext {
    let context: OpaquePointer
    let endpoint: String

    init(_ options: TLSClientOptions, endpoint: String) throws {
        self.endpoint = endpoint
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw OutputError.tlsFailed(endpoint: endpoint, reason: "cannot create a TLS context (\(openSSLErrors()))")
        }
        self.context = context
        _ = uasense_ctx_min_tls12(context)
        try loadIdentity(options)
        if let ca = options.caPath {
            guard SSL_CTX_load_verify_locations(context, ca, nil) == 1 else {
                throw OutputError.tlsFailed(endpoint: endpoint,
                                            reason: "--cot-ca \(ca): not a readable PEM file of CA certificates (\(openSSLErrors()))")
            }
        } else {
            SSL_CTX_set_default_verify_paths(context)
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
    }

    deinit { SSL_CTX_free(context) }

    private func loadIdentity(_ options: TLSClientOptions) throws {
        let path = options.certificatePath
        func fail(_ reason: String) -> OutputError {
            .tlsFailed(endpoint: endpoint, reason: "--cot-cert \(path): \(reason)")
        }
        guard let bio = BIO_new_file(path, "rb") else { throw fail("cannot open the file") }
        defer { BIO_free(bio) }
        guard let p12 = d2i_PKCS12_bio(bio, nil) else { throw fail("not a PKCS#12 (.p12) file") }
        defer { PKCS12_free(p12) }
        guard PKCS12_verify_mac(p12, options.certificatePassword, -1) == 1 else {
            throw fail("wrong password (--cot-cert-password or UASENSE_COT_CERT_PASSWORD; TAK's default is atakatak)")
        }
        var key: OpaquePointer?
        var certificate: OpaquePointer?
        var chain: OpaquePointer?
        var parsed = PKCS12_parse(p12, options.certificatePassword, &key, &certificate, &chain) == 1
        if !parsed {
            // Files made by older tools encrypt with RC2/3DES, which OpenSSL 3 keeps in its legacy provider.
            ERR_clear_error()
            _ = OSSL_PROVIDER_load(nil, "legacy")
            _ = OSSL_PROVIDER_load(nil, "default")
            parsed = PKCS12_parse(p12, options.certificatePassword, &key, &certificate, &chain) == 1
        }
        defer {
            if let key { EVP_PKEY_free(key) }
            if let certificate { X509_free(certificate) }
            if let chain { uasense_sk_X509_free_all(chain) }
        }
        guard parsed, let key, let certificate else {
            throw fail("cannot read the certificate and key (\(openSSLErrors()))")
        }
        guard SSL_CTX_use_certificate(context, certificate) == 1, SSL_CTX_use_PrivateKey(context, key) == 1,
              SSL_CTX_check_private_key(context) == 1 else {
            throw fail("certificate and key do not belong together (\(openSSLErrors()))")
        }
        if let chain {
            for k in 0..<uasense_sk_X509_num(chain) {
                if let c = uasense_sk_X509_value(chain, k) { _ = uasense_ctx_add1_chain_cert(context, c) }
            }
        }
    }
}

/// One TLS connection over a connected TCP socket (blocking, with the socket's timeouts).
final class TLSSession {
    private let ssl: OpaquePointer
    /// Why the last write or read failed, as OpenSSL tells it (a server's alert, e.g. "unknown ca").
    private(set) var lastFailure: String?

    /// Shakes hands, checking the server's certificate chain and that it names `host` (DNS name or IP).
    init(context: TLSClientContext, fd: Int32, host: String) throws {
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else {
            throw OutputError.tlsFailed(endpoint: context.endpoint, reason: openSSLErrors())
        }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        var probe = in6_addr()
        let isAddress = inet_pton(AF_INET, host, &probe) == 1 || inet_pton(AF_INET6, host, &probe) == 1
        if isAddress {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            _ = uasense_set_sni(ssl, host)
            SSL_set1_host(ssl, host)
        }
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason: String
            if verify != Int(X509_V_OK) {
                reason = "the server's certificate was refused: " + String(cString: X509_verify_cert_error_string(verify))
                    + " (pass the TAK Server's CA with --cot-ca FILE.pem)"
            } else {
                let detail = openSSLErrors()
                reason = "TLS handshake failed (\(detail == "no detail from OpenSSL" ? String(cString: strerror(errno)) : detail)); "
                    + "does the server accept this client certificate?"
            }
            throw OutputError.tlsFailed(endpoint: context.endpoint, reason: reason)  // deinit frees ssl
        }
        // TLS 1.3 finishes the client's side before the server has checked the client certificate:
        // a refusal comes as an alert afterwards, and events written meanwhile would vanish. Wait
        // (up to 1 s) for the server's first word — a session ticket when it accepts us, an alert
        // when not — so a refused certificate is reported here, at start.
        if SSL_version(ssl) == TLS1_3_VERSION {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 1000) > 0 {
                let flags = fcntl(fd, F_GETFL)
                _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
                var byte: UInt8 = 0
                let n = SSL_peek(ssl, &byte, 1)
                let code = SSL_get_error(ssl, n)
                _ = fcntl(fd, F_SETFL, flags)
                if n <= 0, code != SSL_ERROR_WANT_READ, code != SSL_ERROR_WANT_WRITE {
                    throw OutputError.tlsFailed(endpoint: context.endpoint,
                                                reason: "the server refused this client certificate (\(failure(code))); "
                                                    + "is it one the TAK Server issued or trusts?")
                }
            }
        }
    }

    deinit { SSL_free(ssl) }

    func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + sent, Int32($0.count - sent)) }
            if n > 0 { sent += Int(n); continue }
            let code = SSL_get_error(ssl, n)
            if code == SSL_ERROR_SYSCALL, errno == EINTR { continue }
            lastFailure = failure(code)
            return false
        }
        return true
    }

    /// Reads and discards what the server sent (its other clients' traffic) without blocking;
    /// false when it closed the connection.
    func drain(fd: Int32) -> Bool {
        var scratch = [UInt8](repeating: 0, count: 4096)
        // Non-blocking for the reads only: a record that is not application data (a session
        // ticket) must not make SSL_read wait for more.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        while true {
            let n = scratch.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 { continue }
            let code = SSL_get_error(ssl, n)
            switch code {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return true  // a partial record; the rest comes later
            default:
                lastFailure = failure(code)
                return false
            }
        }
    }

    private func failure(_ code: Int32) -> String {
        switch code {
        case SSL_ERROR_ZERO_RETURN: return "the server closed the TLS session"
        case SSL_ERROR_SYSCALL: return "connection lost (\(errno == 0 ? "closed by the server" : String(cString: strerror(errno))))"
        default: return openSSLErrors()
        }
    }

    func shutdown() { SSL_shutdown(ssl) }
}

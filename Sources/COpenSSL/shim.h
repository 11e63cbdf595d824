#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

// OpenSSL spells these as function-like macros, which Swift does not import.
static inline int uasense_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *uasense_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
static inline void uasense_sk_X509_free_all(STACK_OF(X509) *sk) { sk_X509_pop_free(sk, X509_free); }
static inline long uasense_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *cert) { return SSL_CTX_add1_chain_cert(ctx, cert); }
static inline long uasense_ctx_min_tls12(SSL_CTX *ctx) { return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline long uasense_set_sni(SSL *ssl, const char *host) { return SSL_set_tlsext_host_name(ssl, host); }

#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

/* What Swift cannot import from OpenSSL's headers (function-like macros, 64-bit option bits), as small functions,
 * and the server's ALPN choice. Used by SIOLoop's TLS layer (TLSContext.swift, TLSSession.swift). */

static inline int sio_ssl_ctx_configure(SSL_CTX *ctx) {
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) return 0;
    /* Renegotiation off (TLS 1.3 has none); no compression (CRIME); the server's cipher order. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle connections give their record buffers back (about 34 KB each otherwise). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* No server-side session cache (it would keep every session for its timeout): resumption uses stateless
     * tickets, whose keys belong to this context, so every loop of a server honours them. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return 1;
}

static inline long sio_ssl_ctx_add0_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return SSL_CTX_add0_chain_cert(ctx, cert);
}

static inline long sio_ssl_ctx_set_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *), void *arg) {
    if (!SSL_CTX_set_tlsext_servername_callback(ctx, cb)) return 0;
    return SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}

/* ALPN: "http/1.1" when the client offers it; otherwise no ALPN answer (the client decides). */
static inline int sio_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                                  unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    unsigned int i = 0;
    while (i < inlen) {
        unsigned int len = in[i];
        if (i + 1 + len > inlen) break;
        if (len == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)len;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static inline void sio_ssl_ctx_set_alpn_http11(SSL_CTX *ctx) {
    SSL_CTX_set_alpn_select_cb(ctx, sio_alpn_select, NULL);
}

/* BIO retry flags (macros in bio.h). */
static inline void sio_bio_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void sio_bio_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

/* True for the error OpenSSL raises when plain HTTP arrives where a ClientHello was expected. */
static inline int sio_err_is_http_request(unsigned long code) {
    return ERR_GET_LIB(code) == ERR_LIB_SSL
        && (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST || ERR_GET_REASON(code) == SSL_R_HTTPS_PROXY_REQUEST);
}

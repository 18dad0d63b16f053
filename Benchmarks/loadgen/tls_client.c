/* tls_client: see tls_client.h. Runs on the load generator's one loop thread. */
#include "tls_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_client {
    SSL *ssl;
    BIO *rbio; /* ciphertext from the socket, read by OpenSSL */
    BIO *wbio; /* ciphertext from OpenSSL, for the socket */
    int ready;
    char error[160];
};

static SSL_CTX *ctx;
static const char *verify_host;

static void set_error(tls_client_t *t, const char *what, int ssl_err) {
    unsigned long e = ERR_peek_last_error();
    char reason[120] = "";
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    else if (ssl_err == SSL_ERROR_ZERO_RETURN) snprintf(reason, sizeof reason, "closed by the server");
    else if (ssl_err == SSL_ERROR_SYSCALL) snprintf(reason, sizeof reason, "unexpected end of stream");
    else snprintf(reason, sizeof reason, "SSL error %d", ssl_err);
    long v = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(t->error, sizeof t->error, "%s: %s (%s)", what, X509_verify_cert_error_string(v), reason);
    else
        snprintf(t->error, sizeof t->error, "%s: %s", what, reason);
    ERR_clear_error();
}

int tls_client_init(const char *ca_file, const char *host, char *err, size_t errlen) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        snprintf(err, errlen, "SSL_CTX_new failed");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* the server answers one handshake a connection: no tickets to keep, full handshakes every time */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* 10,000 idle clients in one process */
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            unsigned long e = ERR_get_error();
            snprintf(err, errlen, "--tls-ca %s: %s", ca_file, e ? ERR_reason_error_string(e) : "unreadable");
            return -1;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        verify_host = host;
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return 0;
}

tls_client_t *tls_client_new(void) {
    tls_client_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        if (t->ssl) SSL_free(t->ssl);
        else {
            BIO_free(t->rbio);
            BIO_free(t->wbio);
        }
        free(t);
        return NULL;
    }
    BIO_set_mem_eof_return(t->rbio, -1); /* an empty input BIO means "wait", not end of stream */
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both from here */
    SSL_set_connect_state(t->ssl);
    if (verify_host) {
        SSL_set_tlsext_host_name(t->ssl, verify_host);
        SSL_set1_host(t->ssl, verify_host);
    }
    return t;
}

void tls_client_free(tls_client_t *t) {
    if (!t) return;
    SSL_free(t->ssl);
    free(t);
}

int tls_client_feed(tls_client_t *t, const char *p, size_t n) {
    while (n) {
        int chunk = n > 1u << 30 ? 1 << 30 : (int)n;
        int w = BIO_write(t->rbio, p, chunk);
        if (w <= 0) {
            snprintf(t->error, sizeof t->error, "out of memory");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tls_client_handshake(tls_client_t *t) {
    if (t->ready) return 1;
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->ready = 1;
        return 1;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return 0;
    set_error(t, "tls handshake", e);
    return -1;
}

int tls_client_ready(const tls_client_t *t) { return t->ready; }

long tls_client_read(tls_client_t *t, char *dst, size_t cap) {
    size_t got = 0;
    int rc = SSL_read_ex(t->ssl, dst, cap, &got);
    if (rc == 1) return (long)got;
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return 0;
    set_error(t, "tls read", e);
    return e == SSL_ERROR_ZERO_RETURN ? -2 : -1;
}

int tls_client_write(tls_client_t *t, const char *p, size_t n) {
    if (!n) return 0;
    size_t done = 0;
    /* a memory BIO takes everything: one call writes it all (or fails) */
    if (SSL_write_ex(t->ssl, p, n, &done) == 1 && done == n) return 0;
    set_error(t, "tls write", SSL_get_error(t->ssl, 0));
    return -1;
}

size_t tls_client_pending(const tls_client_t *t) { return BIO_ctrl_pending(t->wbio); }

size_t tls_client_drain(tls_client_t *t, char *dst, size_t cap) {
    size_t got = 0;
    if (cap && BIO_read_ex(t->wbio, dst, cap, &got) != 1) return 0;
    return got;
}

const char *tls_client_error(const tls_client_t *t) { return t->error; }

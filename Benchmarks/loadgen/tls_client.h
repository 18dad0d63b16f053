/* tls_client: the load generator's TLS client, OpenSSL on memory BIOs.
 *
 * No socket here: the caller feeds the bytes it read (tls_client_feed) and sends what
 * tls_client_drain hands back, so everything runs in the libuv callbacks of its one loop,
 * never blocking. One SSL_CTX for the process (tls_client_init), one tls_client_t a connection.
 */
#ifndef LOADGEN_TLS_CLIENT_H
#define LOADGEN_TLS_CLIENT_H

#include <stddef.h>

typedef struct tls_client tls_client_t;

/* Makes the process's client context: TLS 1.2 and 1.3, ALPN http/1.1; ca_file NULL: no verification
 * (the benchmark's throwaway certificate), else the chain must verify against it and name host.
 * Returns 0, or -1 with a message in err. */
int tls_client_init(const char *ca_file, const char *host, char *err, size_t errlen);

tls_client_t *tls_client_new(void); /* NULL when out of memory */
void tls_client_free(tls_client_t *t);

/* Ciphertext read from the socket. Returns 0, or -1 (out of memory). */
int tls_client_feed(tls_client_t *t, const char *p, size_t n);

/* Advances the handshake: 1 done, 0 waiting for the peer, -1 failed (tls_client_error says why). */
int tls_client_handshake(tls_client_t *t);
int tls_client_ready(const tls_client_t *t);

/* Decrypted bytes: >0 bytes copied, 0 nothing more for now, -1 failed, -2 closed by the peer (close_notify). */
long tls_client_read(tls_client_t *t, char *dst, size_t cap);

/* Encrypts n bytes of plaintext (after the handshake). Returns 0, or -1. */
int tls_client_write(tls_client_t *t, const char *p, size_t n);

/* Ciphertext waiting for the socket: its size, and a copy of up to cap bytes (removed). */
size_t tls_client_pending(const tls_client_t *t);
size_t tls_client_drain(tls_client_t *t, char *dst, size_t cap);

/* The last failure, as OpenSSL names it. */
const char *tls_client_error(const tls_client_t *t);

#endif

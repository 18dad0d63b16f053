// hiredis 0.14 (Debian libhiredis-dev): the async API on a libuv loop, for SocketIORedis.
//
// The libuv glue is hiredis's own adapter (hiredis/adapters/libuv.h) with one fix, the one hiredis 1.0 made:
// libuv reports a socket error (POLLERR, e.g. a refused connection) by calling the poll callback with a non-zero
// status and stopping the handle; 0.14's adapter returns on that status, so hiredis never learns that the connect
// failed or the connection broke and the context hangs forever. Here the error is handed to hiredis as the events
// the context was waiting for, and hiredis's read/write path finds the socket error and reports it.
#ifndef SIO_CHIREDIS_SHIM_H
#define SIO_CHIREDIS_SHIM_H

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

typedef struct sio_redis_uv_events {
    redisAsyncContext *context;
    uv_poll_t handle;
    int events;
} sio_redis_uv_events;

static inline void sio_redis_uv_poll(uv_poll_t *handle, int status, int events) {
    sio_redis_uv_events *p = (sio_redis_uv_events *)handle->data;
    int ev = status ? p->events : events;
    if (p->context != NULL && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static inline void sio_redis_uv_update(sio_redis_uv_events *p) {
    if (p->events) {
        uv_poll_start(&p->handle, p->events, sio_redis_uv_poll);
    } else {
        uv_poll_stop(&p->handle);
    }
}

static inline void sio_redis_uv_add_read(void *privdata) {
    sio_redis_uv_events *p = (sio_redis_uv_events *)privdata;
    p->events |= UV_READABLE;
    sio_redis_uv_update(p);
}

static inline void sio_redis_uv_del_read(void *privdata) {
    sio_redis_uv_events *p = (sio_redis_uv_events *)privdata;
    p->events &= ~UV_READABLE;
    sio_redis_uv_update(p);
}

static inline void sio_redis_uv_add_write(void *privdata) {
    sio_redis_uv_events *p = (sio_redis_uv_events *)privdata;
    p->events |= UV_WRITABLE;
    sio_redis_uv_update(p);
}

static inline void sio_redis_uv_del_write(void *privdata) {
    sio_redis_uv_events *p = (sio_redis_uv_events *)privdata;
    p->events &= ~UV_WRITABLE;
    sio_redis_uv_update(p);
}

static inline void sio_redis_uv_on_close(uv_handle_t *handle) {
    free(handle->data);
}

static inline void sio_redis_uv_cleanup(void *privdata) {
    sio_redis_uv_events *p = (sio_redis_uv_events *)privdata;
    p->context = NULL;  // the context is being freed
    uv_close((uv_handle_t *)&p->handle, sio_redis_uv_on_close);
}

/// Attaches an async context to a libuv loop (passed untyped, so Swift does not need this module's view of
/// `uv_loop_t` to be CLibUV's). Returns REDIS_OK or REDIS_ERR.
static inline int sio_redis_libuv_attach(redisAsyncContext *ac, void *loop) {
    if (ac->ev.data != NULL) return REDIS_ERR;
    sio_redis_uv_events *p = (sio_redis_uv_events *)calloc(1, sizeof(*p));
    if (p == NULL) return REDIS_ERR;
    if (uv_poll_init((uv_loop_t *)loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    ac->ev.addRead = sio_redis_uv_add_read;
    ac->ev.delRead = sio_redis_uv_del_read;
    ac->ev.addWrite = sio_redis_uv_add_write;
    ac->ev.delWrite = sio_redis_uv_del_write;
    ac->ev.cleanup = sio_redis_uv_cleanup;
    ac->ev.data = p;
    p->handle.data = p;
    p->context = ac;
    return REDIS_OK;
}

/// The user pointer of an async context (callbacks receive a const context).
static inline void *sio_redis_context_data(const redisAsyncContext *ac) {
    return ac->data;
}

static inline void sio_redis_set_context_data(redisAsyncContext *ac, void *data) {
    ac->data = data;
}

/// The error of a context, or 0.
static inline int sio_redis_context_error(const redisAsyncContext *ac) {
    return ac->err;
}

static inline const char *sio_redis_context_errstr(const redisAsyncContext *ac) {
    return ac->errstr;
}

// A plain (not async) hiredis context in non-blocking mode on a libuv poll handle: hiredis writes the commands and
// parses the replies (its reader takes any reply), the caller matches them. For sharded pub/sub, whose `smessage`
// pushes hiredis 0.14's async API does not know (it aborts on them).

typedef void (*sio_redis_stream_events)(void *data, int status, int readable, int writable);

typedef struct sio_redis_stream {
    redisContext *context;
    uv_poll_t handle;
    sio_redis_stream_events callback;
    void *data;
} sio_redis_stream;

static inline void sio_redis_stream_poll(uv_poll_t *handle, int status, int events) {
    sio_redis_stream *s = (sio_redis_stream *)handle->data;
    if (s->callback != NULL) s->callback(s->data, status, (events & UV_READABLE) != 0, (events & UV_WRITABLE) != 0);
}

/// Starts a non-blocking connection; NULL with `error` filled when it cannot even start.
static inline sio_redis_stream *sio_redis_stream_connect(void *loop, const char *host, int port,
                                                         sio_redis_stream_events callback, void *data,
                                                         char *error, size_t error_size) {
    redisContext *c = redisConnectNonBlock(host, port);
    if (c == NULL || c->err) {
        snprintf(error, error_size, "%s", c == NULL ? "out of memory" : c->errstr);
        if (c != NULL) redisFree(c);
        return NULL;
    }
    sio_redis_stream *s = (sio_redis_stream *)calloc(1, sizeof(*s));
    if (s == NULL || uv_poll_init((uv_loop_t *)loop, &s->handle, c->fd) != 0) {
        snprintf(error, error_size, "cannot watch the socket");
        free(s);
        redisFree(c);
        return NULL;
    }
    s->context = c;
    s->callback = callback;
    s->data = data;
    s->handle.data = s;
    return s;
}

/// Waits for input, and for the socket to take more output when `writable`.
static inline int sio_redis_stream_watch(sio_redis_stream *s, int writable) {
    return uv_poll_start(&s->handle, UV_READABLE | (writable ? UV_WRITABLE : 0), sio_redis_stream_poll);
}

static inline void sio_redis_stream_on_close(uv_handle_t *handle) {
    sio_redis_stream *s = (sio_redis_stream *)handle->data;
    redisFree(s->context);  // closes the socket, once libuv no longer polls it
    free(s);
}

/// No callback from now on; the socket and memory go once libuv closed the handle.
static inline void sio_redis_stream_close(sio_redis_stream *s) {
    s->callback = NULL;
    uv_poll_stop(&s->handle);
    uv_close((uv_handle_t *)&s->handle, sio_redis_stream_on_close);
}

static inline redisContext *sio_redis_stream_context(sio_redis_stream *s) { return s->context; }

static inline int sio_redis_sync_error(const redisContext *c) { return c->err; }

static inline const char *sio_redis_sync_errstr(const redisContext *c) { return c->errstr; }

#endif

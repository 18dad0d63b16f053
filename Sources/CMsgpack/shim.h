// msgpack-c (Debian libmsgpack-dev, the C API), for SocketIORedis.
#ifndef SIO_CMSGPACK_SHIM_H
#define SIO_CMSGPACK_SHIM_H

#include <msgpack.h>

/// A packer writing into a simple buffer (the write callback is a static inline function of the header, which
/// Swift cannot take the address of).
static inline void sio_msgpack_packer_init_sbuffer(msgpack_packer *pk, msgpack_sbuffer *sbuf) {
    msgpack_packer_init(pk, sbuf, msgpack_sbuffer_write);
}

#endif

#include <uv.h>

#include <sys/ioctl.h>
#if defined(__linux__)
#include <linux/sockios.h>
#endif

/* Bytes written to a TCP socket that its peer has not acknowledged (sent or not), or -1 where unknown. */
static inline int sio_socket_unacknowledged_bytes(int fd) {
#if defined(SIOCOUTQ)
    int bytes = 0;
    return ioctl(fd, SIOCOUTQ, &bytes) == 0 ? bytes : -1;
#else
    (void)fd;
    return -1;
#endif
}

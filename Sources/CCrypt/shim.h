// libxcrypt (Debian libcrypt-dev): the declarations of crypt_rn and struct crypt_data. Not linked: libsio loads
// libcrypt.so.1 when a bcrypt hash is first checked (SocketIO/Admin/Bcrypt.swift), so that the library and the wheel
// do not depend on it (glibc 2.38 no longer ships it, and a bundled copy would raise the wheel's glibc baseline).
#include <crypt.h>

// libxcrypt (Debian libcrypt-dev): crypt_rn verifies the admin UI's bcrypt password hash.
#include <crypt.h>

# libsio for C users.
#
#   make lib                          build build/lib/libsio.so.* (scripts/build-libsio.sh: swift build, release)
#   make install PREFIX=/usr/local    install lib, include and lib/pkgconfig/sio.pc (DESTDIR honoured)
#   make uninstall PREFIX=...         remove what install put there
#   make examples                     build examples/c against an installed sio (pkg-config) or else build/
#   make check-c                      the C ABI tests (Tests/c, pytest)
#   make wheel                        build/wheels/sio_server-*.whl: the Python binding with libsio and its C
#                                     libraries inside (scripts/build-wheel.sh, auditwheel: manylinux)
#   make package                      build/packages/sio-*.tar.gz: lib, include, a relocatable sio.pc
#   make check-packaging              install both into temporary places, run them without the toolchain
#                                     (Tests/packaging, pytest; root for the mount namespace)
#   make examples-cpp                 build examples/cpp with Include/sio.hpp (header-only), sio as for examples
#   make check-cpp                    the C++ API tests (Tests/cpp, pytest)
#
# `install` takes the library from $(SIO_LIB_DIR) (default build/lib) and never rebuilds it: run `make lib` first.

PREFIX      ?= /usr/local
DESTDIR     ?=
SIO_LIB_DIR ?= build/lib
PYTEST      ?= .venv/bin/pytest
EXAMPLES_OUT ?= build/examples
CFLAGS      ?= -O2 -g
WARNINGS    := -std=c11 -Wall -Wextra -Werror -pedantic

VERSION := $(shell sed -n 's/^.define SIO_VERSION_STRING "\(.*\)"/\1/p' Include/sio.h)
MAJOR   := $(shell sed -n 's/^.define SIO_VERSION_MAJOR \([0-9]*\)/\1/p' Include/sio.h)
LIBFILE := libsio.so.$(VERSION)

libdir      := $(DESTDIR)$(PREFIX)/lib
includedir  := $(DESTDIR)$(PREFIX)/include
pkgconfigdir := $(libdir)/pkgconfig

# Examples: an installed sio found by pkg-config (PKG_CONFIG_PATH decides which), else the build tree.
HAVE_PC  = $(shell pkg-config --exists sio 2>/dev/null && echo yes)
SIO_CFLAGS = $(if $(HAVE_PC),$(shell pkg-config --cflags sio),-IInclude)
SIO_LIBS   = $(if $(HAVE_PC),$(shell pkg-config --libs sio),-L$(SIO_LIB_DIR) -Wl,-rpath,$(abspath $(SIO_LIB_DIR)) -lsio)

.PHONY: all lib install uninstall examples check-c wheel package check-packaging

all: lib

lib:
	scripts/build-libsio.sh

install:
	@test -f $(SIO_LIB_DIR)/$(LIBFILE) || { echo "no $(SIO_LIB_DIR)/$(LIBFILE): run 'make lib' first" >&2; exit 1; }
	install -d $(libdir) $(includedir) $(pkgconfigdir)
	install -m 755 $(SIO_LIB_DIR)/$(LIBFILE) $(libdir)/$(LIBFILE)
	ln -sf $(LIBFILE) $(libdir)/libsio.so.$(MAJOR)
	ln -sf libsio.so.$(MAJOR) $(libdir)/libsio.so
	install -m 644 Include/sio.h $(includedir)/sio.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' scripts/sio.pc.in > $(pkgconfigdir)/sio.pc
	chmod 644 $(pkgconfigdir)/sio.pc

uninstall:
	rm -f $(libdir)/$(LIBFILE) $(libdir)/libsio.so.$(MAJOR) $(libdir)/libsio.so $(includedir)/sio.h \
	      $(pkgconfigdir)/sio.pc

HOST_LOOP_EXAMPLES := $(EXAMPLES_OUT)/host_loop_chat $(EXAMPLES_OUT)/host_loop_chat_threaded

examples: $(EXAMPLES_OUT)/chat_server $(EXAMPLES_OUT)/poll_chat $(HOST_LOOP_EXAMPLES)

# The README's asyncio example (sio.AsyncServer) as the same program in C, kept for the comparison there.
$(EXAMPLES_OUT)/poll_chat: examples/c/poll_chat.c Include/sio.h
	@mkdir -p $(EXAMPLES_OUT)
	$(CC) $(WARNINGS) $(CFLAGS) $(SIO_CFLAGS) -o $@ $< $(SIO_LIBS) -lpthread

# The server inside the program's own libuv loop, and the same program with the server on a thread (its baseline).
$(HOST_LOOP_EXAMPLES): $(EXAMPLES_OUT)/%: examples/c/%.c examples/c/roll_call_chat.h Include/sio.h
	@mkdir -p $(EXAMPLES_OUT)
	$(CC) $(WARNINGS) $(CFLAGS) $(SIO_CFLAGS) -o $@ $< $(SIO_LIBS) -luv -lpthread

$(EXAMPLES_OUT)/chat_server: examples/c/chat_server.c Include/sio.h
	@mkdir -p $(EXAMPLES_OUT)
	@echo "sio from: $(if $(HAVE_PC),pkg-config ($(shell pkg-config --variable=prefix sio)),$(SIO_LIB_DIR))"
	$(CC) $(WARNINGS) $(CFLAGS) $(SIO_CFLAGS) -o $@ $< $(SIO_LIBS) -lpthread

check-c:
	SIO_LIB_DIR=$(abspath $(SIO_LIB_DIR)) $(PYTEST) Tests/c

# C++: Include/sio.hpp is header-only over sio.h. <sio.h> resolves as for the C examples (pkg-config first),
# sio.hpp comes from Include/ unless an installed copy sits beside the installed sio.h.
CXXFLAGS     ?= -O2 -g
CXX_WARNINGS := -std=c++17 -Wall -Wextra -Werror -pedantic

.PHONY: examples-cpp check-cpp

examples-cpp: $(EXAMPLES_OUT)/chat_server_cpp

$(EXAMPLES_OUT)/chat_server_cpp: examples/cpp/chat_server.cpp Include/sio.hpp Include/sio.h
	@mkdir -p $(EXAMPLES_OUT)
	@echo "sio from: $(if $(HAVE_PC),pkg-config ($(shell pkg-config --variable=prefix sio)),$(SIO_LIB_DIR))"
	$(CXX) $(CXX_WARNINGS) $(CXXFLAGS) $(SIO_CFLAGS) -IInclude -o $@ $< $(SIO_LIBS) -lpthread

check-cpp:
	SIO_LIB_DIR=$(abspath $(SIO_LIB_DIR)) $(PYTEST) Tests/cpp

# Installable artefacts for users without Swift (each script builds the library unless SIO_LIB_DIR is set, and
# prints the artefact's path last), and their tests.
wheel:
	scripts/build-wheel.sh

package:
	scripts/build-package.sh

check-packaging:
	SIO_LIB_DIR=$(abspath $(SIO_LIB_DIR)) $(PYTEST) Tests/packaging

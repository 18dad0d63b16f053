# libsio for C users.
#
#   make lib                          build build/lib/libsio.so.* (scripts/build-libsio.sh: swift build, release)
#   make install PREFIX=/usr/local    install lib, include and lib/pkgconfig/sio.pc (DESTDIR honoured)
#   make uninstall PREFIX=...         remove what install put there
#   make examples                     build examples/c against an installed sio (pkg-config) or else build/
#   make check-c                      the C ABI tests (Tests/c, pytest)
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

.PHONY: all lib install uninstall examples check-c

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

examples: $(EXAMPLES_OUT)/chat_server

$(EXAMPLES_OUT)/chat_server: examples/c/chat_server.c Include/sio.h
	@mkdir -p $(EXAMPLES_OUT)
	@echo "sio from: $(if $(HAVE_PC),pkg-config ($(shell pkg-config --variable=prefix sio)),$(SIO_LIB_DIR))"
	$(CC) $(WARNINGS) $(CFLAGS) $(SIO_CFLAGS) -o $@ $< $(SIO_LIBS) -lpthread

check-c:
	SIO_LIB_DIR=$(abspath $(SIO_LIB_DIR)) $(PYTEST) Tests/c

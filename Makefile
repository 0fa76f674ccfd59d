# simpletuner.c — build, set-up, tests.
#   make            build build/simpletuner
#   make deps       install the Debian packages the project needs (only the missing ones)
#   make test       deps + build + every test (unit, golden, end-to-end); SANITIZE=1 for ASan+UBSan
#   make demo       deps + build + the main job on the bundled tiny model
#   make fuzz [FUZZ_SECONDS=N] [FUZZ_RUNS=N]  clang libFuzzer + ASan/UBSan on every reader (tests/fuzz/):
#                   N seconds (default 60) or N executions per target
#   make crash-test build + kill -9 the tiny training at 60+ moments, resume, compare (tools/crash_test.sh)
#   make install    build + install into $(DESTDIR)$(PREFIX) (PREFIX=/usr/local): bin/simpletuner, the presets in
#                   share/simpletuner/examples (where the installed binary finds them), README and docs in
#                   share/doc/simpletuner; make uninstall removes them
CC      ?= gcc
ARCH    := $(shell uname -m)-linux-gnu
BLASINC := /usr/include/$(ARCH)/openblas-openmp
BLASLIB := /usr/lib/$(ARCH)/openblas-openmp
# Open MPI (data-parallel training under mpirun; a process started without mpirun never initialises it)
MPIINC  := -I/usr/lib/$(ARCH)/openmpi/include -I/usr/lib/$(ARCH)/openmpi/include/openmpi
MPILIB  := -L/usr/lib/$(ARCH)/openmpi/lib -lmpi
CFLAGS  := -std=c17 -O2 -g -fopenmp -Wall -Wextra -D_GNU_SOURCE -Isrc -I$(BLASINC) $(MPIINC) $(EXTRA_CFLAGS)
LDLIBS  := -L$(BLASLIB) -Wl,-rpath,$(BLASLIB) $(MPILIB) -lopenblas -lcjson -lpcre2-8 -lutf8proc -lpng -ljpeg -lwebp -lwebpdemux -lmicrohttpd -lm
BUILD   := build
ifeq ($(SANITIZE),1)
  CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build/san
endif

# Debian 12 packages needed to build and test (make deps installs the missing ones); NAME=CMD is
# satisfied by CMD on the PATH too. The tests use bash, coreutils (sha256sum, timeout, od, dd),
# diffutils (cmp), findutils, grep, sed, awk, file, and node + npm for the tokenizer conformance
# test, whose npm package tools/npm_deps.sh installs into ~/.cache/simpletuner/npm. The WebUI
# (simpletuner server) needs libmicrohttpd; its tests use curl, and its browser test Debian's
# chromium driven by npm playwright-core (tools/npm_deps.sh; chromium is optional: without it that
# one test is skipped).
DEB_PACKAGES := gcc make pkg-config libopenblas-openmp-dev libcjson-dev libpcre2-dev libutf8proc-dev \
                libjpeg62-turbo-dev libpng-dev libwebp-dev libcmocka-dev libopenmpi-dev openmpi-bin=mpirun \
                libmicrohttpd-dev curl \
                bash coreutils diffutils findutils grep sed mawk=awk file nodejs=node npm=npm
BROWSER_PACKAGES := chromium

# What `make fuzz` adds: clang, its libFuzzer/sanitizer runtimes, llvm-symbolizer for readable stacks,
# and the OpenMP header clang needs for src/cli/bench_cmd.c.
FUZZ_PACKAGES := clang libclang-rt-dev llvm libomp-dev

SRC      := $(shell find src -name '*.c' | sort)
LIBSRC   := $(filter-out src/main.c,$(SRC))
# The WebUI's pages, scripts and styles, compiled into the library by tools/embed_assets.c.
ASSETS   := $(sort $(shell find src/server/assets -type f))
LIBOBJ   := $(LIBSRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/gen/server_assets.o
TESTSRC  := $(sort $(wildcard tests/unit/test_*.c))
TESTBIN  := $(TESTSRC:tests/unit/%.c=$(BUILD)/tests/%)
BIN      := $(BUILD)/simpletuner

.PHONY: all deps test demo clean bench crash-test fuzz fuzz-deps fuzz-build fuzz-corpus install uninstall
all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/embed_assets: tools/embed_assets.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra $< -o $@

$(BUILD)/gen/server_assets.c: $(ASSETS) $(BUILD)/embed_assets
	@mkdir -p $(dir $@)
	$(BUILD)/embed_assets $@ src/server/assets $(ASSETS)

$(BUILD)/gen/server_assets.o: $(BUILD)/gen/server_assets.c src/server/assets.h
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsimpletuner.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/src/main.o $(BUILD)/libsimpletuner.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libsimpletuner.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libsimpletuner.a -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsimpletuner.a tests/unit/test_util.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit $< $(BUILD)/libsimpletuner.a -o $@ $(LDLIBS) -lcmocka

deps:
	@sh tools/deps.sh $(DEB_PACKAGES)
	@sh tools/deps.sh $(BROWSER_PACKAGES) || echo "deps: chromium not installed: test_server_browser will be skipped"
	@bash tools/npm_deps.sh >/dev/null || echo "deps: npm packages not installed: test_tokenizer_conformance and test_server_browser will be skipped"

# the bench programs are built by make test too, so that a change that breaks them is seen at once
BENCHBIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN) $(BENCHBIN)
	@BUILD=$(BUILD) bash tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh tools/demo.sh $(BIN)

crash-test: $(BIN)
	@bash tools/crash_test.sh $(BIN)

bench: $(BIN)
	@sh bench/run.sh $(BIN)

clean:
	rm -rf build

# The installed binary finds its presets at <its folder>/../share/simpletuner/examples
# (config_examples_dir); INSTALL_BIN installs another build (e.g. build/san/simpletuner).
PREFIX      ?= /usr/local
INSTALL_BIN ?= $(BIN)
SHAREDIR    := $(DESTDIR)$(PREFIX)/share/simpletuner
DOCDIR      := $(DESTDIR)$(PREFIX)/share/doc/simpletuner

install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(SHAREDIR) $(DOCDIR)
	install -m 755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/simpletuner
	rm -rf $(SHAREDIR)/examples
	cp -R examples $(SHAREDIR)/examples
	chmod -R u+rwX,go+rX,go-w $(SHAREDIR)/examples
	install -m 644 README.md docs/*.md $(DOCDIR)/
	@echo "installed $(DESTDIR)$(PREFIX)/bin/simpletuner (presets in $(SHAREDIR)/examples, docs in $(DOCDIR))"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/simpletuner
	rm -rf $(SHAREDIR) $(DOCDIR)

# ---- fuzzing (not part of `make test`) ----
# The library is rebuilt with clang for libFuzzer (coverage) + ASan + UBSan into build/fuzz/, without
# OpenMP (single-threaded readers, and clang's libomp would meet the libgomp of OpenBLAS); each
# tests/fuzz/fuzz_<target>.c links it with -fsanitize=fuzzer.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS  := -std=c17 -O1 -g -Wall -Wextra -D_GNU_SOURCE -Isrc -I$(BLASINC) $(MPIINC) -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_LIBOBJ  := $(LIBSRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/gen/server_assets.o

$(FUZZ_BUILD)/gen/server_assets.o: $(BUILD)/gen/server_assets.c src/server/assets.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libsimpletuner.a: $(FUZZ_LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_BUILD)/libsimpletuner.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< $(FUZZ_BUILD)/libsimpletuner.a -o $@ $(LDLIBS)

fuzz-deps:
	@sh tools/deps.sh $(DEB_PACKAGES) $(FUZZ_PACKAGES)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

fuzz: fuzz-build
	@FUZZ_RUNS=$(FUZZ_RUNS) sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_TARGETS)

# Rewrites the committed seed corpora tests/fuzz/corpus/<target>/ (normal gcc build of the library).
$(BUILD)/make_corpus: tests/fuzz/make_corpus.c tests/fuzz/fuzz_common.h $(BUILD)/libsimpletuner.a
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/fuzz $< $(BUILD)/libsimpletuner.a -o $@ $(LDLIBS)

fuzz-corpus: $(BUILD)/make_corpus
	$(BUILD)/make_corpus tests/fuzz/corpus

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
ifneq ($(filter fuzz%,$(MAKECMDGOALS)),)
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
endif

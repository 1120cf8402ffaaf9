# Thin front door, as QEMU's own Makefile is: the commands people type stay
# stable while the scripts behind them change. Every target installs or builds
# what it needs first. See README.md.

MESON_BUILD := build/meson
PY          := /usr/bin/python3

.PHONY: all deps qemu native guest run check check-full check-asan check-queue bench prepare export-patches clean help

all: qemu native guest

help:
	@echo "make run          build everything, live-migrate a test guest, print the figures"
	@echo "make check        unit tests + upstream migration-test (quick) + end-to-end migrations + two-host libvirt test"
	@echo "make check-full   check, with migration-test --full, check-asan, check-queue and the fuzz targets"
	@echo "make check-asan   the scheduler's qtests and failure tests on an ASan+UBSan build"
	@echo "make check-queue  checkpatch every patch, then build and test every prefix of qemu/patches"
	@echo "make bench        the baseline benchmark matrix (long: about an hour)"
	@echo "make bench-warm   page-cache warm-up benchmark on the testbed (root; about 20 min)"
	@echo "make prepare      recreate build/qemu-src (pinned upstream + qemu/patches)"
	@echo "make export-patches  regenerate qemu/patches from build/qemu-src"
	@echo "make clean        remove build outputs (keeps downloads in build/cache)"

deps:
	@scripts/install-deps.sh

prepare: deps
	@scripts/qemu-prepare.sh

export-patches:
	@scripts/qemu-export-patches.sh

qemu: prepare
	@scripts/qemu-build.sh

native: deps
	@test -f $(MESON_BUILD)/build.ninja || meson setup -Dbuildtype=debugoptimized $(MESON_BUILD) >/dev/null
	@ninja -C $(MESON_BUILD) >/dev/null || ninja -C $(MESON_BUILD)

guest: native
	@scripts/build-guest.sh

run: qemu guest
	@scripts/demo.sh

check: qemu guest
	@scripts/check.sh

check-full: qemu guest
	@scripts/check.sh --full

check-asan: prepare guest
	@scripts/check-asan.sh

check-queue: prepare
	@scripts/check-queue.sh

bench: qemu guest
	@$(PY) scripts/migbench bench --preset baseline

# Seed 003's experiment, docs/warm-up.md (needs no QEMU).
.PHONY: bench-warm
bench-warm: native
	@BENCH_IMAGE_MIB="1024 256" tests/warm-testbed/bench.sh docs/warm-up

clean:
	rm -rf build/qemu build/qemu-asan build/meson build/guest build/test-logs

# ztgate build. `make deps` installs everything from Debian's packages.
# Outputs go to build/ (normal) and build/san/ (ASan+UBSan, used by tests).

PREFIX      ?= /usr/local
BUILD       := build
CC          ?= gcc
CLANG       ?= clang
BPFTOOL     ?= bpftool
ARCH        := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH   := $(shell $(CC) -print-multiarch)

# The release this tree builds, and the commit: "0.1.0-g1fea42f" ("-dirty" with
# uncommitted changes). Only lib/version.o carries it, rebuilt when it changes.
ZT_RELEASE  := 0.1.0
GIT_REV     := $(shell git describe --always --dirty --abbrev=7 2>/dev/null)
VERSION     := $(ZT_RELEASE)$(if $(GIT_REV),-g$(GIT_REV))
$(shell mkdir -p $(BUILD) && (echo '$(VERSION)' | cmp -s - $(BUILD)/version.txt || \
	echo '$(VERSION)' > $(BUILD)/version.txt))

# BoringSSL from Debian's android-libboringssl-dev, linked with an rpath.
BORINGSSL_INC := /usr/include/android
BORINGSSL_LIB := /usr/lib/$(MULTIARCH)/android
CRYPTO_LIBS   := -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto

# Includes name their layer: "lib/log.h", "tunnel/noise.h" (daemon/),
# "ztgate/maps.h" (include/, shared with BPF), skeletons from $(BUILD).
INCLUDES    := -I. -Idaemon -Iinclude -I$(BUILD) -isystem $(BORINGSSL_INC) -isystem /usr/include/postgresql
CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -g -MMD -MP $(INCLUDES)
CFLAGS      ?= -O2
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# No -lpq: libpq (and its OpenSSL) is loaded at run time into a link-map
# namespace of its own (daemon/controller/pq.c), away from BoringSSL; its
# headers (-isystem above) give only the types. The .deb names libpq5.
LDLIBS      := -lbpf -lxdp -ljson-c -lelf -lz -lcares -lnftables -lsystemd -lmicrohttpd -lsqlite3 $(CRYPTO_LIBS)

BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Ibpf -Iinclude \
	-Wall -Wno-unused-function -Werror -MMD -MP

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# User space: lib/ (shared pieces), daemon/<concern>/ (the daemon's modules),
# daemon/main.c (role dispatch), cli/. The CLI and the tests link the modules
# they need from the same objects (one file per concern, no copies).
LIB_SRCS    := $(wildcard lib/*.c)
DAEMON_SRCS := $(wildcard daemon/*/*.c)
MAIN_SRC    := daemon/main.c
CLI_SRCS    := $(wildcard cli/*.c)
# keygen/pubkey run without a daemon (BoringSSL's X25519 and base64);
# netcheck speaks STUN from its own socket; remote `admin` speaks the node protocol
# (controlplane/conn.c over lib/loop.c).
CLI_DEPS    := lib/json_io.c lib/addr.c lib/version.c lib/loop.c daemon/tunnel/keys.c daemon/tunnel/noise.c \
	daemon/controlplane/conn.c daemon/controlplane/msg.c daemon/controlplane/token.c \
	daemon/relay/stun.c
CLI_LDLIBS  := -ljson-c -lz $(CRYPTO_LIBS)

OBJ         := $(BUILD)/obj
SAN_OBJ     := $(BUILD)/san/obj
obj          = $(patsubst %.c,$(OBJ)/%.o,$(1))
sanobj       = $(patsubst %.c,$(SAN_OBJ)/%.o,$(1))

MODULE_SRCS := $(LIB_SRCS) $(DAEMON_SRCS)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/san/%,$(UNIT_SRCS))
BPFT_SRCS   := $(wildcard tests/bpf/test_*.c)
BPFT_BINS   := $(patsubst tests/bpf/%.c,$(BUILD)/san/%,$(BPFT_SRCS))

.PHONY: all deb deps test test-layout test-unit test-pg test-bpf test-integration test-fuzz fuzz-long bench demo \
	install clean vmlinux san image k8s-validate

all: $(BUILD)/ztgated $(BUILD)/ztgate $(BPF_OBJS)

deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		make gcc clang llvm libbpf-dev libxdp-dev xdp-tools bpftool \
		libelf-dev zlib1g-dev pkg-config libc-ares-dev \
		android-libboringssl-dev libcmocka-dev libjson-c-dev libnftables-dev \
		libclang-rt-14-dev libsystemd-dev libmicrohttpd-dev prometheus scdoc dpkg-dev systemd iproute2 nmap ncat nftables netsniff-ng \
		iperf3 hping3 dnsutils dnsmasq-base dnsperf jq curl tcpdump socat procps util-linux \
		iputils-ping python3 wireguard-go wireguard-tools conntrack coturn \
		libsqlite3-dev sqlite3 libpq-dev postgresql-15 tzdata \
		buildah podman runc nodejs
	# npm: Debian's package, unless the nodejs installed already carries it
	# (NodeSource's does, and conflicts with Debian's npm).
	command -v npm >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends npm

# vmlinux.h is checked in; regenerate it on a kernel with BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

$(BUILD) $(BUILD)/san $(BUILD)/fuzz:
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c vmlinux/vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The uplink guard's per-source bucket moves by compare-and-swap (BPF ISA v3 atomics).
$(BUILD)/zt_uplink.bpf.o: BPF_CFLAGS += -mcpu=v3

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

# One object per source, its header dependencies from -MMD. Every object waits
# for the skeletons (the loaders include them; a new one is generated first).
$(OBJ)/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -c $< -o $@

VERSION_OBJS := $(OBJ)/lib/version.o $(SAN_OBJ)/lib/version.o $(BUILD)/fuzz/obj/lib/version.o
$(VERSION_OBJS): $(BUILD)/version.txt
$(VERSION_OBJS): CFLAGS_COMMON += -DZT_VERSION='"$(VERSION)"'

$(SAN_OBJ)/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) -c $< -o $@

# libpq's namespace's first object (daemon/controller/pqns/keys.c): no libc, no
# sanitizer (nothing in that namespace is instrumented), carried inside pq.o.
PQ_KEYS_SO := $(BUILD)/pq_keys.so
$(PQ_KEYS_SO): daemon/controller/pqns/keys.c daemon/controller/pq.h | $(BUILD)
	$(CC) -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE $(INCLUDES) -O2 -fPIC -shared -nostdlib \
		-fno-stack-protector -Wl,-z,defs -s $< -o $@
PQ_OBJS := $(call obj,daemon/controller/pq.c) $(call sanobj,daemon/controller/pq.c)
$(PQ_OBJS): $(PQ_KEYS_SO)
$(PQ_OBJS): CFLAGS_COMMON += -DZT_PQ_KEYS_SO='"$(PQ_KEYS_SO)"'

$(BUILD)/ztgated: $(call obj,$(MAIN_SRC) $(MODULE_SRCS)) | $(BUILD)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/ztgate: $(call obj,$(CLI_SRCS) $(CLI_DEPS)) | $(BUILD)
	$(CC) $(CFLAGS) $^ -o $@ $(CLI_LDLIBS)

# Sanitizer builds: the daemon and CLI the integration tests run, and tests.
# The modules are compiled once for all of them.
san: $(BUILD)/san/ztgated $(BUILD)/san/ztgate $(BUILD)/san/uplink_tool $(BUILD)/san/relay_tool \
	$(BUILD)/san/ctlstub_tool $(BUILD)/san/ctlload

SAN_MODULES := $(call sanobj,$(MODULE_SRCS))

$(BUILD)/san/ztgated: $(call sanobj,$(MAIN_SRC)) $(SAN_MODULES)
	$(CC) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/san/ztgate: $(call sanobj,$(CLI_SRCS) $(CLI_DEPS))
	$(CC) $(SAN_FLAGS) $^ -o $@ $(CLI_LDLIBS)

# A real node for the controller's tests (controller_admin: a service account key expiring).
$(BUILD)/san/ctlload: $(call sanobj,bench/ctlload.c) $(SAN_MODULES)
	$(CC) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

# Unit and BPF tests, and the integration tests' tools (uplink_tool drives
# the uplink guard, relay_tool is a relay peer): each one source on the modules.
$(BUILD)/san/test_%: $(SAN_OBJ)/tests/unit/test_%.o $(SAN_MODULES)
	$(CC) $(SAN_FLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(BUILD)/san/test_%: $(SAN_OBJ)/tests/bpf/test_%.o $(SAN_MODULES) $(BPF_OBJS)
	$(CC) $(SAN_FLAGS) $(filter %.o,$(filter-out %.bpf.o,$^)) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/san/%_tool: $(SAN_OBJ)/tests/tools/%_tool.o $(SAN_MODULES)
	$(CC) $(SAN_FLAGS) $^ -o $@ $(LDLIBS)

test: test-layout test-unit test-pg test-bpf test-fuzz test-integration

# The tree's shape (tests/lint/layout.py): layers, include cycles, function
# length, header comments, shared constants defined once.
test-layout:
	python3 tests/lint/layout.py

test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The controller's unit tests again on a throwaway PostgreSQL 15 (tests/pg.sh).
CTL_UNIT_BINS := $(filter $(BUILD)/san/test_controller_%,$(UNIT_BINS))
test-pg: $(CTL_UNIT_BINS)
	bash tests/pg.sh $(CTL_UNIT_BINS)

test-bpf: $(BPFT_BINS)
	@set -e; for t in $(BPFT_BINS); do echo "== $$t"; $$t; done

# libFuzzer targets, one per parser of outside bytes: tests/fuzz/fuzz_NAME.c
# with its seeds in tests/fuzz/corpus-NAME/, linked with the modules it
# exercises (FUZZ_NAME). A short run on every `make test` (5 s each, keeping
# `make test` under 15 minutes with the integration suite), longer by hand with
# `make fuzz-long` below.
FUZZ_SECONDS ?= 3
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_OBJ     := $(BUILD)/fuzz/obj
FUZZ_CFLAGS  := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -g -O1 -MMD -MP $(INCLUDES) \
	-fsanitize=fuzzer-no-link,address,undefined

FUZZ_policy  := lib/json_io.c $(addprefix daemon/policy/,model.c entry.c match.c doc_read.c \
	doc_check.c doc_write.c diff.c) lib/ports.c lib/addr.c lib/dns_name.c \
	daemon/tunnel/keys.c daemon/tunnel/noise.c lib/log.c
FUZZ_dns     := daemon/dns/codec.c daemon/dns/cache.c lib/addr.c lib/dns_name.c
FUZZ_stun    := daemon/relay/stun.c
FUZZ_tunnel  := daemon/tunnel/tunnel.c daemon/tunnel/session.c daemon/tunnel/timers.c \
	daemon/tunnel/send.c daemon/tunnel/recv.c daemon/tunnel/wire.c daemon/tunnel/noise.c \
	lib/loop.c lib/udp_batch.c
FUZZ_relay   := daemon/relay/proto.c lib/addr.c
FUZZ_bind    := daemon/forward/bind_msg.c lib/dns_name.c
FUZZ_offload := daemon/netdev/offload.c lib/csum.c
FUZZ_relay_server := daemon/relay/server.c daemon/relay/proto.c daemon/relay/stun.c \
	daemon/tunnel/keys.c daemon/tunnel/noise.c lib/addr.c lib/udp_batch.c lib/loop.c lib/log.c
FUZZ_relay_client := daemon/relay/client.c daemon/relay/proto.c daemon/tunnel/noise.c \
	lib/addr.c lib/ares_loop.c lib/loop.c lib/log.c
FUZZ_paths   := daemon/path/paths.c daemon/path/cand.c $(FUZZ_tunnel) daemon/tunnel/keys.c daemon/tunnel/status.c lib/addr.c lib/log.c
FUZZ_control := $(FUZZ_policy) daemon/policy/edit.c
FUZZ_view_delta := daemon/controlplane/delta.c
FUZZ_cp_conn := daemon/controller/node_server.c daemon/controller/node_view.c \
	daemon/controlplane/conn.c daemon/controlplane/viewsig.c daemon/controlplane/delta.c \
	daemon/controlplane/msg.c daemon/controlplane/token.c daemon/tunnel/noise.c \
	daemon/tunnel/keys.c lib/addr.c lib/loop.c lib/log.c lib/json_io.c

$(FUZZ_OBJ)/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

fuzz_objs = $(addprefix $(FUZZ_OBJ)/,$(patsubst %.c,%.o,$(FUZZ_$(1))))

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $$(call fuzz_objs,$$*) | $(BUILD)/fuzz
	$(CLANG) -fsanitize=fuzzer,address,undefined $^ -o $@ -ljson-c -lz -lcares $(CRYPTO_LIBS)

test-fuzz: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
		d=$$(mktemp -d); log=$$d.log; \
		if $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) "$$d" tests/fuzz/corpus-$$n \
			> "$$log" 2>&1; then echo "fuzz_$$n: $$(tail -n 1 "$$log")"; rm -rf "$$d" "$$log"; \
		else cat "$$log"; rm -rf "$$d" "$$log"; echo "fuzz_$$n: FAILED"; exit 1; fi; \
	done

# The long runs, by hand (not part of `make test`): each target in turn for
# FUZZ_LONG_SECONDS, one at a time, growing its own corpus in
# build/fuzz/long/NAME (kept between runs; the seeds stay as committed), a
# crash's input in build/fuzz/artifacts/. One line per target: executions,
# exec/s, coverage (edges) and features, corpus size, clean or CRASH; the
# logs in build/fuzz/long/NAME.log. Fails at the end if any target crashed.
FUZZ_LONG_SECONDS ?= 300
fuzz-long: $(FUZZ_BINS)
	@mkdir -p $(BUILD)/fuzz/artifacts; bad=0; for n in $(FUZZ_NAMES); do \
		d=$(BUILD)/fuzz/long/$$n; log=$$d.log; mkdir -p "$$d"; \
		if $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_LONG_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/artifacts/$$n- "$$d" tests/fuzz/corpus-$$n \
			> "$$log" 2>&1; then res=clean; else res="CRASH (see $$log)"; bad=1; fi; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' "$$log"); \
		rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' "$$log"); \
		cov=$$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$$log" | tail -n 1); \
		printf '%-16s execs=%-11s exec/s=%-8s %-36s %s\n' fuzz_$$n "$${execs:-?}" \
			"$${rate:-?}" "$${cov:-cov: ?}" "$$res"; \
	done; exit $$bad

test-integration: all san
	bash tests/integration/run.sh

bench: all $(BUILD)/bench_classify $(BUILD)/bench_compile $(BUILD)/bench_audit $(BUILD)/ctlload $(BUILD)/prog_ns
	bash bench/run.sh

demo: all
	bash demo/demo.sh

# The Debian package (deploy/debian/build-deb.sh): build/ztgate_VERSION_ARCH.deb.
deb: all
	bash deploy/debian/build-deb.sh $(VERSION) $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/ztgated $(DESTDIR)$(PREFIX)/sbin/ztgated
	install -m 0755 $(BUILD)/ztgate $(DESTDIR)$(PREFIX)/bin/ztgate

clean:
	rm -rf $(BUILD)

# The container image (deploy/container/): FROM scratch, the binaries and
# exactly the libraries ldd finds for them; no registry is asked. Tagged
# ztgate:VERSION and ztgate:latest in the local containers storage (podman's).
IMAGE       ?= ztgate
IMAGE_CTX   := $(BUILD)/image
image: $(BUILD)/ztgated $(BUILD)/ztgate
	bash deploy/container/rootfs.sh $(IMAGE_CTX)/rootfs $(BUILD)/ztgated $(BUILD)/ztgate
	@old=$$(podman image inspect -f '{{.Id}}' $(IMAGE):latest 2>/dev/null || true); \
	set -ex; buildah build --quiet --layers=false --pull=never --format oci \
		--build-arg VERSION=$(VERSION) -f deploy/container/Containerfile \
		-t $(IMAGE):$(VERSION) -t $(IMAGE):latest $(IMAGE_CTX); \
	if [ -n "$$old" ] && [ "$$(podman image inspect -f '{{len .RepoTags}}' $$old 2>/dev/null)" = 0 ]; then \
		podman rmi $$old >/dev/null; fi	# the image this build replaced, left untagged

# Every manifest of deploy/kubernetes/ against the Kubernetes schemas, offline
# (tests/k8s/: npm's @kubernetes-models/validate, pinned by its lockfile).
k8s-validate:
	bash tests/k8s/validate.sh deploy/kubernetes

# Per-packet cost of the classifier vs. number of resources (BPF_PROG_RUN, XDP).
$(BUILD)/bench_classify: $(OBJ)/bench/bench_classify.o $(call obj,$(MODULE_SRCS)) $(BPF_OBJS)
	$(CC) $(CFLAGS) $(filter-out %.bpf.o,$^) -o $@ $(LDLIBS)

# An XDP program's in-kernel cost per packet in the real path (BPF run-time stats).
$(BUILD)/prog_ns: $(OBJ)/bench/prog_ns.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# What one policy change costs at 100,000 resources: full rewrite vs the diff.
$(BUILD)/bench_compile: $(OBJ)/bench/bench_compile.o $(call obj,$(MODULE_SRCS)) $(BPF_OBJS)
	$(CC) $(CFLAGS) $(filter-out %.bpf.o,$^) -o $@ $(LDLIBS)

# 10,000 nodes' connect and disconnect audit records (the controller's queue).
$(BUILD)/bench_audit: $(OBJ)/bench/bench_audit.o $(call obj,$(MODULE_SRCS)) $(BPF_OBJS)
	$(CC) $(CFLAGS) $(filter-out %.bpf.o,$^) -o $@ $(LDLIBS)

# The controller's load generator (bench/controller.sh): N light nodes in one process.
$(BUILD)/ctlload: $(OBJ)/bench/ctlload.o $(call obj,$(MODULE_SRCS)) $(BPF_OBJS)
	$(CC) $(CFLAGS) $(filter-out %.bpf.o,$^) -o $@ $(LDLIBS)

# Objects stay between runs (the dependency files name them).
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

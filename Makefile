# ztgate build. `make deps` installs everything from Debian's packages.
# Outputs go to build/ (normal) and build/san/ (ASan+UBSan, used by tests).

PREFIX      ?= /usr/local
BUILD       := build
CC          ?= gcc
CLANG       ?= clang
BPFTOOL     ?= bpftool
ARCH        := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

BORINGSSL_INC := /usr/include/android
BORINGSSL_LIB := /usr/lib/x86_64-linux-gnu/android

CFLAGS_COMMON := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -g \
	-I$(BUILD) -Ibpf -Idaemon -Icli -isystem $(BORINGSSL_INC)
CFLAGS      ?= -O2
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDLIBS      := -lbpf -lxdp -ljson-c -lelf -lz -lcares -lnftables \
	-L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto

BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux -Ibpf \
	-Wall -Wno-unused-function -Werror

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_HDRS    := $(wildcard bpf/*.h)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

# Daemon modules; main.c holds the role dispatch. The CLI and tests link
# the modules they need from here (one file per concern, no copies).
DAEMON_SRCS := $(wildcard daemon/*.c)
DAEMON_LIB  := $(filter-out daemon/main.c,$(DAEMON_SRCS))
DAEMON_HDRS := $(wildcard daemon/*.h)
CLI_SRCS    := $(wildcard cli/*.c)
# keygen/pubkey run without a daemon: keys (BoringSSL's X25519 and base64) link in.
# netcheck speaks STUN (daemon/stun.c) from its own socket.
CLI_LIB     := daemon/json_io.c daemon/keys.c daemon/noise.c daemon/stun.c daemon/addr.c
CLI_LDLIBS  := -ljson-c -lz -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto

UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/san/%,$(UNIT_SRCS))
BPFT_SRCS   := $(wildcard tests/bpf/test_*.c)
BPFT_BINS   := $(patsubst tests/bpf/%.c,$(BUILD)/san/%,$(BPFT_SRCS))

.PHONY: all deps test test-unit test-bpf test-integration test-fuzz bench demo \
	install clean vmlinux san

all: $(BUILD)/ztgated $(BUILD)/ztgate $(BPF_OBJS)

deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		make gcc clang llvm libbpf-dev libxdp-dev xdp-tools bpftool \
		libelf-dev zlib1g-dev pkg-config libc-ares-dev \
		android-libboringssl-dev libcmocka-dev libjson-c-dev libnftables-dev \
		libclang-rt-14-dev iproute2 nmap ncat nftables netsniff-ng \
		iperf3 hping3 dnsutils dnsmasq-base dnsperf jq curl tcpdump socat procps util-linux \
		iputils-ping python3 wireguard-go wireguard-tools conntrack coturn

# vmlinux.h is checked in; regenerate it on a kernel with BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

$(BUILD) $(BUILD)/san:
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/vmlinux.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The uplink guard's per-source bucket moves by compare-and-swap (BPF ISA v3 atomics).
$(BUILD)/zt_uplink.bpf.o: BPF_CFLAGS += -mcpu=v3

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/ztgated: $(DAEMON_SRCS) $(DAEMON_HDRS) $(BPF_SKELS) $(BPF_HDRS) | $(BUILD)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(DAEMON_SRCS) -o $@ $(LDLIBS)

$(BUILD)/ztgate: $(CLI_SRCS) $(CLI_LIB) $(DAEMON_HDRS) | $(BUILD)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(CLI_SRCS) $(CLI_LIB) -o $@ $(CLI_LDLIBS)

# Sanitizer builds: the daemon and CLI the integration test runs, and tests.
san: $(BUILD)/san/ztgated $(BUILD)/san/ztgate $(BUILD)/san/uplink_tool $(BUILD)/san/relay_tool

# The daemon's modules are compiled once for all sanitizer binaries: the
# daemon, every unit and BPF test and the test tools link the same objects
# (one compile per module instead of one per module per test: minutes off
# `make test`). Linking the objects, not an archive, keeps the weak stand-ins'
# semantics those binaries have always had.
SAN_OBJ_DIR         := $(BUILD)/san/obj
DAEMON_SAN_OBJS     := $(patsubst daemon/%.c,$(SAN_OBJ_DIR)/%.o,$(DAEMON_SRCS))
DAEMON_LIB_SAN_OBJS := $(filter-out $(SAN_OBJ_DIR)/main.o,$(DAEMON_SAN_OBJS))

$(SAN_OBJ_DIR):
	mkdir -p $@

$(SAN_OBJ_DIR)/%.o: daemon/%.c $(DAEMON_HDRS) $(BPF_SKELS) $(BPF_HDRS) | $(SAN_OBJ_DIR)
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) -c $< -o $@

$(BUILD)/san/ztgated: $(DAEMON_SAN_OBJS) | $(BUILD)/san
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) $(DAEMON_SAN_OBJS) -o $@ $(LDLIBS)

$(BUILD)/san/ztgate: $(CLI_SRCS) $(CLI_LIB) $(DAEMON_HDRS) | $(BUILD)/san
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) $(CLI_SRCS) $(CLI_LIB) -o $@ $(CLI_LDLIBS)

$(BUILD)/san/test_%: tests/unit/test_%.c $(DAEMON_LIB_SAN_OBJS) $(DAEMON_HDRS) $(BPF_SKELS) | $(BUILD)/san
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) $< $(DAEMON_LIB_SAN_OBJS) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/san/test_%: tests/bpf/test_%.c $(DAEMON_LIB_SAN_OBJS) $(DAEMON_HDRS) $(BPF_SKELS) $(BPF_OBJS) | $(BUILD)/san
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) $< $(DAEMON_LIB_SAN_OBJS) -o $@ $(LDLIBS) -lcmocka

# Integration-test helper: drives daemon/uplink.c, sends and receives tunnel-shaped UDP.
$(BUILD)/san/uplink_tool: tests/tools/uplink_tool.c $(DAEMON_LIB_SAN_OBJS) $(DAEMON_HDRS) $(BPF_SKELS) | $(BUILD)/san
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) $< $(DAEMON_LIB_SAN_OBJS) -o $@ $(LDLIBS)

# Integration-test helper: a relay peer on daemon/relay_client.c.
$(BUILD)/san/relay_tool: tests/tools/relay_tool.c $(DAEMON_LIB_SAN_OBJS) $(DAEMON_HDRS) $(BPF_SKELS) | $(BUILD)/san
	$(CC) $(CFLAGS_COMMON) -O1 $(SAN_FLAGS) $< $(DAEMON_LIB_SAN_OBJS) -o $@ $(LDLIBS)

test: test-unit test-bpf test-fuzz test-integration

test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

test-bpf: $(BPFT_BINS)
	@set -e; for t in $(BPFT_BINS); do echo "== $$t"; $$t; done

# libFuzzer over the control-socket framing, the policy file and the port and
# address grammars: a short run on every `make test`, longer by hand
# (make test-fuzz FUZZ_SECONDS=600).
FUZZ_SECONDS ?= 20
FUZZ_LIB := daemon/json_io.c daemon/policy.c daemon/ports.c daemon/addr.c daemon/dns_msg.c \
	daemon/keys.c daemon/noise.c

$(BUILD)/fuzz_policy: tests/fuzz/fuzz_policy.c $(FUZZ_LIB) $(DAEMON_HDRS) | $(BUILD)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ibpf -Idaemon \
		-isystem $(BORINGSSL_INC) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB) \
		-ljson-c -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto -o $@

# The DNS server's query parser and the upstream-answer walker.
FUZZ_DNS_LIB := daemon/dns_msg.c daemon/dns_cache.c daemon/addr.c

$(BUILD)/fuzz_dns: tests/fuzz/fuzz_dns.c $(FUZZ_DNS_LIB) $(DAEMON_HDRS) | $(BUILD)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ibpf -Idaemon \
		-fsanitize=fuzzer,address,undefined $< $(FUZZ_DNS_LIB) -o $@

# The STUN codec: what the relay's Binding service and the peers parse.
$(BUILD)/fuzz_stun: tests/fuzz/fuzz_stun.c daemon/stun.c $(DAEMON_HDRS) | $(BUILD)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ibpf -Idaemon \
		-isystem $(BORINGSSL_INC) -fsanitize=fuzzer,address,undefined $< daemon/stun.c \
		-lz -L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto -o $@

# The tunnel's wire codec and engine: what a connector's UDP port receives.
FUZZ_TUNNEL_LIB := daemon/tunnel.c daemon/tunnel_wire.c daemon/noise.c daemon/loop.c

$(BUILD)/fuzz_tunnel: tests/fuzz/fuzz_tunnel.c $(FUZZ_TUNNEL_LIB) $(DAEMON_HDRS) | $(BUILD)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ibpf -Idaemon \
		-isystem $(BORINGSSL_INC) -fsanitize=fuzzer,address,undefined $< $(FUZZ_TUNNEL_LIB) \
		-L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto -o $@

# The relay's messages: what the relay's port and a peer's relay input parse.
FUZZ_RELAY_LIB := daemon/relay_proto.c daemon/addr.c

$(BUILD)/fuzz_relay: tests/fuzz/fuzz_relay.c $(FUZZ_RELAY_LIB) $(DAEMON_HDRS) | $(BUILD)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ibpf -Idaemon \
		-isystem $(BORINGSSL_INC) -fsanitize=fuzzer,address,undefined $< $(FUZZ_RELAY_LIB) \
		-L$(BORINGSSL_LIB) -Wl,-rpath,$(BORINGSSL_LIB) -lcrypto -o $@

test-fuzz: $(BUILD)/fuzz_policy $(BUILD)/fuzz_dns $(BUILD)/fuzz_stun $(BUILD)/fuzz_tunnel \
		$(BUILD)/fuzz_relay
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	if $(BUILD)/fuzz_policy -max_total_time=$(FUZZ_SECONDS) "$$d" tests/fuzz/corpus \
		> "$$d.log" 2>&1; then tail -n 1 "$$d.log"; rm -f "$$d.log"; \
	else cat "$$d.log"; rm -f "$$d.log"; echo "fuzz_policy: FAILED"; exit 1; fi
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	if $(BUILD)/fuzz_dns -max_total_time=$(FUZZ_SECONDS) "$$d" tests/fuzz/corpus-dns \
		> "$$d.log" 2>&1; then tail -n 1 "$$d.log"; rm -f "$$d.log"; \
	else cat "$$d.log"; rm -f "$$d.log"; echo "fuzz_dns: FAILED"; exit 1; fi
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	if $(BUILD)/fuzz_stun -max_total_time=$(FUZZ_SECONDS) "$$d" tests/fuzz/corpus-stun \
		> "$$d.log" 2>&1; then tail -n 1 "$$d.log"; rm -f "$$d.log"; \
	else cat "$$d.log"; rm -f "$$d.log"; echo "fuzz_stun: FAILED"; exit 1; fi
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	if $(BUILD)/fuzz_tunnel -max_total_time=$(FUZZ_SECONDS) "$$d" tests/fuzz/corpus-tunnel \
		> "$$d.log" 2>&1; then tail -n 1 "$$d.log"; rm -f "$$d.log"; \
	else cat "$$d.log"; rm -f "$$d.log"; echo "fuzz_tunnel: FAILED"; exit 1; fi
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	if $(BUILD)/fuzz_relay -max_total_time=$(FUZZ_SECONDS) "$$d" tests/fuzz/corpus-relay \
		> "$$d.log" 2>&1; then tail -n 1 "$$d.log"; rm -f "$$d.log"; \
	else cat "$$d.log"; rm -f "$$d.log"; echo "fuzz_relay: FAILED"; exit 1; fi

test-integration: all san
	bash tests/integration/run.sh

bench: all
	bash bench/run.sh

demo: all
	bash demo/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/ztgate
	install -m 0755 $(BUILD)/ztgated $(DESTDIR)$(PREFIX)/sbin/ztgated
	install -m 0755 $(BUILD)/ztgate $(DESTDIR)$(PREFIX)/bin/ztgate

clean:
	rm -rf $(BUILD)

# Per-packet cost of the classifier vs. number of resources (BPF_PROG_RUN, XDP).
$(BUILD)/bench_classify: bench/bench_classify.c tests/bpf/zt_testlib.h $(DAEMON_LIB) $(DAEMON_HDRS) $(BPF_SKELS) $(BPF_OBJS) | $(BUILD)
	$(CC) $(CFLAGS_COMMON) -O2 $< $(DAEMON_LIB) -o $@ $(LDLIBS)

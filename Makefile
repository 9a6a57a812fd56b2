# lilac — one non-recursive Makefile.
#
# make            build every program into bin/ (installs missing Debian packages first):
#                 lilac-broker, lilac (the command), lilac-agent, lilac-notify-*
# make run        the broker in the foreground with configs/broker.conf
# make test       every unit and end-to-end test; ends with "N passed, N failed"
# make asan       the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
# make deps       install missing Debian packages with apt-get (silent when all present)
# make fuzz       libFuzzer harnesses of tests/fuzz (clang), FUZZ_SECONDS each (default 60);
#                 FUZZ_TARGETS picks some of: ingest control timespec json
#                 web_events web_purppura web_alertmanager web_act web_actions
#                 web_silence web_am_silence web_forwarded
# make chaos      fault injection under load (kill -9, full disk, replaced database):
#                 figures of what was lost; exit 1 on any loss (a few minutes, root);
#                 then ten takeovers of two brokers on PostgreSQL (test_failover)
# make install    programs, configs (never overwriting an edited one), systemd units and
#                 the lilac user's sysusers.d entry into DESTDIR/PREFIX (tools/install.sh)
# make deb        the Debian packages lilac and lilac-agent (debian/, dpkg-buildpackage) into ..
# make bench      the benchmarks of tests/bench against their raw baselines (a few minutes);
#                 the table goes to tests/bench/results.txt
#
# Package flags come from pkg-config inside recipes (recursive variables), so they
# are read after `deps` has installed pkg-config and the libraries.

DEB_PACKAGES = gcc make pkg-config libc6-dev libzmq3-dev libczmq-dev libmsgpack-dev libsqlite3-dev \
               libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev curl libcrypt-dev wrk \
               libpq-dev postgresql-15 \
               libgnutls28-dev openssl prometheus prometheus-alertmanager \
               chromium chromium-driver python3-selenium fonts-dejavu-core systemd \
               debhelper lintian scdoc iproute2 python3-aiosmtpd
#  libpq is the broker's (its PostgreSQL store, broker/store_pg.c); tests/pg
#  and bench_pg_* link it alone, without the rest of lilac.
PKGS = libczmq libzmq msgpack sqlite3 libpq libcurl libmicrohttpd jansson gnutls libxcrypt
PQ_CFLAGS = $(shell pkg-config --cflags libpq)
PQ_LIBS = $(shell pkg-config --libs libpq)

CC ?= gcc
BUILD ?= build
BIN ?= bin
SANITIZE ?=

WARNINGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wsign-compare -Werror
SANFLAGS = $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -MMD -MP $(WARNINGS) $(SANFLAGS) -Iproto $(PKG_CFLAGS) $(CFLAGS)
#  --as-needed: a program records only the libraries it uses (libcurl is the
#  Pushover notifier's alone; jansson goes only where JSON is read or written).
ALL_LDFLAGS = $(SANFLAGS) -Wl,--as-needed $(LDFLAGS)

PROTO_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard proto/*.c))
BROKER_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(filter-out broker/main.c,$(wildcard broker/*.c)))
AGENT_OBJ   = $(patsubst %.c,$(BUILD)/%.o,$(filter-out agent/main.c,$(wildcard agent/*.c)))
NOTIFY_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(filter-out notifiers/notify_%.c,$(wildcard notifiers/*.c)))
CLI_OBJ     = $(patsubst %.c,$(BUILD)/%.o,$(filter-out cli/main.c,$(wildcard cli/*.c)))
#  The web UI's files (web/ui) become C through tools/embed at build time.
UI_FILES    = $(sort $(wildcard web/ui/*))
WEB_OBJ     = $(patsubst %.c,$(BUILD)/%.o,$(filter-out web/main.c,$(wildcard web/*.c))) \
              $(BUILD)/gen/web_assets.o
HARNESS_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/harness/*.c))
LIBLILAC    = $(BUILD)/liblilac.a
LIBBROKER   = $(BUILD)/libbroker.a
LIBCLI      = $(BUILD)/libcli.a
LIBAGENT    = $(BUILD)/libagent.a
LIBNOTIFY   = $(BUILD)/libnotify.a
LIBWEB      = $(BUILD)/libweb.a

#  Man pages (scdoc) into $(BIN)/man, installed with the programs.
MAN_PAGES  = $(patsubst docs/man/%.scd,$(BIN)/man/%,$(wildcard docs/man/*.scd))
NOTIFIERS  = $(patsubst notifiers/notify_%.c,$(BIN)/lilac-notify-%,$(wildcard notifiers/notify_*.c))
PROGRAMS   = $(BIN)/lilac-broker $(BIN)/lilac $(BIN)/lilac-agent $(BIN)/lilac-web $(NOTIFIERS)
#  Unit and end-to-end tests build into directories of their own, so one
#  cannot replace another of the same name.
UNIT_TESTS = $(patsubst tests/unit/%.c,$(BIN)/test/unit/%,$(wildcard tests/unit/*.c))
E2E_TESTS  = $(patsubst tests/e2e/%.c,$(BIN)/test/e2e/%,$(wildcard tests/e2e/*.c))
#  The web UI in a real headless Chromium, driven by Selenium (Python scripts
#  that report "ok - " lines like the C tests).
UI_TESTS   = $(sort $(wildcard tests/ui/test_*.py))
#  Notifiers against local fakes of the services they call (an SMTP server
#  with python3-aiosmtpd, chat and webhook receivers): Python scripts too.
NOTIFY_TESTS = $(sort $(wildcard tests/notify/test_*.py))
#  make install into a scratch root, its units checked, its programs run;
#  the README's tour run as written.
INSTALL_TESTS = $(sort $(wildcard tests/install/test_*.sh tests/readme/test_*.sh))
#  Against a real PostgreSQL of their own (tests/lib/pg_cluster): C programs
#  through libpq, Python scripts through lilactest.PgCluster.
PG_TESTS   = $(patsubst tests/pg/%.c,$(BIN)/test/pg/%,$(wildcard tests/pg/*.c))
PG_SCRIPTS = $(sort $(wildcard tests/pg/test_*.py))
#  Local fakes of services outside lilac (a Pushover API), started by tests.
FAKES      = $(patsubst tests/fakes/%.c,$(BIN)/fakes/%,$(wildcard tests/fakes/*.c))
#  The fault-injection run of `make chaos`.
CHAOS      = $(BIN)/chaos/chaos
#  Load generators and raw baselines, run by tests/bench/run.
BENCHES    = $(patsubst tests/bench/%.c,$(BIN)/bench/%,$(wildcard tests/bench/*.c))

.PHONY: all deps run test asan clean fuzz fuzz-deps bench chaos install deb
all: $(PROGRAMS) $(MAN_PAGES)

$(BIN)/man/%: docs/man/%.scd | deps
	@mkdir -p $(dir $@)
	scdoc < $< > $@

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	  { echo "make deps: apt-get failed; install by hand:$$missing" >&2; exit 1; }; \
	fi

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBLILAC): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBBROKER): $(BROKER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBCLI): $(CLI_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBAGENT): $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIBNOTIFY): $(NOTIFY_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/tools/embed: tools/embed.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@

$(BUILD)/gen/web_assets.c: $(BUILD)/tools/embed $(UI_FILES)
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed $@ $(UI_FILES)

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	$(CC) $(ALL_CFLAGS) -Iweb -c $< -o $@

$(LIBWEB): $(WEB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BIN)/lilac-broker: $(BUILD)/broker/main.o $(LIBBROKER) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/lilac: $(BUILD)/cli/main.o $(LIBCLI) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/lilac-agent: $(BUILD)/agent/main.o $(LIBAGENT) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/lilac-web: $(BUILD)/web/main.o $(LIBWEB) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/lilac-notify-%: $(BUILD)/notifiers/notify_%.o $(LIBNOTIFY) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/test/unit/%: $(BUILD)/tests/unit/%.o $(LIBWEB) $(LIBNOTIFY) $(LIBAGENT) $(LIBCLI) $(LIBBROKER) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

#  The corpus replay and test_wire link the fuzz targets (tests/fuzz/targets.c),
#  which also cover lilac-web's decoders: its JSON mappers (web/ingest_map.c)
#  and the pure parsers of api_acts.c, api_silences.c and http.c. Those files
#  hold routes too, which call into web.c: tests/fuzz/web_stubs.c stands in
#  for it (each stub aborts; no target calls a route), so the rest of the
#  server stays out.
FUZZ_WEB_OBJ = tests/fuzz/web_stubs.o web/api_acts.o web/api_silences.o web/http.o web/ingest_map.o
$(BIN)/test/unit/test_fuzz_corpus $(BIN)/test/unit/test_wire: $(BIN)/test/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/fuzz/targets.o $(addprefix $(BUILD)/,$(FUZZ_WEB_OBJ)) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/test/e2e/%: $(BUILD)/tests/e2e/%.o $(HARNESS_OBJ) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/test/pg/%: $(BUILD)/tests/pg/%.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PQ_LIBS) -o $@

#  libpq's header and library for what talks to PostgreSQL.
$(BUILD)/tests/pg/%.o $(BUILD)/tests/bench/bench_pg_%.o: PKG_CFLAGS += $(PQ_CFLAGS)
$(BIN)/bench/bench_pg_%: PKG_LIBS += $(PQ_LIBS)

$(CHAOS): $(BUILD)/tests/chaos/chaos.o $(HARNESS_OBJ) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/fakes/%: $(BUILD)/tests/fakes/%.o $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

$(BIN)/bench/%: $(BUILD)/tests/bench/%.o $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

#  bench_apply runs the broker's core in process: it links the broker's library.
$(BIN)/bench/bench_apply: $(BUILD)/tests/bench/bench_apply.o $(LIBBROKER) $(LIBLILAC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -lm -o $@

#  PREFIX /usr/local; DESTDIR a staging root. Without DESTDIR, the lilac
#  user and group are made (systemd-sysusers) for the units' User=lilac.
PREFIX ?= /usr/local
install: $(PROGRAMS) $(MAN_PAGES)
	@DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" tools/install.sh $(BIN)
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	  systemd-sysusers $(PREFIX)/lib/sysusers.d/lilac.conf; fi

#  Binary packages, unsigned, into the parent directory (dpkg-buildpackage's way).
deb: deps
	dpkg-buildpackage -b -us -uc

run: $(PROGRAMS)
	@mkdir -p var
	$(BIN)/lilac-broker -c configs/broker.conf

test: $(PROGRAMS) $(MAN_PAGES) $(UNIT_TESTS) $(E2E_TESTS) $(PG_TESTS) $(FAKES)
	@LILAC_BIN=$(BIN) tests/run $(UNIT_TESTS) $(E2E_TESTS) $(PG_TESTS) $(PG_SCRIPTS) $(NOTIFY_TESTS) $(UI_TESTS) $(INSTALL_TESTS)

#  kill -9 of broker, agent and notifier under load, a full disk, a replaced
#  database; prints what was sent, lost, published, delivered; exit 1 on
#  any loss. CHAOS_SECONDS of kills (default 60); CHAOS_SEED repeats a run.
chaos: $(PROGRAMS) $(CHAOS) $(BIN)/test/e2e/test_failover
	@LILAC_BIN=$(BIN) $(CHAOS) $(CHAOS_SECONDS)
	@LILAC_BIN=$(BIN) FAILOVER_ROUNDS=10 $(BIN)/test/e2e/test_failover

bench: $(PROGRAMS) $(BENCHES) $(BIN)/test/e2e/test_failover
	@LILAC_BIN=$(BIN) BENCH_BIN=$(BIN)/bench tests/bench/run

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin \
	  SANITIZE=address,undefined test

#  Fuzzing: clang builds proto/ and the harnesses into build/fuzz; each harness
#  runs FUZZ_SECONDS on a working copy of tests/fuzz/corpus/NAME (new inputs go
#  to build/fuzz/corpus/NAME), crashes land in tests/fuzz/crashes/NAME/, then
#  the committed corpus is replaced by the -merge=1 minimization of both.
#  -max_len: 64 KiB for frames (a fast stand-in for the 256 KiB ZMQ_MAXMSGSIZE:
#  the decoders' limits are all far below it) and for HTTP answers (Pushover's
#  body limit), 64 bytes for time specs, 4 KiB for a forwarded case (its
#  target skips longer inputs).
FUZZ_PACKAGES = clang libclang-rt-dev
FUZZ_TARGETS ?= ingest control timespec json web_events web_purppura web_alertmanager \
                web_act web_actions web_silence web_am_silence web_forwarded
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN_ingest = 65536
FUZZ_MAX_LEN_control = 65536
FUZZ_MAX_LEN_json = 65536
FUZZ_MAX_LEN_web = 65536
FUZZ_MAX_LEN_web_forwarded = 4096
FUZZ_MAX_LEN_timespec = 64

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(FUZZ_PACKAGES)"

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz SANITIZE=address,undefined \
	  CFLAGS=-fsanitize=fuzzer-no-link $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@failed=""; for name in $(FUZZ_TARGETS); do \
	  work=build/fuzz/corpus/$$name; merged=build/fuzz/merged/$$name; \
	  mkdir -p tests/fuzz/corpus/$$name tests/fuzz/crashes/$$name $$work; \
	  rm -rf $$merged; mkdir -p $$merged; \
	  echo "make fuzz: $$name for $(FUZZ_SECONDS)s (log build/fuzz/$$name.log)"; \
	  case $$name in ingest) len=$(FUZZ_MAX_LEN_ingest);; control) len=$(FUZZ_MAX_LEN_control);; \
	    json) len=$(FUZZ_MAX_LEN_json);; web_forwarded) len=$(FUZZ_MAX_LEN_web_forwarded);; \
	    web_*) len=$(FUZZ_MAX_LEN_web);; \
	    *) len=$(FUZZ_MAX_LEN_timespec);; esac; \
	  build/fuzz/fuzz_$$name -max_total_time=$(FUZZ_SECONDS) -max_len=$$len -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=tests/fuzz/crashes/$$name/ \
	    $$work tests/fuzz/corpus/$$name >build/fuzz/$$name.log 2>&1 || failed="$$failed $$name"; \
	  build/fuzz/fuzz_$$name -merge=1 -max_len=$$len $$merged tests/fuzz/corpus/$$name $$work \
	    >>build/fuzz/$$name.log 2>&1 && \
	  rm -f tests/fuzz/corpus/$$name/* && cp $$merged/* tests/fuzz/corpus/$$name/; \
	  grep -h '^Done\|number_of_executed_units\|^==.*ERROR\|^SUMMARY' build/fuzz/$$name.log; \
	  echo "make fuzz: $$name corpus $$(ls tests/fuzz/corpus/$$name | wc -l) files," \
	    "crashes $$(ls tests/fuzz/crashes/$$name | wc -l)"; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: FINDINGS in$$failed (see tests/fuzz/crashes/)" >&2; exit 1; fi

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o build/fuzz/tests/fuzz/targets.o $(addprefix build/fuzz/,$(FUZZ_WEB_OBJ)) build/fuzz/liblilac.a
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer $^ $(PKG_LIBS) -lm -o $@

clean:
	rm -rf build bin

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

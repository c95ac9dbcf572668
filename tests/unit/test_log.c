/* SPDX-License-Identifier: MIT */
/* Unit tests for src/lib/log: levels, domains, rate limits, scrubbing, escaping and sinks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/time.h"

/* What the test sink saw. */
struct capture {
	int count;
	enum log_level level;
	unsigned domain;
	char line[4096];
};

static struct capture cap;

static void
capture_sink(void *ctx, enum log_level level, unsigned domain, const char *line)
{
	struct capture *c = ctx;

	c->count++;
	c->level = level;
	c->domain = domain;
	snprintf(c->line, sizeof(c->line), "%s", line);
}

static int
group_setup(void **state)
{
	(void)state;
	/* Keep the copies that go to the file sink out of the test output. */
	return log_set_file("/dev/null") == UM_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	return log_set_file(NULL) == UM_OK ? 0 : -1;
}

static int
reset(void **state)
{
	(void)state;
	memset(&cap, 0, sizeof(cap));
	log_set_level(UM_LOG_NOTICE);
	log_set_domains(LD_ALL);
	log_set_safe(true);
	log_set_sink(capture_sink, &cap);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
test_log_sink_receives_lines(void **state)
{
	(void)state;
	log_notice(LD_GENERAL, "hello %d %s", 42, "world");
	assert_int_equal(cap.count, 1);
	assert_int_equal(cap.level, UM_LOG_NOTICE);
	assert_int_equal(cap.domain, LD_GENERAL);
	assert_non_null(strstr(cap.line, "[notice] hello 42 world"));
	/* The line starts with an ISO 8601 UTC timestamp and has no newline. */
	assert_int_equal(cap.line[4], '-');
	assert_int_equal(cap.line[10], 'T');
	assert_non_null(strstr(cap.line, "Z [notice]"));
	assert_null(strchr(cap.line, '\n'));

	log_err(LD_LINK, "bad %s", "thing");
	assert_int_equal(cap.count, 2);
	assert_int_equal(cap.level, UM_LOG_ERR);
	assert_int_equal(cap.domain, LD_LINK);
	assert_non_null(strstr(cap.line, "[err] bad thing"));

	log_set_sink(NULL, NULL);
	log_err(LD_LINK, "not captured");
	assert_int_equal(cap.count, 2);
}

static void
test_log_debug_lines_name_the_function(void **state)
{
	(void)state;
	log_set_level(UM_LOG_DEBUG);
	log_debug(LD_DHT, "x=%d", 1);
	assert_int_equal(cap.count, 1);
	assert_non_null(strstr(cap.line, "[debug] test_log_debug_lines_name_the_function: x=1"));
}

static void
test_log_level_filtering(void **state)
{
	(void)state;
	log_set_level(UM_LOG_WARN);
	assert_int_equal(log_get_level(), UM_LOG_WARN);
	log_debug(LD_GENERAL, "d");
	log_info(LD_GENERAL, "i");
	log_notice(LD_GENERAL, "n");
	assert_int_equal(cap.count, 0);
	log_warn(LD_GENERAL, "w");
	assert_int_equal(cap.count, 1);
	log_err(LD_GENERAL, "e");
	assert_int_equal(cap.count, 2);

	log_set_level(UM_LOG_ERR);
	log_warn(LD_GENERAL, "w");
	assert_int_equal(cap.count, 2);
	assert_false(log_enabled(UM_LOG_WARN, LD_ALL));
	assert_true(log_enabled(UM_LOG_ERR, LD_GENERAL));

	log_set_level(UM_LOG_DEBUG);
	log_debug(LD_GENERAL, "d");
	log_info(LD_GENERAL, "i");
	log_notice(LD_GENERAL, "n");
	assert_int_equal(cap.count, 5);
	assert_non_null(strstr(cap.line, "[notice]"));
}

static void
test_log_domain_mask(void **state)
{
	(void)state;
	log_set_level(UM_LOG_DEBUG);
	log_set_domains(LD_LINK | LD_CRYPTO);
	assert_true(log_enabled(UM_LOG_DEBUG, LD_LINK));
	assert_true(log_enabled(UM_LOG_INFO, LD_CRYPTO));
	assert_true(log_enabled(UM_LOG_NOTICE, LD_DHT | LD_LINK));
	assert_false(log_enabled(UM_LOG_DEBUG, LD_DHT));
	assert_false(log_enabled(UM_LOG_INFO, LD_DHT));
	assert_false(log_enabled(UM_LOG_NOTICE, LD_DHT));

	log_debug(LD_DHT, "dropped");
	log_info(LD_SOCKS, "dropped");
	log_notice(LD_VPN, "dropped");
	assert_int_equal(cap.count, 0);
	log_info(LD_LINK, "kept");
	assert_int_equal(cap.count, 1);
	/* Warnings and errors always pass the domain mask. */
	log_warn(LD_DHT, "warn passes");
	assert_int_equal(cap.count, 2);
	assert_non_null(strstr(cap.line, "warn passes"));
	log_err(LD_SOCKS, "err passes");
	assert_int_equal(cap.count, 3);

	/* Even with every domain masked off. */
	log_set_domains(0);
	log_notice(LD_LINK, "dropped");
	assert_int_equal(cap.count, 3);
	log_warn(LD_LINK, "w");
	log_err(LD_BUG, "e");
	assert_int_equal(cap.count, 5);
	/* ... but not past the level. */
	log_set_level(UM_LOG_ERR);
	log_warn(LD_LINK, "w");
	assert_int_equal(cap.count, 5);
}

static void
test_log_ratelim_one_line_per_interval(void **state)
{
	struct log_ratelim rl = LOG_RATELIM_INIT(60 * 1000);

	(void)state;
	for (int i = 0; i < 100; i++)
		log_ratelim(&rl, UM_LOG_WARN, LD_LINK, "bad cell from peer %d", i);
	assert_int_equal(cap.count, 1);
	assert_non_null(strstr(cap.line, "[warn] bad cell from peer 0"));
	assert_null(strstr(cap.line, "suppressed"));
	assert_true(rl.suppressed == 99);

	/* Pretend the interval has passed (the arithmetic is modular, like the clock's). */
	rl.last_ms -= rl.interval_ms;
	log_ratelim(&rl, UM_LOG_WARN, LD_LINK, "bad cell from peer %d", 100);
	assert_int_equal(cap.count, 2);
	assert_non_null(
	        strstr(cap.line, "bad cell from peer 100 [99 similar message(s) suppressed]"));
	assert_true(rl.suppressed == 0);

	/* And a new interval starts there. */
	log_ratelim(&rl, UM_LOG_WARN, LD_LINK, "bad cell from peer %d", 101);
	assert_int_equal(cap.count, 2);
	assert_true(rl.suppressed == 1);
}

static void
test_log_ratelim_real_clock(void **state)
{
	struct log_ratelim rl = LOG_RATELIM_INIT(100);
	uint64_t start;

	(void)state;
	log_ratelim(&rl, UM_LOG_NOTICE, LD_DHT, "flood");
	start = um_mono_ms();
	log_ratelim(&rl, UM_LOG_NOTICE, LD_DHT, "flood");
	log_ratelim(&rl, UM_LOG_NOTICE, LD_DHT, "flood");
	assert_int_equal(cap.count, 1);
	assert_non_null(strstr(cap.line, "[notice] flood"));
	while (um_mono_ms() - start < 150)
		sleep_ms(20);
	log_ratelim(&rl, UM_LOG_NOTICE, LD_DHT, "flood");
	assert_int_equal(cap.count, 2);
	assert_non_null(strstr(cap.line, "flood [2 similar message(s) suppressed]"));
}

static void
test_log_ratelim_obeys_level_and_domain(void **state)
{
	struct log_ratelim rl = LOG_RATELIM_INIT(60 * 1000);

	(void)state;
	log_ratelim(&rl, UM_LOG_INFO, LD_LINK, "filtered by level");
	log_set_domains(LD_DHT);
	log_ratelim(&rl, UM_LOG_NOTICE, LD_LINK, "filtered by domain");
	assert_int_equal(cap.count, 0);
	/* Filtered calls neither emit nor start the interval. */
	assert_true(rl.last_ms == 0);
	assert_true(rl.suppressed == 0);
	log_ratelim(&rl, UM_LOG_WARN, LD_LINK, "emitted");
	assert_int_equal(cap.count, 1);
}

static void
test_log_safe_addr(void **state)
{
	(void)state;
	assert_true(log_is_safe());
	assert_string_equal(log_safe_addr("192.0.2.7:443"), "[scrubbed]");
	log_notice(LD_NET, "connecting to %s", log_safe_addr("192.0.2.7:443"));
	assert_non_null(strstr(cap.line, "connecting to [scrubbed]"));
	assert_null(strstr(cap.line, "192.0.2.7"));

	log_set_safe(false);
	assert_false(log_is_safe());
	assert_string_equal(log_safe_addr("192.0.2.7:443"), "192.0.2.7:443");
	log_notice(LD_NET, "connecting to %s", log_safe_addr("192.0.2.7:443"));
	assert_non_null(strstr(cap.line, "connecting to 192.0.2.7:443"));

	log_set_safe(true);
	assert_string_equal(log_safe_addr("[2001:db8::1]:80"), "[scrubbed]");
}

static void
test_log_escape(void **state)
{
	static const uint8_t in[] = { 'o',  'k',  ' ',  '\n', '\r', 0x00,
		                      0x1b, '\\', 0x7f, 0x80, 0xff, '~' };
	const char *expect = "ok \\x0a\\x0d\\x00\\x1b\\x5c\\x7f\\x80\\xff~";
	char out[128];

	(void)state;
	assert_ptr_equal(log_escape(in, sizeof(in), out, sizeof(out)), out);
	assert_string_equal(out, expect);
	assert_string_equal(log_escape("plain text", 10, out, sizeof(out)), "plain text");
	assert_string_equal(log_escape("", 0, out, sizeof(out)), "");
	/* in_len bounds the input, not a NUL. */
	assert_string_equal(log_escape("abcdef", 3, out, sizeof(out)), "abc");
}

static void
test_log_escape_truncates_safely(void **state)
{
	static const uint8_t in[] = { 'a', 0x01, 'b', 'c', 0xfe, '\\', 'd' };
	const char *full = "a\\x01bc\\xfe\\x5cd";
	size_t full_len = strlen(full);
	char out[64];

	(void)state;
	/* out_len 0: nothing is written, not even a NUL. */
	memset(out, '#', sizeof(out));
	assert_ptr_equal(log_escape(in, sizeof(in), out, 0), out);
	assert_int_equal(out[0], '#');

	for (size_t out_len = 1; out_len <= full_len + 1; out_len++) {
		size_t n;

		memset(out, '#', sizeof(out));
		log_escape(in, sizeof(in), out, out_len);
		n = strlen(out);
		/* NUL-terminated inside out_len, nothing written past it. */
		assert_true(n < out_len);
		for (size_t i = out_len; i < sizeof(out); i++)
			assert_int_equal(out[i], '#');
		/* A prefix of the full escape that never ends inside an escape sequence. */
		assert_memory_equal(out, full, n);
		assert_true(n == full_len || full[n] != 'x');
		assert_true(n == 0 || out[n - 1] != '\\');
		for (size_t i = 0; i < n; i++) {
			if (out[i] == '\\')
				assert_true(i + 3 < n);
		}
		/* The cut is greedy: the next piece really did not fit. */
		if (n < full_len) {
			size_t next = full[n] == '\\' ? 4 : 1;

			assert_true(n + next + 1 > out_len);
		}
	}
	log_escape(in, sizeof(in), out, full_len + 1);
	assert_string_equal(out, full);
}

static void
test_log_level_parse(void **state)
{
	static const char *const names[] = { "err", "warn", "notice", "info", "debug" };
	static const char *const bad[] = { "",        "e",     "warn ",    " warn",    "verbose",
		                           "notice2", "trace", "critical", "warnings", "0" };
	enum log_level level;

	(void)state;
	for (int i = 0; i < 5; i++) {
		level = (enum log_level) - 1;
		assert_int_equal(log_level_parse(names[i], &level), UM_OK);
		assert_int_equal(level, i);
		assert_string_equal(log_level_name((enum log_level)i), names[i]);
	}
	assert_int_equal(log_level_parse("DEBUG", &level), UM_OK);
	assert_int_equal(level, UM_LOG_DEBUG);
	assert_int_equal(log_level_parse("Notice", &level), UM_OK);
	assert_int_equal(level, UM_LOG_NOTICE);
	assert_int_equal(log_level_parse("warning", &level), UM_OK);
	assert_int_equal(level, UM_LOG_WARN);
	assert_int_equal(log_level_parse("WARNING", &level), UM_OK);
	assert_int_equal(level, UM_LOG_WARN);
	assert_int_equal(log_level_parse("error", &level), UM_OK);
	assert_int_equal(level, UM_LOG_ERR);
	assert_int_equal(log_level_parse("Error", &level), UM_OK);
	assert_int_equal(level, UM_LOG_ERR);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		level = UM_LOG_INFO;
		assert_int_equal(log_level_parse(bad[i], &level), UM_ERR_INVALID);
		assert_int_equal(level, UM_LOG_INFO);
	}
	assert_string_equal(log_level_name((enum log_level)5), "?");
	assert_string_equal(log_level_name((enum log_level) - 1), "?");
}

static void
test_log_preserves_errno(void **state)
{
	struct log_ratelim rl = LOG_RATELIM_INIT(1000);

	(void)state;
	errno = ECONNRESET;
	log_warn(LD_LINK, "read failed");
	assert_int_equal(errno, ECONNRESET);
	log_ratelim(&rl, UM_LOG_WARN, LD_LINK, "read failed");
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(cap.count, 2);
}

static void
test_log_long_message_is_cut(void **state)
{
	char big[5000];

	(void)state;
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_notice(LD_GENERAL, "%s|%s", big, "tail");
	assert_int_equal(cap.count, 1);
	assert_true(strlen(cap.line) < 2048);
	assert_null(strstr(cap.line, "tail"));
	assert_non_null(strstr(cap.line, "[notice] AAAA"));
}

static void
test_log_bug_false_is_silent(void **state)
{
	int x = 1;

	(void)state;
	if (UM_BUG(x != 1))
		fail();
	UM_ASSERT(x == 1);
	assert_int_equal(cap.count, 0);
}

static void
test_log_file_sink(void **state)
{
	char dir[] = "/tmp/umbra-test-log-XXXXXX";
	char path[64], text[256];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/umbra.log", dir);
	assert_int_equal(log_set_file(path), UM_OK);
	log_notice(LD_GENERAL, "to the file");
	log_warn(LD_GENERAL, "second");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "[notice] to the file\n"));
	assert_non_null(strstr(text, "[warn] second\n"));

	assert_int_equal(log_set_file("/nonexistent-dir/x/umbra.log"), UM_ERR_SYS);
	/* A failed switch keeps the current file. */
	log_notice(LD_GENERAL, "still here");
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "still here\n"));

	assert_int_equal(log_set_file("/dev/null"), UM_OK);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_log_sink_receives_lines, reset),
		cmocka_unit_test_setup(test_log_debug_lines_name_the_function, reset),
		cmocka_unit_test_setup(test_log_level_filtering, reset),
		cmocka_unit_test_setup(test_log_domain_mask, reset),
		cmocka_unit_test_setup(test_log_ratelim_one_line_per_interval, reset),
		cmocka_unit_test_setup(test_log_ratelim_real_clock, reset),
		cmocka_unit_test_setup(test_log_ratelim_obeys_level_and_domain, reset),
		cmocka_unit_test_setup(test_log_safe_addr, reset),
		cmocka_unit_test_setup(test_log_escape, reset),
		cmocka_unit_test_setup(test_log_escape_truncates_safely, reset),
		cmocka_unit_test_setup(test_log_level_parse, reset),
		cmocka_unit_test_setup(test_log_preserves_errno, reset),
		cmocka_unit_test_setup(test_log_long_message_is_cut, reset),
		cmocka_unit_test_setup(test_log_bug_false_is_silent, reset),
		cmocka_unit_test_setup(test_log_file_sink, reset),
	};

	return cmocka_run_group_tests_name("log", tests, group_setup, group_teardown);
}

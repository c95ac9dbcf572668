/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the flow- and congestion-control state machines (cc, sendme, flow) with arbitrary
 * event sequences and clocks: no byte parser here (SENDME/XON/XOFF parse in relay_msg, fuzzed
 * by fuzz_relay_msg), but every input is an event a peer or a clock can cause. Each 9-byte
 * record is an opcode and a 64-bit operand (time step, digest seed, byte count). Oracles:
 * the functions return only their documented errors, cwnd stays in [cwnd_min, cwnd_max],
 * inflight <= cwnd_max, the deliver window never goes negative, and UBSan sees no overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "circuit/cc.h"
#include "circuit/flow.h"
#include "circuit/sendme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
digest_from(uint64_t seed, uint8_t d[SENDME_DIGEST_LEN])
{
	for (int i = 0; i < SENDME_DIGEST_LEN; i++)
		d[i] = (uint8_t)(seed >> (8 * (i % 8)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_params p;
	struct flow_params fp;
	struct cc *cc;
	struct sendme_snd *snd;
	struct sendme_rcv *rcv;
	struct flow *fl;
	uint64_t now = 0;
	size_t buffered = 0;

	if (size < 1)
		return 0;
	cc_params_default(&p, (data[0] & 1) ? CC_PATH_ONION : CC_PATH_EXIT);
	flow_params_default(&fp, (data[0] & 2) ? FLOW_SIDE_EXIT : FLOW_SIDE_CLIENT);
	if (cc_new(&p, &cc) != UM_OK || sendme_snd_new(p.sendme_inc, p.cwnd_max, &snd) != UM_OK ||
	    sendme_rcv_new(p.sendme_inc, p.cwnd_max, &rcv) != UM_OK || flow_new(&fp, &fl) != UM_OK)
		abort();
	data++;
	size--;
	for (; size >= 9; data += 9, size -= 9) {
		uint64_t v = rd64(data + 1);
		uint8_t d[SENDME_DIGEST_LEN];
		struct relay_sendme m;
		struct relay_xon x;
		struct flow_out o;
		bool due;
		int ret;

		switch (data[0] % 12) {
		case 0: /* time passes (any amount, wrapping is the caller's clock's problem) */
			now += v >> (v & 63);
			break;
		case 1: /* the clock jumps back */
			now -= UM_MIN(now, v >> 20);
			break;
		case 2: /* send a DATA cell if allowed */
			digest_from(v, d);
			if (cc_can_send(cc)) {
				if (cc_on_data_sent(cc, now) != UM_OK)
					abort();
				ret = sendme_snd_on_data_sent(snd, 1 + v % sendme_snd_data_max(snd),
				                              d);
				if (ret != UM_OK && ret != UM_ERR_TOO_LARGE)
					abort();
			} else if (cc_on_data_sent(cc, now) != UM_ERR_STATE) {
				abort();
			}
			break;
		case 3: /* a SENDME with an arbitrary digest */
			digest_from(v, m.digest);
			ret = sendme_snd_on_sendme(snd, &m);
			if (ret != UM_OK && ret != UM_ERR_AUTH && ret != UM_ERR_PROTOCOL)
				abort();
			if (ret == UM_OK && cc_on_sendme(cc, now) != UM_OK &&
			    cc_inflight(cc) >= p.sendme_inc)
				abort();
			break;
		case 4: /* a bare cc SENDME */
			ret = cc_on_sendme(cc, now);
			if (ret != UM_OK && ret != UM_ERR_PROTOCOL)
				abort();
			break;
		case 5:
			if (v & 1)
				cc_on_blocked(cc);
			else
				cc_on_unblocked(cc);
			break;
		case 6: /* a DATA cell received */
			digest_from(v, d);
			ret = sendme_rcv_on_data(rcv, d, &due);
			if (ret != UM_OK && ret != UM_ERR_PROTOCOL)
				abort();
			break;
		case 7:
			ret = sendme_rcv_next(rcv, &m);
			if (ret != UM_OK && ret != UM_ERR_NOT_FOUND)
				abort();
			break;
		case 8: /* stream data queued toward the application */
			buffered += (size_t)(v % 100000);
			ret = flow_on_delivered(fl, buffered, now, &o);
			if (ret != UM_OK && ret != UM_ERR_PROTOCOL)
				abort();
			break;
		case 9: { /* the application drains */
			size_t w = UM_MIN(buffered, (size_t)(v % 1000000));

			buffered -= w;
			flow_on_drained(fl, w, buffered, now, &o);
			if (o.sig == FLOW_SIG_XOFF)
				abort();
			break;
		}
		case 10:
			flow_on_packaged(fl, (size_t)(v % 1000000));
			break;
		default:
			x.kbps_ewma = (uint32_t)v;
			ret = (v >> 32) & 1 ? flow_on_xoff(fl) : flow_on_xon(fl, &x);
			if (ret != UM_OK && ret != UM_ERR_PROTOCOL)
				abort();
			break;
		}
		if (cc_cwnd(cc) < p.cwnd_min || cc_cwnd(cc) > p.cwnd_max ||
		    cc_inflight(cc) > p.cwnd_max || sendme_rcv_window(rcv) < 0)
			abort();
	}
	flow_free(fl);
	sendme_rcv_free(rcv);
	sendme_snd_free(snd);
	cc_free(cc);
	return 0;
}

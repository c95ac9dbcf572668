/* SPDX-License-Identifier: MIT */
/* Clocks: monotonic milliseconds for timers and rate limits, wall seconds for certificates. */
#ifndef UM_LIB_TIME_H
#define UM_LIB_TIME_H

#include <stdint.h>

/* Milliseconds on the monotonic clock (arbitrary epoch, never jumps). */
uint64_t um_mono_ms(void);
/* Nanoseconds on the monotonic clock. */
uint64_t um_mono_ns(void);
/* Seconds since the Unix epoch (wall clock; may jump). */
uint64_t um_wall_s(void);
/* Milliseconds since the Unix epoch (wall clock; may jump). */
uint64_t um_wall_ms(void);

#endif /* UM_LIB_TIME_H */

/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.x response parser of the client (http_client.h): sans-I/O and incremental. Bytes
 * go in through a wire_rd, one at a time for the status, header, chunk-size and trailer
 * lines (buffered in a fixed line array, so a split anywhere gives the same result) and as
 * views for body data, which is appended to a capped lib/buf.
 *
 * Grammar (RFC 9112): status-line = HTTP-version SP 3DIGIT [SP reason-phrase] CRLF, with
 * HTTP/1.0 or HTTP/1.1 and a code 100-599; field-line = token ":" OWS value OWS CRLF. Lines
 * end with CRLF only: a bare CR or LF, obs-fold (a line starting with SP or HTAB), control
 * bytes, a space before the colon, a duplicate or non-decimal Content-Length, Content-Length
 * together with Transfer-Encoding, a coding other than "chunked" (we decode none), or
 * Transfer-Encoding in an HTTP/1.0 response are all rejected: each is a way two parsers can
 * disagree about where a message ends (response splitting, smuggling). 1xx responses are
 * parsed and dropped, except 101 (we never ask to switch protocols).
 *
 * Body framing: none after HEAD or for 204 and 304; else chunked, else Content-Length, else
 * up to EOF. Every length (Content-Length, each chunk size) is checked against what is left
 * of the cap before a byte of it is stored. Chunk extensions are checked for control bytes
 * and ignored; trailers are checked like headers, capped, and dropped.
 *
 * Not here: sockets and time (http_client.c), content codings, keep-alive, pipelining.
 */
#include "evloop/http_client.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/wire.h"

enum rp_state {
	RP_STATUS,     /* the status line */
	RP_HEADER,     /* header lines up to the empty line */
	RP_BODY_LEN,   /* body_left more bytes of a Content-Length body */
	RP_BODY_EOF,   /* body up to the end of the stream */
	RP_CHUNK_SIZE, /* a chunk-size line */
	RP_CHUNK_DATA, /* body_left more bytes of the current chunk */
	RP_CHUNK_CR,   /* the CR after chunk data */
	RP_CHUNK_LF,   /* the LF after chunk data */
	RP_TRAILER,    /* trailer lines up to the empty line */
	RP_DONE,
	RP_FAILED,
};

struct rp_field {
	size_t name_off; /* into hdrs: name, NUL, value, NUL */
	size_t value_off;
};

struct http_response_parser {
	enum rp_state state;
	int err; /* sticky error once RP_FAILED */
	size_t max_body;
	bool head_request;
	/* The current response (reset by a 1xx). */
	int status;
	bool http10;
	bool interim;
	bool has_cl;
	uint64_t cl;
	bool has_te;
	size_t n_fields;
	struct rp_field fields[HTTP_RP_HEADERS_MAX];
	struct buf hdrs;     /* field names and values, NUL-terminated */
	size_t header_bytes; /* status and header lines so far, 1xx included */
	size_t n_trailers;
	size_t trailer_bytes;
	uint64_t body_left;
	struct buf body;
	/* The line being read, without its CRLF; cr: its CR has been seen. */
	size_t line_len;
	bool cr;
	uint8_t line[HTTP_RP_LINE_MAX];
};

struct http_response_parser *
http_response_parser_new(size_t max_body, bool head_request)
{
	struct http_response_parser *p = um_xcalloc(1, sizeof(*p));

	p->state = RP_STATUS;
	p->max_body = max_body;
	p->head_request = head_request;
	buf_init(&p->hdrs, HTTP_RP_HEADER_BYTES_MAX);
	buf_init(&p->body, max_body);
	return p;
}

void
http_response_parser_free_(struct http_response_parser *p)
{
	if (p == NULL)
		return;
	buf_clear(&p->hdrs);
	buf_clear(&p->body);
	free(p);
}

/* ---- character classes (RFC 9110 5.6.2, 5.5) ---- */

static bool
is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB: visible ASCII, obs-text, and the two blanks. */
static bool
is_text(uint8_t c)
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

static bool
is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static int
hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- lines ---- */

/*
 * Move bytes from r into p->line until a CRLF. UM_OK with the line (CRLF stripped) in
 * p->line[0, line_len); UM_ERR_TRUNCATED when r ran out first (the bytes are kept);
 * UM_ERR_MALFORMED for a bare CR or LF; UM_ERR_TOO_LARGE once the line and its CRLF would
 * exceed cap.
 */
static int
take_line(struct http_response_parser *p, struct wire_rd *r, size_t cap)
{
	uint8_t c;

	while (wire_get_u8(r, &c) == UM_OK) {
		if (p->cr) {
			if (c != '\n')
				return UM_ERR_MALFORMED;
			p->cr = false;
			return UM_OK;
		}
		if (c == '\r') {
			p->cr = true;
			continue;
		}
		if (c == '\n')
			return UM_ERR_MALFORMED; /* bare LF: another parser may see a line here */
		if (p->line_len + 2 >= cap)
			return UM_ERR_TOO_LARGE;
		p->line[p->line_len++] = c;
	}
	return UM_ERR_TRUNCATED;
}

/* ---- status line ---- */

static int
parse_status_line(struct http_response_parser *p, const uint8_t *s, size_t n)
{
	struct wire_rd r;
	const uint8_t *v;
	uint8_t c;
	int code = 0;

	wire_rd_init(&r, s, n);
	if (wire_get_view(&r, 9, &v) != UM_OK)
		return UM_ERR_MALFORMED;
	if (memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1') || v[8] != ' ')
		return UM_ERR_MALFORMED;
	p->http10 = v[7] == '0';
	if (wire_get_view(&r, 3, &v) != UM_OK)
		return UM_ERR_MALFORMED;
	for (int i = 0; i < 3; i++) {
		if (v[i] < '0' || v[i] > '9')
			return UM_ERR_MALFORMED;
		code = code * 10 + (v[i] - '0');
	}
	if (code < 100 || code > 599)
		return UM_ERR_MALFORMED;
	/* We never send Upgrade: a 101 means the peer is not speaking to us in HTTP. */
	if (code == 101)
		return UM_ERR_MALFORMED;
	/* Then nothing, or SP and a reason phrase of text bytes (RFC 9112 4). */
	if (wire_rd_left(&r) > 0) {
		if (wire_get_u8(&r, &c) != UM_OK || c != ' ')
			return UM_ERR_MALFORMED;
		while (wire_get_u8(&r, &c) == UM_OK) {
			if (!is_text(c))
				return UM_ERR_MALFORMED;
		}
	}
	p->interim = code < 200;
	p->status = code;
	return UM_OK;
}

/* ---- header and trailer fields ---- */

/*
 * Split a field line into name and value (OWS trimmed) and check both. *name_len > 0 on
 * success. The name must touch the colon: "Name : v" is refused (RFC 9112 5.1).
 */
static int
split_field(const uint8_t *s, size_t n, size_t *name_len, size_t *value_off, size_t *value_len)
{
	size_t i = 0, end;

	*name_len = *value_off = *value_len = 0;
	if (n > 0 && is_ows(s[0]))
		return UM_ERR_MALFORMED; /* obs-fold: a continuation of the previous line */
	while (i < n && is_tchar(s[i]))
		i++;
	if (i == 0 || i == n || s[i] != ':')
		return UM_ERR_MALFORMED;
	*name_len = i;
	i++;
	while (i < n && is_ows(s[i]))
		i++;
	end = n;
	while (end > i && is_ows(s[end - 1]))
		end--;
	for (size_t j = i; j < end; j++) {
		if (!is_text(s[j]))
			return UM_ERR_MALFORMED;
	}
	*value_off = i;
	*value_len = end - i;
	return UM_OK;
}

static bool
name_is(const uint8_t *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp((const char *)s, name, n) == 0;
}

/* Content-Length = 1*DIGIT (RFC 9110 8.6): no sign, no list, no blanks inside. */
static int
parse_content_length(const uint8_t *s, size_t n, uint64_t *v)
{
	uint64_t acc = 0;

	*v = 0;
	if (n == 0)
		return UM_ERR_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		uint64_t d;

		if (s[i] < '0' || s[i] > '9')
			return UM_ERR_MALFORMED;
		d = (uint64_t)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return UM_ERR_MALFORMED;
		acc = acc * 10 + d;
	}
	*v = acc;
	return UM_OK;
}

static int
parse_header_line(struct http_response_parser *p, const uint8_t *s, size_t n)
{
	size_t name_len, value_off, value_len, off;
	const uint8_t *value;
	struct rp_field *f;
	int ret;

	if ((ret = split_field(s, n, &name_len, &value_off, &value_len)) != UM_OK)
		return ret;
	value = s + value_off;
	if (p->n_fields == HTTP_RP_HEADERS_MAX)
		return UM_ERR_TOO_LARGE;
	if (name_is(s, name_len, "content-length")) {
		/* Two lengths, even equal ones, or "5, 5": refuse rather than pick one. */
		if (p->has_cl)
			return UM_ERR_MALFORMED;
		if ((ret = parse_content_length(value, value_len, &p->cl)) != UM_OK)
			return ret;
		p->has_cl = true;
	} else if (name_is(s, name_len, "transfer-encoding")) {
		/* Only a lone "chunked": we decode no other coding, and a list or a second
		 * field would need merging rules two implementations may apply differently. */
		if (p->has_te || !name_is(value, value_len, "chunked"))
			return UM_ERR_MALFORMED;
		p->has_te = true;
	}
	/* Store "name\0value\0"; the header byte cap bounds hdrs too. */
	off = buf_len(&p->hdrs);
	if (name_len + value_len + 2 > HTTP_RP_HEADER_BYTES_MAX - off)
		return UM_ERR_TOO_LARGE;
	if (buf_append(&p->hdrs, s, name_len) != UM_OK || buf_append(&p->hdrs, "", 1) != UM_OK ||
	    buf_append(&p->hdrs, value, value_len) != UM_OK || buf_append(&p->hdrs, "", 1) != UM_OK)
		return UM_ERR_TOO_LARGE;
	f = &p->fields[p->n_fields++];
	f->name_off = off;
	f->value_off = off + name_len + 1;
	return UM_OK;
}

/* Forget the fields of a 1xx response before the next status line. */
static void
reset_fields(struct http_response_parser *p)
{
	p->status = 0;
	p->http10 = false;
	p->interim = false;
	p->has_cl = false;
	p->cl = 0;
	p->has_te = false;
	p->n_fields = 0;
	buf_consume(&p->hdrs, buf_len(&p->hdrs));
}

/* The empty line after the headers: pick the body framing (RFC 9112 6.3). */
static int
end_of_headers(struct http_response_parser *p)
{
	if (p->has_te && p->has_cl)
		return UM_ERR_MALFORMED;
	/* An HTTP/1.0 peer cannot send chunked; treat it as faulty (RFC 9112 6.1). */
	if (p->has_te && p->http10)
		return UM_ERR_MALFORMED;
	if (p->interim) {
		reset_fields(p);
		p->state = RP_STATUS;
		return UM_OK;
	}
	if (p->head_request || p->status == 204 || p->status == 304) {
		p->state = RP_DONE;
	} else if (p->has_te) {
		p->state = RP_CHUNK_SIZE;
	} else if (p->has_cl) {
		if (p->cl > p->max_body)
			return UM_ERR_TOO_LARGE;
		p->body_left = p->cl;
		p->state = p->cl == 0 ? RP_DONE : RP_BODY_LEN;
	} else {
		p->state = RP_BODY_EOF;
	}
	return UM_OK;
}

/* ---- chunks ---- */

/* chunk = chunk-size [ BWS ";" chunk-ext ] CRLF (RFC 9112 7.1, 7.1.1). */
static int
parse_chunk_size(struct http_response_parser *p, const uint8_t *s, size_t n)
{
	uint64_t size = 0;
	size_t i = 0;

	while (i < n && hex_value(s[i]) >= 0) {
		if (i == HTTP_RP_CHUNK_DIGITS_MAX)
			return UM_ERR_TOO_LARGE;
		size = size << 4 | (uint64_t)hex_value(s[i]);
		i++;
	}
	if (i == 0)
		return UM_ERR_MALFORMED;
	if (i < n) {
		/* Extensions: ignored, but no control bytes, and they must start with ';'. */
		while (i < n && is_ows(s[i]))
			i++;
		if (i == n || s[i] != ';')
			return UM_ERR_MALFORMED;
		for (; i < n; i++) {
			if (!is_text(s[i]))
				return UM_ERR_MALFORMED;
		}
	}
	/* Checked against what is left of the cap before any byte of the chunk is stored. */
	if (size > p->max_body - buf_len(&p->body))
		return UM_ERR_TOO_LARGE;
	p->body_left = size;
	p->state = size == 0 ? RP_TRAILER : RP_CHUNK_DATA;
	return UM_OK;
}

static int
parse_trailer_line(struct http_response_parser *p, const uint8_t *s, size_t n)
{
	size_t name_len, value_off, value_len;
	int ret;

	if (n == 0) {
		p->state = RP_DONE;
		return UM_OK;
	}
	if ((ret = split_field(s, n, &name_len, &value_off, &value_len)) != UM_OK)
		return ret;
	if (++p->n_trailers > HTTP_RP_TRAILERS_MAX)
		return UM_ERR_TOO_LARGE;
	return UM_OK;
}

/* ---- the state machine ---- */

/* Append up to body_left bytes from r to the body. */
static int
take_body(struct http_response_parser *p, struct wire_rd *r)
{
	size_t n = wire_rd_left(r);
	const uint8_t *v;

	if (p->state != RP_BODY_EOF && n > p->body_left)
		n = (size_t)p->body_left;
	if (n == 0)
		return UM_OK;
	if (wire_get_view(r, n, &v) != UM_OK)
		return UM_ERR_INTERNAL;
	/* The cap was checked against the declared length; an EOF body meets it here. */
	if (buf_append(&p->body, v, n) != UM_OK)
		return UM_ERR_TOO_LARGE;
	if (p->state != RP_BODY_EOF)
		p->body_left -= n;
	return UM_OK;
}

/* One step: consume what the current state can from r. UM_ERR_TRUNCATED: r is empty. */
static int
step(struct http_response_parser *p, struct wire_rd *r)
{
	uint8_t c;
	int ret;

	switch (p->state) {
	case RP_STATUS:
	case RP_HEADER:
	case RP_CHUNK_SIZE:
	case RP_TRAILER: {
		size_t cap = p->state == RP_CHUNK_SIZE ? HTTP_RP_CHUNK_LINE_MAX : HTTP_RP_LINE_MAX;
		size_t n;

		if ((ret = take_line(p, r, cap)) != UM_OK)
			return ret;
		n = p->line_len;
		p->line_len = 0;
		if (p->state == RP_STATUS || p->state == RP_HEADER) {
			if (n + 2 > HTTP_RP_HEADER_BYTES_MAX - p->header_bytes)
				return UM_ERR_TOO_LARGE;
			p->header_bytes += n + 2;
		}
		switch (p->state) {
		case RP_STATUS:
			if ((ret = parse_status_line(p, p->line, n)) != UM_OK)
				return ret;
			p->state = RP_HEADER;
			return UM_OK;
		case RP_HEADER:
			if (n == 0)
				return end_of_headers(p);
			return parse_header_line(p, p->line, n);
		case RP_CHUNK_SIZE:
			return parse_chunk_size(p, p->line, n);
		default:
			if (n + 2 > HTTP_RP_TRAILER_BYTES_MAX - p->trailer_bytes)
				return UM_ERR_TOO_LARGE;
			p->trailer_bytes += n + 2;
			return parse_trailer_line(p, p->line, n);
		}
	}
	case RP_BODY_LEN:
	case RP_CHUNK_DATA:
		if (wire_rd_left(r) == 0)
			return UM_ERR_TRUNCATED;
		if ((ret = take_body(p, r)) != UM_OK)
			return ret;
		if (p->body_left == 0)
			p->state = p->state == RP_BODY_LEN ? RP_DONE : RP_CHUNK_CR;
		return UM_OK;
	case RP_BODY_EOF:
		if (wire_rd_left(r) == 0)
			return UM_ERR_TRUNCATED;
		return take_body(p, r);
	case RP_CHUNK_CR:
	case RP_CHUNK_LF:
		if (wire_get_u8(r, &c) != UM_OK)
			return UM_ERR_TRUNCATED;
		if (c != (p->state == RP_CHUNK_CR ? '\r' : '\n'))
			return UM_ERR_MALFORMED; /* chunk data longer than its size said */
		p->state = p->state == RP_CHUNK_CR ? RP_CHUNK_LF : RP_CHUNK_SIZE;
		return UM_OK;
	case RP_DONE:
	case RP_FAILED:
		break;
	}
	return UM_ERR_INTERNAL;
}

ssize_t
http_response_parse(struct http_response_parser *p, const uint8_t *in, size_t len)
{
	struct wire_rd r;
	int ret;

	if (p->state == RP_FAILED)
		return p->err;
	if (p->state == RP_DONE || len == 0)
		return 0;
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX; /* consume what the return type can count */
	wire_rd_init(&r, in, len);
	while (p->state != RP_DONE) {
		ret = step(p, &r);
		if (ret == UM_ERR_TRUNCATED)
			break;
		if (ret != UM_OK) {
			p->err = ret;
			p->state = RP_FAILED;
			return ret;
		}
	}
	return (ssize_t)r.off;
}

int
http_response_parse_eof(struct http_response_parser *p)
{
	if (p->state == RP_FAILED)
		return p->err;
	if (p->state == RP_BODY_EOF)
		p->state = RP_DONE;
	return p->state == RP_DONE ? UM_OK : UM_ERR_TRUNCATED;
}

bool
http_response_is_done(const struct http_response_parser *p)
{
	return p->state == RP_DONE;
}

/* Whether the final response's fields are complete and may be shown. */
static bool
fields_ready(const struct http_response_parser *p)
{
	switch (p->state) {
	case RP_STATUS:
	case RP_HEADER:
	case RP_FAILED:
		return false;
	default:
		return true;
	}
}

int
http_response_status(const struct http_response_parser *p)
{
	return p->interim ? 0 : p->status;
}

const char *
http_response_header(const struct http_response_parser *p, const char *name)
{
	const char *base = (const char *)buf_data(&p->hdrs);

	if (!fields_ready(p))
		return NULL;
	for (size_t i = 0; i < p->n_fields; i++) {
		if (strcasecmp(base + p->fields[i].name_off, name) == 0)
			return base + p->fields[i].value_off;
	}
	return NULL;
}

size_t
http_response_n_headers(const struct http_response_parser *p)
{
	return fields_ready(p) ? p->n_fields : 0;
}

int
http_response_header_at(const struct http_response_parser *p, size_t i, const char **name,
                        const char **value)
{
	const char *base = (const char *)buf_data(&p->hdrs);

	*name = NULL;
	*value = NULL;
	if (!fields_ready(p) || i >= p->n_fields)
		return UM_ERR_NOT_FOUND;
	*name = base + p->fields[i].name_off;
	*value = base + p->fields[i].value_off;
	return UM_OK;
}

const uint8_t *
http_response_body(const struct http_response_parser *p, size_t *len)
{
	*len = buf_len(&p->body);
	return *len > 0 ? buf_data(&p->body) : (const uint8_t *)"";
}

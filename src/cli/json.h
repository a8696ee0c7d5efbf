/* SPDX-License-Identifier: MIT */
/*
 * A streaming JSON writer: output goes straight to a FILE, so memory stays
 * flat however many rows a command prints.
 */
#ifndef EPHPORT_CLI_JSON_H
#define EPHPORT_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
	FILE *f;
	unsigned int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_init(struct json *j, FILE *f);
/* KEY is NULL inside arrays and at the top level. */
void json_open(struct json *j, const char *key, char bracket);
void json_close(struct json *j, char bracket);
void json_str(struct json *j, const char *key, const char *val);
void json_int(struct json *j, const char *key, int64_t val);
void json_uint(struct json *j, const char *key, uint64_t val);
/* A number with DECIMALS digits after the point (VAL must be finite). */
void json_fixed(struct json *j, const char *key, double val, int decimals);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline. */
void json_end(struct json *j);

#define json_obj(j, key) json_open(j, key, '{')
#define json_obj_end(j) json_close(j, '}')
#define json_arr(j, key) json_open(j, key, '[')
#define json_arr_end(j) json_close(j, ']')

#endif

/* SPDX-License-Identifier: MIT */
/*
 * portcheck: a small program on libephport, built outside the tree against
 * the installed library:
 *
 *   cc -o portcheck portcheck.c $(pkg-config --cflags --libs libephport)
 *   ./portcheck 8080
 *
 * It prints the fullest destination of this namespace, the port pick
 * would give a service called "portcheck" here, then whether PORT can be
 * bound and the codes of the remedies if not. Exit status: 0 the port can
 * be bound, 1 it cannot, 2 an error.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ephport/ephport.h>

static int fullest(struct eph_ctx *ctx)
{
	const struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	const struct eph_snapshot *one;
	struct eph_snapshot *s = NULL;
	struct eph_ranking *r = NULL;
	const struct eph_rank_row *row;
	char local[64], remote[64];
	int rc = -1;

	if (eph_snapshot_new(ctx, &s) < 0 || eph_snapshot_take(s, 0) < 0)
		goto out;
	one = s;
	if (eph_ranking_new(&one, 1, &th, 1, &r) < 0)
		goto out;
	row = eph_ranking_get(r, 0);
	if (row)
		printf("fullest: %s -> %s:%u, %u of %u free (%s)\n",
		       eph_addr_format(row->tuple->local, local, sizeof(local)),
		       eph_addr_format(row->tuple->remote, remote,
				       sizeof(remote)),
		       row->tuple->remote_port, row->tuple->free,
		       row->tuple->capacity, eph_level_name(row->level));
	else
		printf("fullest: no destination uses the ephemeral range\n");
	rc = 0;
out:
	eph_ranking_free(r);
	eph_snapshot_free(s);
	return rc;
}

static int pick(struct eph_ctx *ctx)
{
	struct eph_pick_options opts = { 0 };
	struct eph_pick_result res;
	struct eph_pick *p = NULL;
	uint16_t port;
	int rc = -1;

	if (eph_os_parse_list(ctx, EPH_PICK_SYSTEMS_DEFAULT, &opts.systems) <
		    0 ||
	    eph_pick_new(ctx, &opts, &p) < 0 ||
	    eph_pick_run(p, "portcheck", 1, &port, &res) < 0)
		goto out;
	if (res.outcome == EPH_PICK_DONE)
		printf("pick: portcheck would get port %u\n", port);
	else
		printf("pick: no port passes every rule here\n");
	rc = 0;
out:
	eph_pick_free(p);
	return rc;
}

static int check(struct eph_ctx *ctx, uint16_t port)
{
	struct eph_diag_request req = { 0 };
	struct eph_diagnosis *d = NULL;
	int rc;

	req.port = port;
	req.owners = true;
	if (eph_diagnose(ctx, &req, &d) < 0)
		return -1;
	printf("port %u: %s\n", port,
	       eph_diagnosis_bindable(d) ? "can be bound" : "cannot be bound");
	for (size_t i = 0; i < eph_diagnosis_holder_count(d); i++)
		printf("  holder: %s\n",
		       eph_holder_kind_code(eph_diagnosis_holder(d, i)->kind));
	for (size_t i = 0; i < eph_diagnosis_remedy_count(d); i++)
		printf("  remedy: %s\n",
		       eph_remedy_code_name(eph_diagnosis_remedy(d, i)->code));
	rc = eph_diagnosis_bindable(d) ? 0 : 1;
	eph_diagnosis_free(d);
	return rc;
}

int main(int argc, char **argv)
{
	struct eph_ctx *ctx = NULL;
	uint64_t port;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: portcheck PORT\n");
		return 2;
	}
	if (eph_ctx_new(&ctx) < 0)
		return 2;
	printf("libephport %s\n", eph_version());
	if (eph_num_parse_str(ctx, argv[1], 1, 65535, "port", &port) < 0 ||
	    fullest(ctx) < 0 || pick(ctx) < 0 ||
	    (rc = check(ctx, (uint16_t)port)) < 0) {
		fprintf(stderr, "portcheck: %s\n", eph_ctx_errmsg(ctx));
		eph_ctx_free(ctx);
		return 2;
	}
	eph_ctx_free(ctx);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/* ephport without a command: the host overview, from one snapshot. */
#include "cli.h"
#include "json.h"
#include "shapes.h"

#define OVERVIEW_TOP 5

int cmd_overview(struct cli *cli, int argc, char **argv)
{
	const struct eph_thresholds th = EPH_THRESHOLDS_DEFAULT;
	struct eph_snapshot *s = NULL;
	const struct eph_snapshot *one;
	struct eph_ranking *rank = NULL;
	/* Who holds the fullest destinations' ports, by systemd unit, or by
	 * container where no unit names anything (docker's cgroupfs
	 * driver): both come with every socket and cost next to nothing. */
	static const enum eph_by kinds[] = { EPH_BY_UNIT, EPH_BY_CONTAINER };
	struct eph_consumers *who[2] = { NULL, NULL };
	struct shape_by by = { .per_dest = 2 };
	const struct shape_by *held = NULL;
	const char *label = "";
	char prefix[320];
	int rc = EXIT_OK;

	(void)argc;
	(void)argv;
	if (cli_apply_netns(cli) != EXIT_OK)
		return EXIT_ERROR;
	if (eph_snapshot_new(cli->ctx, &s) < 0)
		goto fail;
	for (size_t k = 0; k < 2; k++)
		if (eph_consumers_new(cli->ctx, kinds[k], NULL, &who[k]) < 0 ||
		    eph_consumers_watch(who[k], s) < 0)
			goto fail;
	if (eph_snapshot_take(s, EPH_SNAPSHOT_RISKS | EPH_SNAPSHOT_OWNERS |
					 EPH_SNAPSHOT_HISTORY) < 0)
		goto fail;
	one = s;
	by.snaps = &one;
	for (size_t k = 0; k < 2 && !held; k++) {
		if (eph_consumers_resolve(who[k]) < 0)
			goto fail;
		by.by = kinds[k];
		by.c = who[k];
		if (eph_consumers_named(who[k]))
			held = &by;
	}
	by.c = held ? held->c : who[0];
	by.by = held ? held->by : EPH_BY_UNIT;
	if (eph_ranking_new(&one, 1, &th, OVERVIEW_TOP, &rank) < 0) {
		rc = cli_error(cli, "ENOMEM", EXIT_ERROR, "out of memory");
		goto out;
	}
	if (cli->json) {
		struct json j;

		cli_json_begin(cli, &j);
		json_obj(&j, "ranges");
		shape_policy(&j, eph_snapshot_policy(s), false);
		json_obj_end(&j);
		json_obj(&j, "usage");
		shape_usage(&j, s);
		shape_snapshot_history(&j, s);
		/* Each tuple's consumers are counted by this kind. */
		json_str(&j, "by", eph_by_name(by.by));
		json_arr(&j, "tuples");
		for (size_t i = 0; i < eph_ranking_shown(rank); i++)
			shape_tuple(&j, eph_ranking_get(rank, i), NULL, &by);
		json_arr_end(&j);
		json_obj_end(&j);
		shape_audit(&j, eph_snapshot_audit(s), eph_snapshot_policy(s));
		cli_json_finish(&j);
		goto out;
	}
	cli_heading(cli, "ephport host overview");
	cli_section(stdout, "Ports");
	shape_policy_text(eph_snapshot_policy(s), stdout);
	shape_warnings_text(eph_snapshot_policy(s), stdout);
	cli_section(stdout, "Ephemeral port usage");
	shape_usage_text(s, "", stdout);
	shape_snapshot_history_text(s, "", stdout);
	cli_section(stdout, "Fullest destinations");
	shape_table_text(rank, &label, false, held, stdout);
	printf("\n");
	cli_heading(cli, "Server ports at risk");
	shape_audit_text(eph_snapshot_audit(s), eph_snapshot_policy(s), 0,
			 eph_ctx_netns_is_boot(cli->ctx) > 0,
			 cli_prefix(cli, prefix, sizeof(prefix)), stdout);
	printf("\n");
	{
		/* The commands name the namespace looked at, pasted as is. */
		char more[1280];

		cli_prefix(cli, prefix, sizeof(prefix));
		snprintf(more, sizeof(more),
			 "More: '%sranges' for TIME_WAIT settings and other "
			 "systems' ranges; '%susage' for every destination; "
			 "'%swhy PORT' for one port.",
			 prefix, prefix, prefix);
		cli_wrap(stdout, "", more);
	}
out:
	eph_ranking_free(rank);
	eph_consumers_free(who[0]);
	eph_consumers_free(who[1]);
	eph_snapshot_free(s);
	return rc;
fail:
	rc = cli_fail(cli, NULL);
	goto out;
}

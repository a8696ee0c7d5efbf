/* SPDX-License-Identifier: MIT */
/* ephport without a command: the host overview. */
#include "cli.h"
#include "json.h"

int cmd_overview(struct cli *cli, int argc, char **argv)
{
	struct eph_policy *p;
	int rc;

	(void)argc;
	(void)argv;
	rc = ranges_load(cli, &p);
	if (rc != EXIT_OK)
		return rc;
	if (cli->json) {
		struct json j;

		cli_json_begin(cli, &j);
		json_obj(&j, "ranges");
		ranges_json(p, &j, false);
		json_obj_end(&j);
		rc = usage_overview(cli, &j);
		if (audit_overview(cli, p, &j) != EXIT_OK)
			rc = EXIT_FAIL;
		cli_json_finish(&j);
	} else {
		cli_heading(cli, "ephport host overview");
		printf("\nPorts\n");
		ranges_print_summary(p, stdout);
		ranges_print_warnings(p, stdout);
		rc = usage_overview(cli, NULL);
		if (audit_overview(cli, p, NULL) != EXIT_OK)
			rc = EXIT_FAIL;
		printf("\nMore: 'ephport ranges' for TIME_WAIT settings and "
		       "other systems' ranges; 'ephport usage' for every "
		       "destination; 'ephport why PORT' for one port.\n");
	}
	eph_policy_free(p);
	return rc;
}
